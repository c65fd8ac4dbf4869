// Package fileio holds the file plumbing the packages share: opening a file
// that must be a regular one, reading a small file with a size cap, mapping
// a large one read-only, and writing a small one atomically.
package fileio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// WriteAtomic writes b to path through a hidden temporary file in the same
// folder and a rename, so that a reader (or a crash) never sees half a file.
// The file gets mode perm and is synced before the rename; the temporary
// file is removed on any failure.
func WriteAtomic(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	// CreateTemp makes the file 0600; shared files need perm.
	merr := f.Chmod(perm)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, merr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
