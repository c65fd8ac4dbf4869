//go:build linux

package kernels

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// bigBytesMin is the size from which bigBytes maps memory itself.
const bigBytesMin = 4 << 20

// bigBytes returns n zero bytes for a repacked weight, owned by owner: large
// buffers are mapped directly and backed by transparent huge pages where the
// kernel allows it (madvise mode), which cuts the page faults of writing
// hundreds of megabytes at load by the page-size ratio; the mapping is
// released once owner is unreachable. Smaller ones, or when mapping fails,
// come from the Go heap.
func bigBytes[T any](owner *T, n int) []byte {
	if n < bigBytesMin {
		return make([]byte, n)
	}
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return make([]byte, n)
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // a hint; without it the pages are 4 KiB
	runtime.AddCleanup(owner, func(b []byte) { _ = unix.Munmap(b) }, b)
	return b
}
