//go:build !amd64

package kernels

// The GEMM kernels exist on amd64 only; useGEMM is false elsewhere (it needs
// the AVX-512 set), so this is never reached.

func gemmKernel(t *q4Tiles, ti int, in *gemmInput, gi, na int, y []float32, rows int, mask uint64) {
	panic("kernels: AVX-512 kernels called on a CPU without them")
}
