// Package fileio holds the file plumbing that symb, convert and arch share:
// opening a file that must be a regular one, reading a small file with a
// size cap, and mapping a large one read-only.
package fileio

import (
	"fmt"
	"os"
)

// OpenRegular opens path for reading and returns it with its size. A path
// that is not a regular file (a folder, a device, a pipe) is refused before
// anything is mapped or read from it. Errors from os.Open are returned as
// they are, so callers can test them with errors.Is(err, os.ErrNotExist).
func OpenRegular(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	return f, st.Size(), nil
}

// ReadLimited reads a whole file that is expected to be small (a JSON
// config or index), refusing one larger than limit bytes so that a wrong
// or hostile file cannot make the caller allocate without bound.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", path, st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
