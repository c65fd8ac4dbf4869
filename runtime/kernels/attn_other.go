//go:build !amd64 && !arm64

package kernels

// cvtF16SIMD is never reached (haveSIMD is false); the portable loop converts.
func cvtF16SIMD([]float32, []uint16) int { return 0 }
