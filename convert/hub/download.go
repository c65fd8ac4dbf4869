package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/internal/filelock"
)

// fetchFile resolves filename at revision with a HEAD request, then links or
// downloads its blob, and returns the snapshot path.
func (c *Client) fetchFile(ctx context.Context, rc repoCache, repo, revision, filename string) (string, error) {
	meta, err := c.headFile(ctx, rc, repo, revision, filename)
	if err != nil {
		return "", err
	}
	if err := rc.writeRef(revision, meta.commit); err != nil {
		return "", err
	}
	if p, ok := rc.cachedFile(meta.commit, filename); ok {
		return p, nil
	}
	w := what{repo: repo, revision: revision, file: filename}
	newBlob, err := c.fetchBlob(ctx, rc, w, meta)
	if err != nil {
		return "", err
	}
	return rc.linkSnapshot(meta.commit, filename, meta.etag, newBlob)
}

// fetchAll fetches names at commit with up to c.jobs downloads at once. The
// first failure cancels the others, which leave their partial files to be
// resumed later.
func (c *Client) fetchAll(ctx context.Context, rc repoCache, repo, commit string, names []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.jobs)
	for _, name := range names {
		if _, ok := rc.cachedFile(commit, name); ok {
			continue
		}
		g.Go(func() error {
			_, err := c.fetchFile(gctx, rc, repo, commit, name)
			return err
		})
	}
	err := g.Wait()
	// When the caller cancelled, say so rather than whichever download
	// noticed first.
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("download of %s interrupted: %w", repo, ctxErr)
	}
	return err
}

// fetchBlob makes blobs/<etag> hold the file's content. It reports whether
// it wrote the blob now (false when another run already had it).
func (c *Client) fetchBlob(ctx context.Context, rc repoCache, w what, meta *fileMeta) (bool, error) {
	unlock, err := filelock.Lock(ctx, rc.lockPath(meta.etag))
	if err != nil {
		return false, fmt.Errorf("fetching %s: %w", w, err)
	}
	defer unlock()

	blob := rc.blobPath(meta.etag)
	if st, err := os.Stat(blob); err == nil && st.Mode().IsRegular() && st.Size() == meta.size {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return false, fmt.Errorf("create blob folder for %s: %w", w, err)
	}
	partial, err := c.download(ctx, w, blob, meta)
	if err != nil {
		return false, err
	}
	if err := os.Rename(partial, blob); err != nil {
		// Where file locks are not honoured (some network file systems)
		// another process may have stored the same blob first.
		if st, serr := os.Stat(blob); serr == nil && st.Size() == meta.size {
			return false, nil
		}
		return false, fmt.Errorf("store blob of %s: %w", w, err)
	}
	return true, nil
}

// Partial files next to blobs/<etag>: the Hub's own client resumes
// <etag>.incomplete from its length, so only sequential downloads write
// there; parallel parts go to <etag>.ranged (preallocated, so its length
// says nothing) with their progress in <etag>.ranged.parts.
const (
	incompleteSuffix = ".incomplete"
	rangedSuffix     = ".ranged"
	partsSuffix      = ".ranged.parts"
)

