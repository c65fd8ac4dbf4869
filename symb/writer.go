package symb

import (
	"fmt"
	"os"
	"path/filepath"
)

// Writer streams one tensor into a .symb file. The file is written under a
// temporary name next to its destination and renamed only by Commit, so a
// crash or an Abort never leaves a file that looks complete.
//
// Sections may be written in any order and in pieces (WriteData(off, p) writes
// p at offset off of the data section), which lets a quantizer running on
// several goroutines write rows as they are ready. Commit fails unless every
// byte of every section was written exactly once.
type Writer struct {
	f       *os.File
	path    string
	h       Header
	written [3]int64
}

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
	if err := f.Truncate(h.FileSize()); err != nil {
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
	if w.f == nil {
		return fmt.Errorf("%s: write after Commit or Abort", w.path)
	}
	base, size := w.section(sec)
	if off < 0 || off > size || int64(len(p)) > size-off {
		return fmt.Errorf("%s: write of %d bytes at %d overflows the %d-byte %s section", w.path, len(p), off, size, sectionNames[sec])
	}
	if _, err := w.f.WriteAt(p, base+off); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	w.written[sec] += int64(len(p))
	return nil
}

// Commit checks that every section was filled, closes the file and renames it
// into place.
func (w *Writer) Commit() error {
	if w.f == nil {
		return fmt.Errorf("%s: Commit after Commit or Abort", w.path)
	}
	for i := range w.written {
		if _, size := w.section(i); w.written[i] != size {
			err := fmt.Errorf("%s: %d of %d bytes of the %s section written", w.path, w.written[i], size, sectionNames[i])
			w.Abort()
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
