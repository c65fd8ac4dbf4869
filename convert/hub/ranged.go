package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/internal/fileio"
)

// Parallel ranged downloads: a file larger than partSize is cut into parts
// of partSize bytes, fetched over up to c.connections HTTP Range requests
// at once and written in place into the preallocated <blob>.ranged file. How
// far each part got is kept in <blob>.ranged.parts, so an interrupted
// download resumes every part where it stopped. Memory stays bounded: one
// 256 KiB buffer per connection.

const (
	defaultConnections = 4
	defaultPartSize    = 64 << 20
	partsSaveEvery     = 16 << 20 // bytes a part receives between saves of the .parts file
)

// errNoRanges marks a server that answers a ranged request with the whole
// file: the download falls back to one sequential stream.
var errNoRanges = errors.New("the server ignores byte ranges")

// partsState is the .parts file: the layout of the parts and the bytes each
// has on disk, counted from its first byte.
type partsState struct {
	Size     int64   `json:"size"`
	PartSize int64   `json:"part_size"`
	Done     []int64 `json:"done"`
}

func (p *partsState) bounds(i int) (start, end int64) {
	start = int64(i) * p.PartSize
	return start, min(start+p.PartSize, p.Size)
}

// splits reports whether a file of size bytes is fetched in parts.
func (c *Client) splits(size int64) bool {
	return c.connections > 1 && size > c.partSize
}

// loadParts returns the recorded state when it matches the file's layout
// and the partial file on disk, else a fresh one (and an empty file).
func (c *Client) loadParts(f *os.File, statePath string, size int64) (*partsState, error) {
	fresh := &partsState{Size: size, PartSize: c.partSize, Done: make([]int64, (size+c.partSize-1)/c.partSize)}
	var st partsState
	b, err := fileio.ReadLimited(statePath, 16<<20)
	if err == nil && json.Unmarshal(b, &st) == nil && st.Size == size && st.PartSize == c.partSize && len(st.Done) == len(fresh.Done) {
		ok := true
		for i, d := range st.Done {
			start, end := st.bounds(i)
			ok = ok && d >= 0 && d <= end-start
		}
		if fi, err := f.Stat(); ok && err == nil && fi.Size() == size {
			return &st, nil
		}
	}
	if err := f.Truncate(0); err != nil {
		return nil, err
	}
	if err := f.Truncate(size); err != nil {
		return nil, err
	}
	return fresh, nil
}

// rangedDownload fills f (blob.ranged) with the file's bytes in parts,
// recording their progress in statePath. It returns errNoRanges when the
// server ignores Range.
func (c *Client) rangedDownload(ctx context.Context, w what, f *os.File, statePath string, meta *fileMeta) error {
	st, err := c.loadParts(f, statePath, meta.size)
	if err != nil {
		return fmt.Errorf("prepare partial download of %s: %w", w, err)
	}
	var mu sync.Mutex // guards st and the progress calls
	var total int64
	for _, d := range st.Done {
		total += d
	}
	save := func() error {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return fileio.WriteAtomic(statePath, b, 0o644)
	}
	mu.Lock()
	err = save()
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("record the parts of %s: %w", w, err)
	}
	report := func() {
		if c.progress != nil {
			c.progress(w.file, total, meta.size)
		}
	}
	report()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.connections)
	for i := range st.Done {
		start, end := st.bounds(i)
		if st.Done[i] == end-start {
			continue
		}
		g.Go(func() error {
			var sinceSave int64
			return c.retrying(gctx, w, func() int64 {
				mu.Lock()
				defer mu.Unlock()
				return st.Done[i]
			}, end-start, func(ctx context.Context) error {
				mu.Lock()
				from := start + st.Done[i]
				mu.Unlock()
				return c.fetchRange(ctx, w, meta.location, from, end-1, func(whole bool) error {
					if whole {
						return errNoRanges
					}
					return nil
				}, func(p []byte) error {
					mu.Lock()
					defer mu.Unlock()
					at := start + st.Done[i]
					if at+int64(len(p)) > end {
						return fmt.Errorf("%w: %s: the server sent more than bytes %d-%d", ErrChecksum, w, start, end-1)
					}
					if _, err := f.WriteAt(p, at); err != nil {
						return fmt.Errorf("write partial download of %s: %w", w, err)
					}
					st.Done[i] += int64(len(p))
					total += int64(len(p))
					sinceSave += int64(len(p))
					report()
					if sinceSave >= partsSaveEvery || at+int64(len(p)) == end {
						sinceSave = 0
						if err := save(); err != nil {
							return fmt.Errorf("record the parts of %s: %w", w, err)
						}
					}
					return nil
				})
			})
		})
	}
	err = g.Wait()
	if errors.Is(err, errNoRanges) {
		return errNoRanges
	}
	if ctx.Err() != nil {
		return fmt.Errorf("download of %s interrupted: %w", w, ctx.Err())
	}
	return err
}

// retrying runs attempt until done() reaches want, retrying transient
// failures with backoff; progress between failures resets the count, as in
// the sequential transfer.
func (c *Client) retrying(ctx context.Context, w what, done func() int64, want int64, attempt func(context.Context) error) error {
	failures := 0
	for done() < want {
		before := done()
		err := attempt(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("download of %s interrupted: %w", w, ctx.Err())
		}
		if err != nil && !retryable(err) {
			return err
		}
		if done() >= want {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%w: %s: the connection closed at byte %d of %d", ErrNetwork, w, done(), want)
		}
		if done() > before {
			failures = 0
		}
		failures++
		if failures > c.retries {
			return err
		}
		if err := sleep(ctx, backoff(failures)); err != nil {
			return fmt.Errorf("download of %s interrupted: %w", w, err)
		}
	}
	return nil
}

// hashFile is the lowercase hex SHA-256 of f's content.
func hashFile(f *os.File, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
