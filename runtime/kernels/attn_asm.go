//go:build amd64 || arm64

package kernels

// cvtF16SIMD converts the whole vectors of src into dst and returns how
// many elements it converted.
func cvtF16SIMD(dst []float32, src []uint16) int {
	nw := len(src) &^ (asmLanes - 1)
	if nw > 0 {
		cvtF16Asm(&dst[0], &src[0], nw)
	}
	return nw
}
