package symb

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/symbc/symbc/internal/fileio"
)

// File is an open, mapped .symb file. Its Tensor stays valid until Close.
type File struct {
	Header
	tensor  Tensor
	release func() error
}

// Open maps a .symb file and validates its header against the file size.
// Errors name the file.
func Open(path string) (*File, error) {
	f, size, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size < HeaderSize {
		// Too short to be valid; let ParseHeader say why (foreign file,
		// unknown version or truncation) exactly as it would for a long one.
		b := make([]byte, size)
		if _, err := io.ReadFull(f, b); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := ParseHeader(b, size); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("%s: %w: %d bytes is shorter than the %d-byte header", path, ErrCorrupt, size, HeaderSize)
	}
	b, release, err := fileio.Map(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: map: %w", path, err)
	}
	h, err := ParseHeader(b, size)
	if err != nil {
		release()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := Tensor{Name: nameFromPath(path), Info: h.Info}
	t.Data = b[h.DataOffset : h.DataOffset+h.DataSize : h.DataOffset+h.DataSize]
	if h.ScalesSize > 0 {
		t.Scales = b[h.ScalesOffset : h.ScalesOffset+h.ScalesSize : h.ScalesOffset+h.ScalesSize]
	}
	if h.MinsSize > 0 {
		t.Mins = b[h.MinsOffset : h.MinsOffset+h.MinsSize : h.MinsOffset+h.MinsSize]
	}
	return &File{Header: h, tensor: t, release: release}, nil
}

// Tensor returns the zero-copy view of the file's tensor.
func (f *File) Tensor() *Tensor { return &f.tensor }

// Close unmaps the file; views returned by Tensor must not be used afterwards.
func (f *File) Close() error {
	if f.release == nil {
		return errors.New("symb: file already closed")
	}
	err := f.release()
	f.release = nil
	return err
}

func nameFromPath(p string) string {
	return strings.TrimSuffix(filepath.Base(p), Ext)
}
