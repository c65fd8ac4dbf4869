//go:build !amd64

package kernels

// The AVX-512 kernels exist on amd64 only; haveAVX512 is false elsewhere, so
// these are never reached.

func rowDotVNNI(v *wview, r int, in *q8Input, i int) float32 {
	panic("kernels: AVX-512 kernels called on a CPU without them")
}

func rowDotVNNI4(v *wview, r int, in *q8Input, i int, out *[4]float32) {
	panic("kernels: AVX-512 kernels called on a CPU without them")
}
