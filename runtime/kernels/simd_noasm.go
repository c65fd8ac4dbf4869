//go:build !amd64

package kernels

// The vector kernels below exist in amd64 assembly only (simd_amd64.s); here
// they do nothing and report so, and the portable loops of their callers in
// ops.go and attn.go do the work.

func siluMulSIMD(gate, up []float32) int { return 0 }

func cvtF32F16SIMD([]uint16, []float32) int { return 0 }

func sumSquaresSIMD([]float32) (float64, int) { return 0, 0 }

func rmsScaleSIMD(_, _, _ []float32, _, _ float32) int { return 0 }

func expSumSIMD([]float32, float32) (float32, bool) { return 0, false }

func scaleMaxSIMD([]float32, float32) (float32, bool, int) { return 0, false, 0 }

func argMaxSIMD([]float32) (int, bool) { return 0, false }

func rotateSIMD([]float32, int, int, int, []float32, []float32) bool { return false }
