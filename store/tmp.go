package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/symbc/symbc/internal/filelock"
)

// tmp/ holds the folders of fetches and removals in progress. Each folder
// tmp/NAME is owned through the lock file tmp/NAME.lock, locked (flock,
// LockFileEx) for as long as its run lives: the operating system releases
// the lock when the process dies, however it dies, so the next run tells a
// crashed run's leftovers (lock free) from a live run's folder (lock held)
// and removes only the former.
const (
	lockSuffix = ".lock"
	// lockless folders (left by a symbc older than the lock files) are
	// removed once they are this old.
	locklessAge = time.Hour
)

// workDir creates a folder in tmp/ owned by this run until release, which
// removes it.
func (s *Store) workDir(ctx context.Context, prefix string) (dir string, release func(), err error) {
	tmp := filepath.Join(s.root, tmpDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", nil, err
	}
	for {
		f, err := os.CreateTemp(tmp, prefix+"*"+lockSuffix)
		if err != nil {
			return "", nil, err
		}
		lock := f.Name()
		f.Close()
		unlock, err := filelock.Lock(ctx, lock)
		if err != nil {
			os.Remove(lock)
			return "", nil, err
		}
		// A sweep that saw the fresh file before it was locked may have
		// removed it: then the lock guards nothing and another name is
		// taken.
		if _, err := os.Stat(lock); err != nil {
			unlock()
			continue
		}
		dir = strings.TrimSuffix(lock, lockSuffix)
		if err := os.Mkdir(dir, 0o755); err != nil {
			unlock()
			os.Remove(lock)
			return "", nil, err
		}
		return dir, func() {
			os.RemoveAll(dir)
			os.Remove(lock)
			unlock()
		}, nil
	}
}

// sweepTmp removes what runs that died left in tmp/: folders whose lock no
// process holds, lock files without a live owner, and folders without a
// lock file older than locklessAge. Two runs sweeping at once take turns
// per folder through its lock. It is best effort and returns what it
// removed.
func (s *Store) sweepTmp() []string {
	tmp := filepath.Join(s.root, tmpDir)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		if folder, ok := strings.CutSuffix(name, lockSuffix); ok {
			unlock, free, err := filelock.TryLock(filepath.Join(tmp, name))
			if err != nil || !free {
				continue
			}
			if os.RemoveAll(filepath.Join(tmp, folder)) == nil && os.Remove(filepath.Join(tmp, name)) == nil {
				if names[folder] {
					removed = append(removed, folder)
				}
			}
			unlock()
			continue
		}
		if names[name+lockSuffix] || !e.IsDir() {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > locklessAge && adopt(tmp, name) {
			removed = append(removed, name)
		}
	}
	return removed
}

// adopt removes the lockless folder tmp/name under a lock file of its own,
// created exclusively, so that of two sweepers exactly one removes it. It
// reports whether this call did.
func adopt(tmp, name string) bool {
	lock := filepath.Join(tmp, name+lockSuffix)
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return false // another sweeper adopted it
	}
	f.Close()
	unlock, ok, err := filelock.TryLock(lock)
	if err != nil || !ok {
		return false // a sweeper that saw the lock file took it meanwhile
	}
	defer unlock()
	if err := os.RemoveAll(filepath.Join(tmp, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false
	}
	os.Remove(lock)
	return true
}
