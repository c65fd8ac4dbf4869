package kernels

import (
	"fmt"

	"github.com/symbc/symbc/symb"
)

// Blocking of MatMul. A panel of panelRows weight rows × kBlock columns is
// dequantized once into a small float32 buffer (it stays in L1) and then
// multiplied against up to xBlock input rows, whose kBlock-wide slice stays in
// L2 (128 rows × 512 columns × 4 bytes = 256 KiB) while the panels of a band
// of bandRows weight rows pass over it. The band keeps the part of Y being
// accumulated small (128 inputs × 64 rows × 4 bytes = 32 KiB): walking every
// row of a wide weight per column block would stream all of Y through the
// caches once per block.
const (
	panelRows = 4
	kBlock    = 512
	xBlock    = 128
	bandRows  = 64
)

// MatMul computes Y[i, r] = Σ_k W[r,k]·X[i,k] for n input rows: X is n×Cols
// and Y is n×Rows, both row-major. Each dequantized block of weights is reused
// across all n inputs (this is what makes prompt prefill fast); the weight is
// never expanded whole. It panics on length mismatches (programming errors).
// Results agree with n separate MatVec calls up to rounding (MatMul always
// multiplies in float32; see MatVec for its INT4 input rounding); n == 1 is
// a MatVec.
func (p *Pool) MatMul(Y, X []float32, n int, w *symb.Tensor) {
	v := view(w)
	if n < 0 || len(X) != n*v.cols || len(Y) != n*v.rows {
		panic(fmt.Sprintf("kernels: MatMul %s: n=%d len(X)=%d len(Y)=%d, want n×%d and n×%d",
			w.Name, n, len(X), len(Y), v.cols, v.rows))
	}
	if n == 0 {
		return
	}
	if n == 1 {
		p.MatVec(Y, X, w)
		return
	}
	if p.useGEMM(w, &v, n) && p.matMulGEMM([]*symb.Tensor{w}, []wview{v}, [][]float32{Y}, X, n) {
		return
	}
	if p.useVNNI(&v) && p.matMulVNNI([]wview{v}, [][]float32{Y}, X, n) {
		return
	}
	if (p.kern == AVX2 || p.kern == AVX512) && v.dt == symb.INT4 && n <= matVecInputs {
		for i := range n {
			p.MatVec(Y[i*v.rows:(i+1)*v.rows], X[i*v.cols:(i+1)*v.cols], w)
		}
		return
	}
	kc := kBlock
	if v.quantized() {
		kc = v.g * max(1, kBlock/v.g)
	}
	work := int64(n) * int64(v.rows) * int64(v.cols)
	p.split(v.rows, panelRows, work, func(lo, hi int) {
		p.matMulRows(&v, Y, X, n, lo, hi, kc)
	})
}

// MatMuls computes Ys[j] = X·W_jᵀ (n × ws[j].Rows()) for weights that share
// their column count, as MatMul does for each. Where the weights also share
// dtype, scheme and group size and the kernels quantize the input, X is
// quantized once and the rows of all weights are split across the threads in
// one pass (the q, k and v projections of a layer; gate and up). Each result
// equals MatMul's bit for bit. It panics on length mismatches.
func (p *Pool) MatMuls(Ys [][]float32, X []float32, n int, ws ...*symb.Tensor) {
	if len(Ys) != len(ws) {
		panic(fmt.Sprintf("kernels: MatMuls: %d outputs for %d weights", len(Ys), len(ws)))
	}
	if len(ws) == 0 || n == 0 {
		return
	}
	vs := make([]wview, len(ws))
	fused, gemm := true, true
	for j, w := range ws {
		vs[j] = view(w)
		v := &vs[j]
		if len(X) != n*v.cols || len(Ys[j]) != n*v.rows {
			panic(fmt.Sprintf("kernels: MatMuls %s: n=%d len(X)=%d len(Y)=%d, want n×%d and n×%d",
				w.Name, n, len(X), len(Ys[j]), v.cols, v.rows))
		}
		fused = fused && p.useVNNI(v) && sameInput(v, &vs[0])
		gemm = gemm && p.useGEMM(w, v, n) && sameInput(v, &vs[0])
	}
	if gemm && p.matMulGEMM(ws, vs, Ys, X, n) {
		return
	}
	if fused && p.matMulVNNI(vs, Ys, X, n) {
		return
	}
	for j, w := range ws {
		p.MatMul(Ys[j], X, n, w)
	}
}

// matVecInputs is the input count up to which an INT4 MatMul that no
// AVX-512 GEMM kernel takes runs one AVX2 MatVec per input: decoding a
// panel of weights to float32 costs more than it saves until about 16
// inputs share it (go test -bench MatMulRows/int4g128/avx2: 1693, 918, 709
// and 506 µs per input for 2, 4, 8 and 16 inputs against 459 for MatVec).
const matVecInputs = 16

// xPad is added to the stride of packed input rows so that consecutive rows
// do not map to the same cache sets (model widths are powers of two).
const xPad = 16

