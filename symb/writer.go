package symb

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Writer streams one tensor into a .symb file. The file is written under a
// temporary name next to its destination and renamed only by Commit, so a
// crash or an Abort never leaves a file that looks complete.
//
// Sections may be written in any order and in pieces (WriteData(off, p) writes
// p at offset off of the data section), which lets a quantizer running on
// several goroutines write rows as they are ready: the Write methods may be
// called concurrently. A write that overlaps an earlier one fails, and Commit
// fails unless every byte of every section was written exactly once.
type Writer struct {
	path string
	h    Header

	// mu guards the file's lifetime: writes hold it shared so that several
	// goroutines can write at once; Commit and Abort hold it exclusively, so
	// they never close the file under an in-flight write.
	mu  sync.RWMutex
	f   *os.File
	err error // first failed write; Commit reports it

	spanMu sync.Mutex
	done   [3][]span // written byte ranges per section: sorted, disjoint, merged
}

// span is a half-open byte range [lo, hi) of a section.
type span struct{ lo, hi int64 }

// Create starts a .symb file for a tensor described by in.
func Create(path string, in Info) (*Writer, error) {
	h, err := NewHeader(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hb, err := h.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, path: path, h: h}
	// Truncate first so alignment gaps read as zeros, as FORMAT.md requires.
	// CreateTemp makes the file 0600; a model folder is meant to be shared.
	if err := f.Truncate(h.FileSize()); err != nil {
		w.Abort()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		w.Abort()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.WriteAt(hb, 0); err != nil {
		w.Abort()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// Header returns the layout the file will have.
func (w *Writer) Header() Header { return w.h }

// WriteData writes p at offset off of the data section.
func (w *Writer) WriteData(off int64, p []byte) error { return w.write(0, off, p) }

// WriteScales writes p at offset off of the scales section.
func (w *Writer) WriteScales(off int64, p []byte) error { return w.write(1, off, p) }

// WriteMins writes p at offset off of the mins section.
func (w *Writer) WriteMins(off int64, p []byte) error { return w.write(2, off, p) }

var sectionNames = [3]string{"data", "scales", "mins"}

func (w *Writer) section(i int) (off, size int64) {
	switch i {
	case 0:
		return w.h.DataOffset, w.h.DataSize
	case 1:
		return w.h.ScalesOffset, w.h.ScalesSize
	}
	return w.h.MinsOffset, w.h.MinsSize
}

func (w *Writer) write(sec int, off int64, p []byte) error {
	base, size := w.section(sec)
	if off < 0 || off > size || int64(len(p)) > size-off {
		return fmt.Errorf("%s: write of %d bytes at %d overflows the %d-byte %s section", w.path, len(p), off, size, sectionNames[sec])
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.f == nil {
		return fmt.Errorf("%s: write after Commit or Abort", w.path)
	}
	if err := w.claim(sec, off, off+int64(len(p))); err != nil {
		return err
	}
	if _, err := w.f.WriteAt(p, base+off); err != nil {
		err = fmt.Errorf("%s: %w", w.path, err)
		w.spanMu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.spanMu.Unlock()
		return err
	}
	return nil
}

// claim records [lo, hi) of section sec as written. Writing a byte twice is an
// error: it almost always means a caller computed a wrong offset, and counting
// bytes alone would then let a file with an unwritten hole pass Commit.
func (w *Writer) claim(sec int, lo, hi int64) error {
	if lo == hi {
		return nil
	}
	w.spanMu.Lock()
	defer w.spanMu.Unlock()
	s := w.done[sec]
	i := sort.Search(len(s), func(i int) bool { return s[i].lo >= lo })
	if (i > 0 && s[i-1].hi > lo) || (i < len(s) && s[i].lo < hi) {
		return fmt.Errorf("%s: bytes [%d, %d) of the %s section written twice", w.path, lo, hi, sectionNames[sec])
	}
	joinLeft := i > 0 && s[i-1].hi == lo
	joinRight := i < len(s) && s[i].lo == hi
	switch {
	case joinLeft && joinRight:
		s[i-1].hi = s[i].hi
		s = append(s[:i], s[i+1:]...)
	case joinLeft:
		s[i-1].hi = hi
	case joinRight:
		s[i].lo = lo
	default:
		s = append(s, span{})
		copy(s[i+1:], s[i:])
		s[i] = span{lo, hi}
	}
	w.done[sec] = s
	return nil
}

// written is the number of bytes of section sec written so far.
func (w *Writer) written(sec int) int64 {
	w.spanMu.Lock()
	defer w.spanMu.Unlock()
	var n int64
	for _, s := range w.done[sec] {
		n += s.hi - s.lo
	}
	return n
}

// Commit checks that every section was filled, closes the file and renames it
// into place. On any error the temporary file is removed.
func (w *Writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("%s: Commit after Commit or Abort", w.path)
	}
	if w.err != nil {
		w.abortLocked()
		return w.err
	}
	for i := range w.done {
		if _, size := w.section(i); w.written(i) != size {
			err := fmt.Errorf("%s: %d of %d bytes of the %s section written", w.path, w.written(i), size, sectionNames[i])
			w.abortLocked()
			return err
		}
	}
	tmp := w.f.Name()
	if err := w.f.Close(); err != nil {
		w.f = nil
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", w.path, err)
	}
	w.f = nil
	if err := os.Rename(tmp, w.path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Abort discards the temporary file. It is safe to call after Commit.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.abortLocked()
}

func (w *Writer) abortLocked() {
	if w.f == nil {
		return
	}
	tmp := w.f.Name()
	w.f.Close()
	os.Remove(tmp)
	w.f = nil
}

// WriteFile writes a whole tensor held in memory (sections as in Tensor).
func WriteFile(path string, t *Tensor) error {
	if err := t.Check(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	w, err := Create(path, t.Info)
	if err != nil {
		return err
	}
	for i, p := range [][]byte{t.Data, t.Scales, t.Mins} {
		if len(p) == 0 {
			continue
		}
		if err := w.write(i, 0, p); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Commit()
}
