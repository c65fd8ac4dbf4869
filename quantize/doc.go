// Package quantize converts float weights into the packed storage types of
// the .symb format and back. It is pure arithmetic on slices: no I/O, no
// goroutines, no allocation proportional to the tensor.
//
// # Where to start
//
//   - Spec describes how one tensor is stored (Type, Scheme, Method,
//     GroupSize); Spec.Layout gives the exact buffer sizes.
//   - QuantizeRows (float32 input), QuantizeRowsBF16 and QuantizeRowsF16
//     (raw 16-bit input) fill caller-provided buffers.
//   - Dequantize and DequantizeRow invert them; Compare measures the error.
//   - Policy.For picks a Spec per tensor role and shape, enforcing the
//     safety rules (norms/biases stay float, routers never 4-bit, vectors
//     never INT). DefaultPolicy and PolicyFromSpec build policies. The role
//     is symb.Role: the format's tensor table decides what each tensor is,
//     and this package takes only that type from symb.
//   - F16ToF32, F32ToF16, BF16ToF32, F32ToBF16 (and slice forms) are the
//     float16/bfloat16 conversions used by the runtime and converter.
//
// # Packed layout
//
// A tensor is row-major, rows x cols. INT types quantize each row in groups
// of G consecutive elements (G in 32, 64, 128, 256); a row is padded to
// Kp = ceil(cols/G)*G elements. Each group has a float16 scale d and, for the
// asymmetric scheme, a float16 min m, both stored little-endian in row-major
// [rows][ceil(cols/G)] arrays. The last group's parameters come from its real
// elements only; padding codes are 8 (INT4 sym) or 0 (all other cases) and
// are ignored by readers.
//
//   - INT4: Kp/2 bytes per row, groups in order, each group a run of
//     16-byte blocks of 32 elements: byte i of a block holds element i in
//     its low nibble and element 16+i in its high nibble.
//     sym: value = d*(q-8); asym: value = d*q + m; q in 0..15.
//   - INT8: Kp bytes per row, one code per element.
//     sym: value = d*q, q int8 written in -127..127; asym: value = d*q + m,
//     q uint8.
//   - F32, F16, BF16: plain little-endian conversion, round to nearest even.
//
// Scales and mins are rounded to float16 before codes are chosen, so codes
// are optimal for the values a reader actually sees.
//
// # Concurrency
//
// All functions are safe for concurrent use. To split a tensor over
// goroutines, give each a range of rows: with b the sizes from
// Spec.Layout(1, cols), rows [r0, r1) live in buffer bytes [r0*b, r1*b).
// Long conversions check their context.Context between such chunks; the
// functions here are not cancellable themselves.
package quantize
