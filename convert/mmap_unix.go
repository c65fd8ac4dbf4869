//go:build unix

package convert

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a whole file read-only. Checkpoints are read through the
// mapping so that only the pages in use count against memory.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return unix.Munmap(b) }, nil
}

// release tells the kernel the process is done with the whole pages inside
// b. The pages stay in the page cache (a later read refaults them from
// there), but they stop counting toward this process's resident memory, which
// keeps the converter's peak memory near a few tensors instead of the model.
func release(b []byte) {
	start, end := pageSpan(b)
	if end > start {
		_ = unix.Madvise(b[start:end], unix.MADV_DONTNEED)
	}
}

// willNeed asks the kernel to read ahead pages the converter is about to use.
func willNeed(b []byte) {
	start, end := pageSpan(b)
	if end > start {
		_ = unix.Madvise(b[start:end], unix.MADV_WILLNEED)
	}
}