// matMulRows computes the columns [lo, hi) of Y (weight rows lo..hi-1).
// Every (input, row) result sums the same products in the same order
// whatever lo and hi are, so results do not depend on the thread count.
func (p *Pool) matMulRows(v *wview, Y, X []float32, n, lo, hi, kc int) {
	rows, cols := v.rows, v.cols
	nb := min(n, xBlock)
	cols8 := (cols + 7) &^ 7
	xstride := cols8 + xPad
	buf := p.getBuf(panelRows*kc + nb*xstride + nb*panelRows)
	defer p.putBuf(buf)
	panel := buf.f[:panelRows*kc]
	xpack := buf.f[panelRows*kc : panelRows*kc+nb*xstride]
	ys := buf.f[panelRows*kc+nb*xstride:]
	for i := range n {
		clear(Y[i*rows+lo : i*rows+hi])
	}
	for i0 := 0; i0 < n; i0 += xBlock {
		ni := min(xBlock, n-i0)
		// Pack the inputs with a stride that is not a power of two (model
		// widths are, and would map every row to the same cache sets) and
		// with zeros up to a multiple of 8 columns.
		for i := range ni {
			row := xpack[i*xstride : i*xstride+cols8]
			copy(row, X[(i0+i)*cols:(i0+i+1)*cols])
			clear(row[cols:])
		}
		for b0 := lo; b0 < hi; b0 += bandRows {
			b1 := min(b0+bandRows, hi)
			for k0 := 0; k0 < cols; k0 += kc {
				p.matMulBlock(v, Y[i0*rows:], xpack[k0:], xstride, ni, b0, b1, k0, kc, panel, ys)
			}
		}
	}
}

// matMulBlock adds to Y (from input i0 on) the products of weight rows
// [b0, b1) over the column block starting at k0 with the ni packed inputs xb.
func (p *Pool) matMulBlock(v *wview, Y, xb []float32, xstride, ni, b0, b1, k0, kc int, panel, ys []float32) {
	rows := v.rows
	k1 := min(k0+kc, v.cols) // logical columns of this block
	kd := k1                 // columns to decode: whole groups when quantized
	if v.quantized() {
		kd = min(k0+kc, v.kp)
	}
	kk := (k1 - k0 + 7) &^ 7 // columns the kernel runs over; inputs are zero past k1
	for r0 := b0; r0 < b1; r0 += panelRows {
		nr := min(panelRows, b1-r0)
		for j := range nr {
			p.dequantRange(v, r0+j, k0, kd, panel[j*kc:j*kc+kd-k0])
			// Padding past the decoded part meets zero inputs, but must
			// not hold a stale Inf or NaN (0·Inf is NaN).
			if kd-k0 < kk {
				clear(panel[j*kc+kd-k0 : j*kc+kk])
			}
		}
		for j := nr; j < panelRows; j++ {
			clear(panel[j*kc : j*kc+kk])
		}
		if nr == panelRows {
			p.gemm4(panel, kc, xb, xstride, ni, kk, Y[r0:], rows)
			continue
		}
		out := ys[:ni*panelRows]
		clear(out)
		p.gemm4(panel, kc, xb, xstride, ni, kk, out, panelRows)
		for i := range ni {
			for j := range nr {
				Y[i*rows+r0+j] += out[i*panelRows+j]
			}
		}
	}
}

// dequantRange decodes elements [k0, k1) of row r with the pool's kernels.
func (p *Pool) dequantRange(v *wview, r, k0, k1 int, dst []float32) {
	if p.simd() {
		dequantRangeSIMD(v, r, k0, k1, dst)
		return
	}
	dequantRangeGo(v, r, k0, k1, dst)
}

// gemm4 adds to y[i*ys+j] (i < nx, j < 4) the dot product over k columns of
// panel row j (w[j*ws:]) and input row i (x[i*xs:]). k is a multiple of 8.
func (p *Pool) gemm4(w []float32, ws int, x []float32, xs, nx, k int, y []float32, ys int) {
	if nx == 0 || k == 0 {
		return
	}
	// Bounds the kernels rely on, checked once here.
	_ = w[3*ws+k-1]
	_ = x[(nx-1)*xs+k-1]
	_ = y[(nx-1)*ys+3]
	if p.simd() {
		gemm4SIMD(w, ws, x, xs, nx, k, y, ys)
		return
	}
	gemm4Go(w, ws, x, xs, nx, k, y, ys)
}

// gemm4Go is the portable body of gemm4.
func gemm4Go(w []float32, ws int, x []float32, xs, nx, k int, y []float32, ys int) {
	w0, w1, w2, w3 := w[:k], w[ws:ws+k], w[2*ws:2*ws+k], w[3*ws:3*ws+k]
	for i := range nx {
		xr := x[i*xs : i*xs+k]
		var s0, s1, s2, s3 float32
		for c, xv := range xr {
			s0 += w0[c] * xv
			s1 += w1[c] * xv
			s2 += w2[c] * xv
			s3 += w3[c] * xv
		}
		yr := y[i*ys : i*ys+4]
		yr[0] += s0
		yr[1] += s1
		yr[2] += s2
		yr[3] += s3
	}
}
