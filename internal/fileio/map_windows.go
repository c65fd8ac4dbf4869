//go:build windows

package fileio

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Map maps the first size bytes of f read-only, as Map does on Unix: only
// the pages in use count against memory, so a 4 GB model does not need
// 4 GB of RAM. The returned func unmaps them; the view outlives f.
func Map(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	if size < 0 || uint64(size) > uint64(^uintptr(0)) {
		return nil, nil, fmt.Errorf("%s: %d bytes cannot be mapped in this address space", f.Name(), size)
	}
	h, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, windows.PAGE_READONLY,
		uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return nil, nil, os.NewSyscallError("CreateFileMapping", err)
	}
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ, 0, 0, uintptr(size))
	// The view holds its own reference to the mapping object.
	windows.CloseHandle(h)
	if err != nil {
		return nil, nil, os.NewSyscallError("MapViewOfFile", err)
	}
	b := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), int(size))
	return b, func() error { return windows.UnmapViewOfFile(addr) }, nil
}

// DontNeed takes the pages of b, a part of a mapping, out of the process's
// working set (VirtualUnlock on pages that are not locked does exactly
// that); they stay in the file cache, as with MADV_DONTNEED on Unix.
func DontNeed(b []byte) {
	if len(b) > 0 {
		_ = windows.VirtualUnlock(uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
}

// WillNeed does nothing on Windows: the pages are read on first touch.
func WillNeed([]byte) {}

// openNonblock is only needed where FIFOs can block an open.
const openNonblock = 0
