// Package partial lets a command that builds a folder next to its final
// place (convert's .OUT.partial-*, pull's .DIR.pull) own that place while
// it works, and clean up after runs that died: SIGKILL, a power cut or an
// out-of-memory kill leave their partial folders behind, and the next run
// for the same output removes them (or, for pull, resumes from them).
//
// Ownership is an advisory lock on the hidden file .BASE.lock beside the
// output (flock on Unix, LockFileEx on Windows), so the operating system
// releases it when its process dies, however it dies; the file holds the
// owner's pid for people looking. Two runs for the same output take turns:
// the second waits (cancellably) until the first is done. The owner removes
// the lock file when done; a waiter that then gets the lock of the removed
// file notices and locks the new one instead.
package partial

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LockPath is the lock file of output folder out.
func LockPath(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".lock")
}

// Lock takes the lock of output folder out, waiting while another process
// (or goroutine) holds it, until ctx ends. unlock releases it and removes
// the lock file.
func Lock(ctx context.Context, out string) (unlock func(), err error) {
	p := LockPath(out)
	unlock, err = lockFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	return unlock, nil
}

// Dir is the fixed partial folder of out for kind: .BASE.KIND beside it.
func Dir(out, kind string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+"."+kind)
}

// Sweep removes what dead runs for out left beside it: folders named
// .BASE.KIND-* or .BASE.KIND for each kind. A folder set aside while
// replacing out (.BASE.old-*) is put back when out itself is missing
// (the run died between the two renames), else removed. Call it with
// the lock held.
func Sweep(out string, kinds ...string) error {
	parent, base := filepath.Dir(out), filepath.Base(out)
	ents, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		for _, kind := range append(kinds, "old") {
			prefix := "." + base + "." + kind
			if name != prefix && !strings.HasPrefix(name, prefix+"-") {
				continue
			}
			p := filepath.Join(parent, name)
			if kind == "old" {
				if err := restoreOld(p, out); err != nil {
					return err
				}
				continue
			}
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("removing %s, left by an earlier run: %w", p, err)
			}
		}
	}
	return nil
}

// restoreOld puts a set-aside folder back in place of a missing out, or
// removes it. convert sets the folder aside as old/x, pull as old itself.
func restoreOld(old, out string) error {
	if _, err := os.Lstat(out); errors.Is(err, os.ErrNotExist) {
		src := old
		if _, err := os.Lstat(filepath.Join(old, "x")); err == nil {
			src = filepath.Join(old, "x")
		}
		if err := os.Rename(src, out); err != nil {
			return fmt.Errorf("restoring %s from %s: %w", out, src, err)
		}
	}
	return os.RemoveAll(old)
}
