// Package kernels holds the numeric kernels of the bundled runtime: matrix ×
// vector and matrix × matrix products over every weight dtype of the .symb
// format (F32, F16, BF16, INT8 and INT4 with sym or asym groups), row
// dequantization for embedding lookups, and the small vector helpers a
// transformer forward pass needs (RMSNorm, the gated SiLU and GELU
// activations, Dot, Axpy, Add, Exp, the softmax steps ScaleMax and ExpSum,
// ArgMax, Rotate for RoPE, float16 conversions). The helpers that are not
// Pool methods run the CPU's AVX2 (amd64) or NEON (arm64) kernels where they
// have one, whatever Set a Pool runs. The element-wise ones (SiLUMul,
// ExpSum, ScaleMax, Add, Rotate, the conversions) give an element the same
// bits wherever it lies in the slice (a tail goes through the vector kernel
// padded, or the scalar code rounds the same), so batched and unbatched
// decoding agree.
//
// Weights are consumed straight from their packed form: a quantized matrix is
// never expanded into memory as a whole. The one exception is a layout change
// of the same size: with avx512, INT4 and INT8 weights (groups of any
// multiple of 32) are repacked once per Pool (Prepare, which the runtime calls at load,
// or the first product over several inputs) into 16-row tiles for the tiled
// GEMM (gemm.go), and every product with them reads the tiles from then on. A Pool runs one kernel Set, chosen at
// run time from the CPU's features (Select; --kernels and SYMBC_KERNELS force
// one): avx512 (amd64 with AVX-512 F/BW/VL and VNNI), avx2 (AVX2, FMA, F16C),
// neon (every arm64) or generic (portable Go, every architecture). The
// numeric differences between the sets: avx512 multiplies INT4 and INT8
// weights with the input rounded to int8 per block of 32 (Q8_0-style; each
// element moves by at most max|x_block|/254; an asym weight's min term
// multiplies the same rounded input), in MatVec and MatMul alike; avx2 and neon round MatVec's INT4 input to int16 per group
// (at most max|x_group|/65534), and avx2 runs an INT4 MatMul over up to 16
// inputs as one MatVec each; everything else multiplies in float32.
//
// A Pool keeps its worker goroutines between calls (they spin briefly, then
// park, and end after a second idle) and splits every call statically, the
// same share of rows to the same worker each time.
//
// Inputs come from a validated model, so the functions here do not return
// errors: a length mismatch between arguments is a programming error and
// panics with a message naming the lengths.
package kernels
