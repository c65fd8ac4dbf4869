//go:build unix

package fileio

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Map maps the first size bytes of f read-only; the returned func unmaps
// them. Large files are read through the mapping so that only the pages in
// use count against memory. The mapping outlives f, which may be closed.
func Map(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return unix.Munmap(b) }, nil
}

// DontNeed tells the kernel the process is done with the whole pages inside
// b, a part of a mapping. The pages stay in the page cache (a later read
// refaults them from there), but they stop counting toward this process's
// resident memory, which keeps a streaming reader's peak memory near what it
// holds at once instead of the whole file.
func DontNeed(b []byte) {
	start, end := pageSpan(b)
	if end > start {
		_ = unix.Madvise(b[start:end], unix.MADV_DONTNEED)
	}
}

// WillNeed asks the kernel to read ahead the pages of b, a part of a
// mapping, that the caller is about to use.
func WillNeed(b []byte) {
	start, end := pageSpan(b)
	if end > start {
		_ = unix.Madvise(b[start:end], unix.MADV_WILLNEED)
	}
}

// pageSpan returns the offsets within b of the first and last page boundary
// it contains: madvise takes whole pages, and only pages entirely inside b
// may be dropped.
func pageSpan(b []byte) (start, end int) {
	if len(b) == 0 {
		return 0, 0
	}
	ps := uintptr(os.Getpagesize())
	addr := uintptr(unsafe.Pointer(&b[0]))
	first := (addr + ps - 1) &^ (ps - 1)
	last := (addr + uintptr(len(b))) &^ (ps - 1)
	if last <= first {
		return 0, 0
	}
	return int(first - addr), int(last - addr)
}

// openNonblock makes opening a FIFO return at once instead of waiting for
// a writer.
const openNonblock = unix.O_NONBLOCK
