// Package kernels holds the numeric kernels of the bundled runtime: matrix ×
// vector and matrix × matrix products over every weight dtype of the .symb
// format (F32, F16, BF16, INT8 and INT4 with sym or asym groups), row
// dequantization for embedding lookups, and the small vector helpers a
// transformer forward pass needs (RMSNorm, the gated SiLU and GELU
// activations, Dot, Axpy, Exp).
//
// Weights are consumed straight from their packed form: a quantized matrix is
// never expanded into memory as a whole. On amd64 with AVX2, FMA and F16C, and
// on every arm64 (NEON), the hot loops run in assembly; everywhere else (and
// when a test asks for it) a portable Go path computes the same quantities. The one numeric difference
// between the paths: the assembly INT4 MatVec rounds the input vector to
// int16 per group (each element moves by at most max|x_group|/65534)
// to use integer multiply-adds; everything else multiplies in float32.
//
// Inputs come from a validated model, so the functions here do not return
// errors: a length mismatch between arguments is a programming error and
// panics with a message naming the lengths.
package kernels
