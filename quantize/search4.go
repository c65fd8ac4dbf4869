package quantize

import "math"

// INT4 symmetric search.
//
// Every evaluation is reduced to two sums over the codes q in -8..7,
// sum(x*q) (float64: each product is exact, the sum is rounded at 2^-53)
// and sum(q^2) (exact), from which the squared error of a scale d follows
// in closed form, up to the constant sum(x^2) that all candidates share:
// e - sum(x^2) = d^2*sum(q^2) - 2d*sum(x*q). Codes come from a table
// indexed by the truncated scaled value, which replaces the encoder's
// clamp and conversions with one masked index.
//
// The candidate fan (fan4.go) spans scales that give the reference extreme
// 7.1 to 9.3 codes: wider than search.go's 7.1..8.9 because at G >= 128
// clipping more than 11% of the range often pays.

// sym4Sums are the sums of one symmetric evaluation.
type sym4Sums struct {
	sxq float64
	sqq uint32 // at most 256*64
}

// sym4Eval evaluates one scale, on two chains so the loop is not bound by
// the latency of a float64 add.
func sym4Eval(x []float32, id float32) sym4Sums {
	q, qq := &int4Tab.symQ, &int4Tab.symQQ
	var s0, s1 float64
	var p0, p1 uint32
	i := 0
	for ; i+1 < len(x); i += 2 {
		a, b := x[i], x[i+1]
		ia, ib := codeIndex(a*id+8.5), codeIndex(b*id+8.5)
		s0 += float64(a) * q[ia]
		s1 += float64(b) * q[ib]
		p0 += qq[ia]
		p1 += qq[ib]
	}
	if i < len(x) {
		ia := codeIndex(x[i]*id + 8.5)
		s0 += float64(x[i]) * q[ia]
		p0 += qq[ia]
	}
	return sym4Sums{sxq: s0 + s1, sqq: p0 + p1}
}

// sym4EvalClamped is sym4Eval for scales so small that the scaled values
// leave the table's range; it clamps like q4s. Only pathological refits get
// here.
func sym4EvalClamped(x []float32, id float32) sym4Sums {
	var s sym4Sums
	for _, v := range x {
		q := int32(q4s(v, id)) - 8
		s.sxq += float64(v) * float64(q)
		s.sqq += uint32(q * q)
	}
	return s
}

// sym4Group holds the per-group constants of the error formula.
type sym4Group struct {
	n, amax float64 // element count and largest |x|
}

// err returns the squared error of scale d with the codes behind s, less
// sum(x^2), with a bound on its rounding error, and the refit scale
// sum(x*q)/sum(q^2) (0 when all q are 0).
//
// A reader computes d*q exactly (an 11-bit scale times a 4-bit code fits
// float32), so only float64 rounding separates the formula from the error
// a reader sees: at most about n+8 roundings of 2^-53 relative to terms
// bounded by n*(amax+8|d|)^2 (|x| <= amax, |q| <= 8).
func (g sym4Group) err(d float32, s sym4Sums) (e, slack float64, refit float32) {
	dd, sqq := float64(d), float64(s.sqq)
	e = dd*dd*sqq - 2*dd*s.sxq
	b := g.amax + 8*math.Abs(dd)
	slack = (g.n + 8) * 0x1p-52 * g.n * b * b
	if s.sqq > 0 {
		refit = float32(s.sxq / sqq)
	}
	return e, slack, refit
}

// eval evaluates the stored scale d (nonzero) exactly.
func (g sym4Group) eval(x []float32, d float32) (e, slack float64, refit float32) {
	id := 1 / d
	a := float32(g.amax) * absf32(id)
	if codeRangeOK(8.5-a, 8.5+a) {
		return g.err(d, sym4Eval(x, id))
	}
	return g.err(d, sym4EvalClamped(x, id))
}

// searchSym4 finds the float16 scale minimising the squared error of an
// INT4 symmetric group; ref is the signed extreme, which RTN maps to -8.
func searchSym4(x []float32, ref float32) (uint16, float32, status) {
	rtnBits, rtnD, st := f16Away(ref / 8)
	if st != statusOK || ref == 0 {
		return rtnBits, rtnD, st
	}
	// |ref/rtnD| <= 8, so RTN's scaled values stay in the code table.
	rtn, s, score := fanSym4(x, ref, 1/rtnD)
	g := sym4Group{n: float64(len(x)), amax: float64(absf32(ref))}
	rtnErr, rtnSlack, rtnRefit := g.err(rtnD, rtn)
	// RTN's own refit is one more start.
	if sqq := float64(rtn.sqq); sqq > 0 && rtn.sxq*rtn.sxq > score*sqq {
		s = rtnRefit
	}
	if s == 0 {
		return rtnBits, rtnD, statusOK
	}

	// Alternate "round to float16, re-pick codes, refit" until the scale
	// repeats.
	bestBits, bestD, bestErr, bestSlack := rtnBits, rtnD, rtnErr, rtnSlack
	for it := 0; it < lloydIters; it++ {
		b, d, st := f16Value(s)
		if st != statusOK || d == 0 {
			break
		}
		e, slack, refit := rtnErr, rtnSlack, rtnRefit
		if b != rtnBits {
			e, slack, refit = g.eval(x, d)
		}
		if e < bestErr {
			bestBits, bestD, bestErr, bestSlack = b, d, e, slack
		}
		if refit == 0 || F32ToF16(refit) == b {
			break
		}
		s = refit
	}
	// Leave RTN only for a gain larger than both rounding bounds, so the
	// result is never worse than RTN, however close the two are.
	if bestErr+bestSlack >= rtnErr-rtnSlack {
		return rtnBits, rtnD, statusOK
	}
	return bestBits, bestD, statusOK
}
