package kernels

import "golang.org/x/sys/cpu"

// haveSIMD reports whether the AVX2/FMA/F16C kernels can run. It is computed
// once at start-up and never changes.
var haveSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// asmLanes is the element count the AVX2 kernels consume per step; the Go
// wrappers in simd_asm.go finish shorter tails.
const asmLanes = 8
