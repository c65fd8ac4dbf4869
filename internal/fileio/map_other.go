//go:build !unix && !windows

package fileio

import (
	"io"
	"os"
)

// Map reads the first size bytes of f into memory where no mmap is wired up
// (wasm, plan9); peak memory is then the size of the file.
func Map(f *os.File, size int64) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

// DontNeed does nothing where the file was read rather than mapped.
func DontNeed([]byte) {}

// WillNeed does nothing where the file was read rather than mapped.
func WillNeed([]byte) {}

// openNonblock is only needed where FIFOs can block an open.
const openNonblock = 0
