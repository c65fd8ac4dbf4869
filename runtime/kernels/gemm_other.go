//go:build !amd64

package kernels

// The GEMM kernels exist on amd64 only; useGEMM is false elsewhere (it needs
// the AVX-512 set), so this is never reached.

func gemmKernel(t *q4Tiles, ti int, in *gemmInput, gi, na int, y []float32, rows int, mask uint64) {
	panic("kernels: AVX-512 kernels called on a CPU without them")
}

// quantizeRecordsAsm leaves every block to the Go loop off amd64.
func quantizeRecordsAsm(rec []byte, na, a int, x []float32, nfull int, mul int32) (int, bool) {
	return 0, true
}
