package quantize

import (
	"errors"
	"fmt"
	"math"
)

// GPTQ (Frantar et al., 2022): for a linear layer y = W·x whose inputs have
// second moment H = E[x·xᵀ], the output error of a quantized row is
// (w − ŵ)ᵀ H (w − ŵ). Quantizing the columns in order and, after each one,
// moving its rounding error onto the columns not yet quantized along
// H⁻¹'s rows (the optimal correction for a quadratic loss) keeps that error
// far below rounding every column on its own. Rows are independent given H,
// so a tensor can be processed in row chunks with one prepared factor.

// GPTQFactor is the prepared inverse of a layer's input second moment: the
// upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), which the column updates read
// row by row.
type GPTQFactor struct {
	cols int
	u    []float64 // cols × cols, upper triangular
	dead []bool    // columns never excited on the calibration text
}

// gptqDamp is the fraction of the mean diagonal added to H before
// inverting, as in the reference implementation: it keeps the factor
// well-conditioned when the calibration text excites some directions
// barely at all.
const gptqDamp = 0.01

// NewGPTQFactor prepares H (cols × cols, symmetric, the mean of x·xᵀ over
// calibration inputs; only read, not kept).
func NewGPTQFactor(h []float64, cols int) (*GPTQFactor, error) {
	if cols < 1 || len(h) != cols*cols {
		return nil, fmt.Errorf("gptq: second moment has %d entries for %d columns", len(h), cols)
	}
	a := make([]float64, cols*cols)
	copy(a, h)
	f := &GPTQFactor{cols: cols, dead: make([]bool, cols)}
	var mean float64
	for i := range cols {
		if !(a[i*cols+i] > 0) {
			f.dead[i] = true
			a[i*cols+i] = 1
		}
		mean += a[i*cols+i]
	}
	damp := gptqDamp * mean / float64(cols)
	for i := range cols {
		a[i*cols+i] += damp
	}
	// H⁻¹ by Cholesky (H = LLᵀ), then the upper factor of H⁻¹.
	if err := cholesky(a, cols); err != nil {
		return nil, err
	}
	inv := invertFromCholesky(a, cols)
	if err := cholesky(inv, cols); err != nil {
		return nil, err
	}
	// inv now holds L' with H⁻¹ = L'L'ᵀ; U = L'ᵀ.
	f.u = make([]float64, cols*cols)
	for i := range cols {
		for j := 0; j <= i; j++ {
			f.u[j*cols+i] = inv[i*cols+j]
		}
	}
	return f, nil
}

var errNotPD = errors.New("gptq: second moment is not positive definite")

// cholesky factors the symmetric positive definite a in place into its
// lower triangle L (a = LLᵀ); the upper triangle is cleared.
func cholesky(a []float64, n int) error {
	for j := range n {
		s := a[j*n+j]
		for k := range j {
			s -= a[j*n+k] * a[j*n+k]
		}
		if !(s > 0) {
			return errNotPD
		}
		d := math.Sqrt(s)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := range j {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / d
		}
		for i := range j {
			a[i*n+j] = 0
		}
	}
	return nil
}

// invertFromCholesky returns (LLᵀ)⁻¹ from the lower factor L.
func invertFromCholesky(l []float64, n int) []float64 {
	// Linv by forward substitution, then Linvᵀ·Linv.
	li := make([]float64, n*n)
	for i := range n {
		li[i*n+i] = 1 / l[i*n+i]
		for j := range i {
			var s float64
			for k := j; k < i; k++ {
				s -= l[i*n+k] * li[k*n+j]
			}
			li[i*n+j] = s / l[i*n+i]
		}
	}
	out := make([]float64, n*n)
	for i := range n {
		for j := 0; j <= i; j++ {
			var s float64
			for k := i; k < n; k++ {
				s += li[k*n+i] * li[k*n+j]
			}
			out[i*n+j], out[j*n+i] = s, s
		}
	}
	return out
}

