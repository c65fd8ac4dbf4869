// Package filelock takes advisory, cancellable, exclusive locks on files,
// so that two processes (or two goroutines) sharing a cache or a store take
// turns: flock on Unix, LockFileEx on Windows.
package filelock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Lock takes an exclusive lock on path (creating it and its folder), waiting
// until the lock is free or ctx ends. Two processes, or two goroutines of one
// process, writing the same thing thus take turns; the second finds it done.
// The lock is advisory and released by unlock or process exit.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create lock folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	// Polling instead of a blocking lock call keeps the wait cancellable.
	wait := 10 * time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return func() { unlockFile(f); f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// TryLock takes the lock on an existing file without waiting: ok is false
// (and err nil) when another holder has it. It never creates path.
func TryLock(path string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, err
	}
	ok, err = tryLock(f)
	if err != nil || !ok {
		f.Close()
		return nil, false, err
	}
	return func() { unlockFile(f); f.Close() }, true, nil
}
