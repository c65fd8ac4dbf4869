//go:build linux

package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/symbc/symbc/internal/testmodel"
)

// TestFullDiskIsNotRetried: writing a pulled file onto a full disk fails
// the same way every time, so it is not retried (a pull once printed 25
// retry lines for a full disk). /dev/full fails every write with ENOSPC.
func TestFullDiskIsNotRetried(t *testing.T) {
	t.Parallel()
	err := writeFile(context.Background(), "/dev/full", strings.NewReader("some bytes"), -1)
	if err == nil {
		t.Skip("/dev/full accepted a write")
	}
	if transient(err) {
		t.Errorf("%v is taken as transient and would be retried", err)
	}
}

// TestPullHonoursUmask: the pulled folder and its files get the usual
// modes less the umask, like any file tool's (they were 0700).
func TestPullHonoursUmask(t *testing.T) {
	ctx := context.Background()
	src := writeModel(t, testmodel.Tiny)
	reg := newTestRegistry(t)
	ref := reg.host + "/m:v1"
	if _, err := Push(ctx, src, ref, fast()...); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ umask, dir, file os.FileMode }{{0o022, 0o755, 0o644}, {0o002, 0o775, 0o664}, {0o077, 0o700, 0o600}} {
		old := syscall.Umask(int(c.umask))
		out := filepath.Join(t.TempDir(), "out")
		_, err := Pull(ctx, ref, out, fast()...)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			st, err := d.Info()
			if err != nil {
				return err
			}
			want := c.file
			if d.IsDir() {
				want = c.dir
			}
			if got := st.Mode().Perm(); got != want {
				t.Errorf("umask %03o: %s has mode %03o, want %03o", c.umask, p, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
