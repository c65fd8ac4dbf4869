//go:build !unix

package partial

import (
	"context"

	"github.com/symbc/symbc/internal/filelock"
)

// lockFile takes the lock with filelock. Windows cannot remove a file that
// is open, so the lock file stays.
func lockFile(ctx context.Context, path string) (func(), error) {
	return filelock.Lock(ctx, path)
}