// download fetches the file into a partial file next to blob and returns
// its name: in parallel ranged parts when the file is large (unless a
// sequential download left a partial file to resume), else, or when the
// server ignores Range, as one stream resumed from the partial file's
// length. The result is checked against the SHA-256 that an LFS file's etag
// is; bytes that fail the check are deleted, never resumed from.
func (c *Client) download(ctx context.Context, w what, blob string, meta *fileMeta) (string, error) {
	verify := sha256Pattern.MatchString(meta.etag)
	if c.splits(meta.size) {
		_, serr := os.Stat(blob + partsSuffix)
		st, ierr := os.Stat(blob + incompleteSuffix)
		if serr == nil || ierr != nil || st.Size() == 0 {
			got, err := c.rangedFile(ctx, w, blob, meta, verify)
			if err == nil {
				return blob + rangedSuffix, checkSum(w, got, meta.etag, verify, blob+rangedSuffix, blob+partsSuffix)
			}
			if !errors.Is(err, errNoRanges) {
				return "", err
			}
		}
	}
	partial := blob + incompleteSuffix
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", partial, err)
	}
	d := &transfer{c: c, w: w, f: f, url: meta.location, size: meta.size}
	if verify {
		d.sum = sha256.New()
	}
	err = d.run(ctx)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", partial, cerr)
	}
	if errors.Is(err, ErrChecksum) {
		os.Remove(partial)
	}
	if err != nil {
		return "", err
	}
	var got string
	if verify {
		got = hex.EncodeToString(d.sum.Sum(nil))
	}
	return partial, checkSum(w, got, meta.etag, verify, partial)
}

