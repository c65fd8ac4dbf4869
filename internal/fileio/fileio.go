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
// it is opened: opening a FIFO for reading blocks until a writer comes, in a
// system call that no context or signal handler can interrupt. The file is
// opened non-blocking as well, so one swapped for a FIFO after the check
// cannot block either, and checked again once open. Errors from os.Stat
// are returned as they are, so callers can test them with
// errors.Is(err, os.ErrNotExist).
func OpenRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, notRegular(path, st.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, 0, err
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, notRegular(path, st.Mode())
	}
	return f, st.Size(), nil
}

func notRegular(path string, m os.FileMode) error {
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a folder, not a regular file"
	case m&os.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO), not a regular file"
	case m&os.ModeDevice != 0:
		kind = "a device, not a regular file"
	case m&os.ModeSocket != 0:
		kind = "a socket, not a regular file"
	}
	return fmt.Errorf("%s: %s", path, kind)
}

// ReadLimited reads a whole file that is expected to be small (a JSON
// config or index), refusing one larger than limit bytes so that a wrong
// or hostile file cannot make the caller allocate without bound.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, size, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", path, size, limit)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
