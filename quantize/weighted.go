package quantize

import (
	"fmt"
	"math"
)

// Importance-weighted quantization (the idea behind llama.cpp's imatrix):
// a linear layer's output error for an input x is Σ_c ΔW_c·x_c, so over many
// inputs the expected squared error of a row is Σ_c ΔW_c²·E[x_c²] when the
// channels are roughly uncorrelated. Minimising Σ_c imp_c·(w_c − ŵ_c)², with
// imp_c the mean square of input channel c on calibration text, therefore
// spends each group's few levels on the columns that move the output, not on
// the ones that are always near zero.

// QuantizeRowsWeighted is QuantizeRows for float32 input with one importance
// weight per column (len(imp) == cols, all finite and ≥ 0): INT4 groups get
// the scale (and min) minimising the importance-weighted squared error over
// a fan of candidates; INT8 and float specs ignore imp (their error is
// already far below what the weighting changes). A nil imp means plain
// QuantizeRows.
func QuantizeRowsWeighted(spec Spec, src []float32, cols int, imp []float32, data, scales, mins []byte) error {
	if imp == nil || spec.Type != INT4 {
		return QuantizeRows(spec, src, cols, data, scales, mins)
	}
	rows, err := checkQuantizeArgs(spec, len(src), cols, data, scales, mins)
	if err != nil {
		return err
	}
	if len(imp) != cols {
		return fmt.Errorf("quantize %s: %d importance weights for %d columns", spec, len(imp), cols)
	}
	for c, v := range imp {
		if !(v >= 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("quantize %s: importance of column %d is %v, want a finite number ≥ 0", spec, c, v)
		}
	}
	g := spec.GroupSize
	groups := (cols + g - 1) / g
	gb := g / 2
	asym := spec.Scheme == Asymmetric
	for r := range rows {
		for gi := range groups {
			c0 := gi * g
			n := min(g, cols-c0)
			x := src[r*cols+c0 : r*cols+c0+n]
			w := imp[c0 : c0+n]
			var mx, mn float32
			var finite bool
			if asym {
				mx, mn, finite = extremes(x)
			} else {
				mx, mn, finite = extremesSym(x)
			}
			if !finite {
				return groupError(spec, statusNonFinite, x, r, c0)
			}
			k := r*groups + gi
			out := data[k*gb : (k+1)*gb]
			var db, mb uint16
			var st status
			if asym {
				db, mb, st = weightedAsym4(x, w, mx, mn, out)
			} else {
				db, st = weightedSym4(x, w, mx, mn, out)
			}
			if st != statusOK {
				return groupError(spec, st, x, r, c0)
			}
			putU16(scales[2*k:], db)
			if asym {
				putU16(mins[2*k:], mb)
			}
		}
	}
	return nil
}

// weightedFan is how many candidate inverse scales each side of the RTN one
// the weighted search tries, in steps of 0.1 code (llama.cpp's make_qx_quants
// fan). Each candidate is refit by weighted least squares, so the fan only
// needs to reach the right rounding pattern, not the exact scale.
const weightedFan = 10

// weightedSym4 picks the INT4 symmetric scale minimising Σ w·(x − d·q)² with
// q = clamp(round(x/d), −8, 7): candidates put the largest-magnitude element
// on −8 ± a tenth of a code (and on +7), each refit as d = Σwxq / Σwq²; the
// winner, rounded to float16, is checked again against RTN so the result is
// never worse than RTN on the weighted error.
func weightedSym4(x, w []float32, mx, mn float32, out []byte) (uint16, status) {
	ref := signedMax(mx, mn)
	if ref == 0 {
		encode4Sym(x, 0, mx, mn, out)
		return 0, statusOK
	}
	rb, rd, st := f16Away(ref / -8)
	if st != statusOK {
		return 0, st
	}
	best, bestErr := rd, sym4WeightedErr(x, w, rd)
	try := func(d float64) {
		if !(d != 0) || math.IsInf(d, 0) {
			return
		}
		_, dv, st := f16Value(float32(d))
		if st != statusOK || dv == 0 {
			return
		}
		if e := sym4WeightedErr(x, w, dv); e < bestErr {
			best, bestErr = dv, e
		}
	}
	for _, top := range [...]float32{-8, 7} {
		for is := -weightedFan; is <= weightedFan; is++ {
			id := (top + 0.1*float32(is)) / ref
			var sxq, sqq float64
			for i, v := range x {
				q := float64(int32(q4s(v, id)) - 8)
				wq := float64(w[i]) * q
				sxq += wq * float64(v)
				sqq += wq * q
			}
			if sqq > 0 {
				try(sxq / sqq)
			}
		}
	}
	if best == rd {
		encode4Sym(x, rd, mx, mn, out)
		return rb, statusOK
	}
	b, _, _ := f16Value(best)
	encode4Sym(x, best, mx, mn, out)
	return b, statusOK
}