// rangedFile runs a parallel download into blob.ranged and returns the
// SHA-256 of the result when verify is set. With errNoRanges, both partial
// files are gone.
func (c *Client) rangedFile(ctx context.Context, w what, blob string, meta *fileMeta, verify bool) (string, error) {
	name := blob + rangedSuffix
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", name, err)
	}
	err = c.rangedDownload(ctx, w, f, blob+partsSuffix, meta)
	var got string
	if err == nil && verify {
		if got, err = hashFile(f, meta.size); err != nil {
			err = fmt.Errorf("read %s: %w", name, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", name, cerr)
	}
	if errors.Is(err, errNoRanges) || errors.Is(err, ErrChecksum) {
		os.Remove(name)
		os.Remove(blob + partsSuffix)
	}
	if err == nil {
		os.Remove(blob + partsSuffix)
	}
	return got, err
}

// checkSum compares the SHA-256 of a finished download with the etag and
// deletes the partial files when they differ.
func checkSum(w what, got, etag string, verify bool, partials ...string) error {
	if !verify || got == etag {
		return nil
	}
	for _, p := range partials {
		os.Remove(p)
	}
	return fmt.Errorf("%w: %s has SHA-256 %s, expected %s; the partial file was deleted, run again to download it anew",
		ErrChecksum, w, got, etag)
}

// errStalled marks a transfer that received nothing for stallTimeout.
var errStalled = errors.New("no data received")

// transfer is one blob download into a .incomplete file, resumed from its
// current length with a Range request.
type transfer struct {
	c      *Client
	w      what
	f      *os.File
	url    *url.URL
	size   int64
	offset int64
	sum    hash.Hash // SHA-256 of bytes 0..offset when verifying
}

func (d *transfer) run(ctx context.Context) error {
	st, err := d.f.Stat()
	if err != nil {
		return fmt.Errorf("stat partial download of %s: %w", d.w, err)
	}
	d.offset = st.Size()
	if d.offset > d.size {
		if err := d.restart(); err != nil {
			return err
		}
	}
	if d.sum != nil && d.offset > 0 {
		// The resumed part is hashed from disk so the final check covers
		// the whole file, not just the bytes of this run.
		if _, err := io.Copy(d.sum, io.NewSectionReader(d.f, 0, d.offset)); err != nil {
			return fmt.Errorf("read partial download of %s: %w", d.w, err)
		}
	}
	err = d.c.retrying(ctx, d.w, func() int64 { return d.offset }, d.size, d.attempt)
	if err != nil {
		return err
	}
	d.progress()
	return nil
}

// restart drops what is on disk; used when the server ignores Range.
func (d *transfer) restart() error {
	if err := d.f.Truncate(0); err != nil {
		return fmt.Errorf("reset partial download of %s: %w", d.w, err)
	}
	d.offset = 0
	if d.sum != nil {
		d.sum.Reset()
	}
	return nil
}

// attempt runs one GET from d.offset and appends what arrives.
func (d *transfer) attempt(ctx context.Context) error {
	err := d.c.fetchRange(ctx, d.w, d.url, d.offset, -1, func(whole bool) error {
		if whole && d.offset > 0 {
			// The server ignored Range: start over rather than append the
			// file's beginning to its middle.
			if err := d.restart(); err != nil {
				return err
			}
		}
		if _, err := d.f.Seek(d.offset, io.SeekStart); err != nil {
			return fmt.Errorf("seek in partial download of %s: %w", d.w, err)
		}
		d.progress()
		return nil
	}, func(p []byte) error {
		if d.offset+int64(len(p)) > d.size {
			return fmt.Errorf("%w: %s: the server sent more than the expected %d bytes", ErrChecksum, d.w, d.size)
		}
		if _, err := d.f.Write(p); err != nil {
			return fmt.Errorf("write partial download of %s: %w", d.w, err)
		}
		if d.sum != nil {
			d.sum.Write(p)
		}
		d.offset += int64(len(p))
		d.progress()
		return nil
	})
	if errors.Is(err, errRangeRefused) {
		if err := d.restart(); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s: the server refused to resume, starting over", ErrNetwork, d.w)
	}
	return err
}

// errRangeRefused marks a 416 answer to a ranged request.
var errRangeRefused = errors.New("the server refused the byte range")

// fetchRange GETs the bytes from..to (to < 0: to the end; from 0 to the end
// sends no Range header) of u. begin is called once the answer is known
// good, before any byte, with whole set when the server sent the whole file
// (200) instead of the range; write gets the body as it arrives. A transfer
// receiving nothing for the stall timeout is abandoned with ErrNetwork.
func (c *Client) fetchRange(parent context.Context, w what, u *url.URL, from, to int64,
	begin func(whole bool) error, write func([]byte) error) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	stall := time.AfterFunc(c.stallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()

	var header http.Header
	if from > 0 || to >= 0 {
		r := "bytes=" + strconv.FormatInt(from, 10) + "-"
		if to >= 0 {
			r += strconv.FormatInt(to, 10)
		}
		header = http.Header{"Range": {r}}
	}
	resp, err := c.do(ctx, http.MethodGet, u, header, false, w)
	if err != nil {
		if context.Cause(ctx) == errStalled {
			return fmt.Errorf("%w: %s: no answer for %s", ErrNetwork, w, c.stallTimeout)
		}
		return err
	}
	defer resp.Body.Close()

	whole := false
	switch {
	case resp.StatusCode == http.StatusOK:
		whole = true
	case resp.StatusCode == http.StatusPartialContent && header != nil:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != from {
			return fmt.Errorf("%w: %s: asked for bytes from %d, got range %q", ErrHTTP, w, from, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && header != nil:
		return fmt.Errorf("%s: %w", w, errRangeRefused)
	default:
		return c.statusError(resp, w)
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return fmt.Errorf("%w: %s: the server sent %s-encoded content although none was accepted", ErrHTTP, w, enc)
	}
	if err := begin(whole); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(c.stallTimeout)
			if err := write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			if context.Cause(ctx) == errStalled && parent.Err() == nil {
				return fmt.Errorf("%w: %s: %v for %s", ErrNetwork, w, errStalled, c.stallTimeout)
			}
			return c.netError(parent, rerr, resp.Request, w)
		}
	}
}

func (d *transfer) progress() {
	if d.c.progress != nil {
		d.c.progress(d.w.file, d.offset, d.size)
	}
}

// contentRangeStart parses the first byte of "bytes START-END/TOTAL".
func contentRangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	startText, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(startText, 10, 64)
	return n, err == nil && n >= 0
}

// retryable tells transient failures (network, server overload) from final
// answers (missing file, denied access, corrupted bytes).
func retryable(err error) bool {
	if errors.Is(err, ErrNetwork) {
		return true
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusRequestTimeout || he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	return false
}

func backoff(failures int) time.Duration {
	d := 100 * time.Millisecond << min(failures-1, 6)
	return min(d, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