// QuantizeRowsGPTQ quantizes len(src)/cols rows of src with spec (INT4 or
// INT8; group scales chosen by the spec's kernel from the columns as they
// stand when the group is reached) using the prepared factor f. src is
// used as scratch and overwritten. Other specs, or a nil f, fall back to
// QuantizeRows.
func QuantizeRowsGPTQ(spec Spec, src []float32, cols int, f *GPTQFactor, data, scales, mins []byte) error {
	if f == nil || !spec.Type.IsInt() {
		return QuantizeRows(spec, src, cols, data, scales, mins)
	}
	rows, err := checkQuantizeArgs(spec, len(src), cols, data, scales, mins)
	if err != nil {
		return err
	}
	if f.cols != cols {
		return fmt.Errorf("quantize %s: GPTQ factor for %d columns, tensor has %d", spec, f.cols, cols)
	}
	for i, v := range src {
		if isNonFinite(v) {
			return nonFiniteAt(i, cols, v)
		}
	}
	g := spec.GroupSize
	groups := (cols + g - 1) / g
	gb := g
	if spec.Type == INT4 {
		gb = g / 2
	}
	rowBytes := len(data) / rows
	kern := kernelFor(spec)
	asym := spec.Scheme == Asymmetric
	var tmp [maxGroupSize]byte
	y := make([]float32, cols)    // the value each column had when it was quantized
	w := make([]float64, cols)    // the row being updated
	dq := make([]float32, groups) // stored scale per group
	mq := make([]float32, groups) // stored min per group
	for r := range rows {
		row := src[r*cols : (r+1)*cols]
		for c, v := range row {
			w[c] = float64(v)
			if f.dead[c] {
				w[c] = 0
			}
		}
		for gi := range groups {
			c0 := gi * g
			n := min(g, cols-c0)
			// Group parameters from the columns as they stand now.
			x := y[c0 : c0+n]
			for i := range x {
				x[i] = float32(w[c0+i])
			}
			var mx, mn float32
			if asym {
				mx, mn, _ = extremes(x)
			} else {
				mx, mn, _ = extremesSym(x)
			}
			db, mb, st := kern(x, mx, mn, tmp[:len(rowGroupCodes(data, r, rowBytes, gi, gb))])
			if st != statusOK {
				return groupError(spec, st, x, r, c0)
			}
			k := r*groups + gi
			putU16(scales[2*k:], db)
			dq[gi] = F16ToF32(db)
			if asym {
				putU16(mins[2*k:], mb)
				mq[gi] = F16ToF32(mb)
			}
			for c := c0; c < c0+n; c++ {
				v := float32(w[c])
				y[c] = v
				e := (float64(v) - float64(dequantValue(spec, v, dq[gi], mq[gi]))) / f.u[c*cols+c]
				ur := f.u[c*cols : (c+1)*cols]
				for j := c + 1; j < cols; j++ {
					w[j] -= e * ur[j]
				}
			}
		}
		// Codes: the nearest ones, for the stored parameters, of the values
		// the columns had when quantized.
		for gi := range groups {
			c0 := gi * g
			n := min(g, cols-c0)
			x := y[c0 : c0+n]
			mx, mn, _ := extremes(x)
			out := rowGroupCodes(data, r, rowBytes, gi, gb)
			switch {
			case spec.Type == INT4 && asym:
				encode4Asym(x, dq[gi], mq[gi], max(mx, mq[gi]), min(mn, mq[gi]), out)
			case spec.Type == INT4:
				encode4Sym(x, dq[gi], mx, mn, out)
			case asym:
				encode8Asym(x, dq[gi], mq[gi], out)
			default:
				encode8Sym(x, dq[gi], out)
			}
		}
	}
	return nil
}

// dequantValue is what v reads back as after encoding with the stored d
// (and m for asym), using the same rounding as the encoders.
func dequantValue(spec Spec, v, d, m float32) float32 {
	id := inverse(d)
	switch {
	case spec.Type == INT4 && spec.Scheme == Asymmetric:
		return d*float32(q4a(v, m, id)) + m
	case spec.Type == INT4:
		return d * float32(int32(q4s(v, id))-8)
	case spec.Scheme == Asymmetric:
		return d*float32(q8a(v, m, id)) + m
	default:
		return d * float32(q8s(v, id))
	}
}