// sym4WeightedErr is Σ w·(x − d·q)² for the nearest codes of the stored d.
func sym4WeightedErr(x, w []float32, d float32) float64 {
	id := inverse(d)
	var e float64
	for i, v := range x {
		q := float32(int32(q4s(v, id)) - 8)
		r := float64(v - d*q)
		e += float64(w[i]) * r * r
	}
	return e
}

// weightedAsym4 picks the INT4 asymmetric scale and min minimising
// Σ w·(x − (d·q + m))²: candidate inverse scales fan around 15/(mx−mn), the
// codes they give are refit by weighted least squares for (d, m), and the
// float16-rounded winner is compared with RTN's parameters.
func weightedAsym4(x, w []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	rdb, rmb, rd, rm, st := asymRTNParams(mx, mn, 15)
	if st != statusOK {
		return 0, 0, st
	}
	bd, bm, bdb, bmb := rd, rm, rdb, rmb
	bestErr := asym4WeightedErr(x, w, rd, rm)
	span := mx - mn
	if span > 0 {
		for is := -weightedFan; is <= weightedFan; is++ {
			id := (15 + 0.1*float32(is)) / span
			var sw, sq, sqq, sx, sxq float64
			for i, v := range x {
				q := float64(q4a(v, mn, id))
				wi := float64(w[i])
				sw += wi
				sq += wi * q
				sqq += wi * q * q
				sx += wi * float64(v)
				sxq += wi * q * float64(v)
			}
			det := sw*sqq - sq*sq
			if !(det > 0) {
				continue
			}
			d := (sw*sxq - sq*sx) / det
			m := (sqq*sx - sq*sxq) / det
			if !(d > 0) {
				continue
			}
			db, dv, st1 := f16Value(float32(d))
			mb, mv, st2 := f16Value(float32(m))
			if st1 != statusOK || st2 != statusOK || dv == 0 {
				continue
			}
			if e := asym4WeightedErr(x, w, dv, mv); e < bestErr {
				bd, bm, bdb, bmb, bestErr = dv, mv, db, mb, e
			}
		}
	}
	encode4Asym(x, bd, bm, max(mx, bm), min(mn, bm), out)
	return bdb, bmb, statusOK
}

// asym4WeightedErr is Σ w·(x − (d·q + m))² for the nearest codes.
func asym4WeightedErr(x, w []float32, d, m float32) float64 {
	id := inverse(d)
	var e float64
	for i, v := range x {
		r := float64(v - (d*float32(q4a(v, m, id)) + m))
		e += float64(w[i]) * r * r
	}
	return e
}

// WeightedError quantizes rows x cols of src with spec (importance-weighted
// when imp is given and the spec is INT4) and returns Σ_c imp_c·(w − ŵ)²
// summed over all rows (imp nil: every column weighs 1). It is what the
// converter's precision choice compares between candidate specs.
func WeightedError(spec Spec, src []float32, cols int, imp []float32) (float64, error) {
	rows := len(src) / cols
	db, sb, mb, err := spec.Layout(rows, cols)
	if err != nil {
		return 0, err
	}
	data, sc, mi := make([]byte, db), make([]byte, sb), make([]byte, mb)
	if err := QuantizeRowsWeighted(spec, src, cols, imp, data, sc, mi); err != nil {
		return 0, err
	}
	if !spec.Type.IsInt() {
		// Float specs: the round trip through the stored type.
		back := make([]float32, len(src))
		switch spec.Type {
		case F32:
			copy(back, src)
		case F16:
			for i, v := range src {
				back[i] = F16ToF32(F32ToF16(v))
			}
		case BF16:
			for i, v := range src {
				back[i] = BF16ToF32(F32ToBF16(v))
			}
		}
		return weightedSSE(src, back, cols, imp), nil
	}
	back := make([]float32, len(src))
	if err := Dequantize(spec, data, sc, mi, rows, cols, back); err != nil {
		return 0, err
	}
	return weightedSSE(src, back, cols, imp), nil
}

func weightedSSE(a, b []float32, cols int, imp []float32) float64 {
	var e float64
	for i := range a {
		d := float64(a[i] - b[i])
		if imp != nil {
			e += float64(imp[i%cols]) * d * d
		} else {
			e += d * d
		}
	}
	return e
}
