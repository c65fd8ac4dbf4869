//go:build !linux

package kernels

// bigBytes returns n zero bytes from the Go heap (see alloc_linux.go).
func bigBytes[T any](owner *T, n int) []byte { return make([]byte, n) }
