//go:build !unix

package convert

import (
	"io"
	"os"
)

// mapFile reads the file into memory where no mmap is wired up (Windows,
// wasm); peak memory is then the size of the checkpoint.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

func release([]byte)  {}
func willNeed([]byte) {}
