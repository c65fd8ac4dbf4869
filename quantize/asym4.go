package quantize

import "math"

// INT4 asymmetric search: the fan of searchAsym, all 21 candidates in one
// pass (fan4.go; thinning the fan to 6 candidates costs up to 0.03 dB, to
// 3 about 0.1 dB), then the same float16-aware refinement with every exact
// evaluation reduced to sums over the codes c in 0..15.

// asym4Sums are the sums of one asymmetric evaluation: sum(x*c) (float64:
// each product is exact, the sum is rounded at 2^-53) and the packed
// sum(c) | sum(c^2)<<16 (exact).
type asym4Sums struct {
	sxc    float64
	packed uint32
}

// asym4Eval evaluates stored d (1/d = id) and m with the codes
// encode4Asym forms, on two chains.
func asym4Eval(x []float32, m, id float32) asym4Sums {
	val, packed := &int4Tab.val, &int4Tab.packed
	var s0, s1 float64
	var p0, p1 uint32
	i := 0
	for ; i+1 < len(x); i += 2 {
		a, b := x[i], x[i+1]
		ia, ib := codeIndex((a-m)*id+0.5), codeIndex((b-m)*id+0.5)
		s0 += float64(a) * val[ia]
		s1 += float64(b) * val[ib]
		p0 += packed[ia]
		p1 += packed[ib]
	}
	if i < len(x) {
		ia := codeIndex((x[i]-m)*id + 0.5)
		s0 += float64(x[i]) * val[ia]
		p0 += packed[ia]
	}
	return asym4Sums{sxc: s0 + s1, packed: p0 + p1}
}

// asym4EvalClamped is asym4Eval for scales and mins that push scaled
// values out of the code table's range; only pathological refits get here.
func asym4EvalClamped(x []float32, m, id float32) asym4Sums {
	var s asym4Sums
	for _, v := range x {
		c := uint32(q4a(v, m, id))
		s.sxc += float64(v) * float64(c)
		s.packed += c | c*c<<16
	}
	return s
}

// asym4Group holds the per-group constants of the error formula.
type asym4Group struct {
	n, sx, amax float64 // element count, sum(x), largest |x|
	mx, mn      float32
}

// err returns the squared error of stored d and m with the codes behind s,
// less sum(x^2) (which all candidates share), a bound on how far that can
// be from what a reader sees, and the joint least-squares refit (ok false
// if the codes carry no scale information).
//
// The formula, d^2*sum(c^2) + 2dm*sum(c) + n*m^2 - 2d*sum(x*c) - 2m*sum(x),
// is exact up to float64 rounding: at most about n+16 roundings of 2^-53
// relative to terms bounded by n*(amax+15|d|+|m|)^2. A reader computes
// d*c + m in float32; d*c is exact (11 by 4 bits) but the add rounds, by at
// most eta = 2^-24*(15|d|+|m|) per element. That moves the error by at most
// 2*n*rmax*eta + n*eta^2, where rmax bounds any element's residual: half a
// step inside the grid, or the distance from an extreme to the grid's end.
// (For a typical group the whole bound is about 1e-5 of the error.)
func (g asym4Group) err(d, m float32, s asym4Sums) (e, slack, fd, fm float64, ok bool) {
	sc, scc := float64(s.packed&0xffff), float64(s.packed>>16)
	dd, mm := float64(d), float64(m)
	e = dd*dd*scc + 2*dd*mm*sc + g.n*mm*mm - 2*dd*s.sxc - 2*mm*g.sx
	b := g.amax + 15*math.Abs(dd) + math.Abs(mm)
	slack = (g.n + 16) * 0x1p-52 * g.n * b * b
	eta := 0x1p-24 * (15*math.Abs(dd) + math.Abs(mm))
	// Inside the grid a code is the nearest one up to the float32 rounding
	// of (x-m)/d, well below 2^-16 of a step.
	rmax := max(dd*(0.5+0x1p-16), float64(g.mx)-(15*dd+mm), mm-float64(g.mn)) + eta
	slack += 2*g.n*rmax*eta + g.n*eta*eta
	if det := g.n*scc - sc*sc; det > 0 {
		fd = (g.n*s.sxc - sc*g.sx) / det
		fm = (scc*g.sx - sc*s.sxc) / det
		ok = fd > 0
	}
	return e, slack, fd, fm, ok
}

// eval evaluates stored d > 0 and m exactly.
func (g asym4Group) eval(x []float32, d, m float32) (e, slack, fd, fm float64, ok bool) {
	id := 1 / d
	if codeRangeOK((g.mn-m)*id+0.5, (g.mx-m)*id+0.5) {
		return g.err(d, m, asym4Eval(x, m, id))
	}
	return g.err(d, m, asym4EvalClamped(x, m, id))
}

// searchAsym4 finds the float16 scale and min minimising the squared error
// of an INT4 asymmetric group with extremes mx and mn.
func searchAsym4(x []float32, mx, mn float32) (db, mb uint16, d, m float32, st status) {
	db, mb, d, m, st = asymRTNParams(mx, mn, 15)
	if st != statusOK || mx == mn {
		return db, mb, d, m, st
	}
	// RTN's grid spans from m <= mn to mx, so its scaled values stay in
	// 0.5..15.5, inside the code table.
	rtn, sx, cd, cm, ok := fanAsym4(x, mx, mn, m, 1/d)
	if !ok {
		return db, mb, d, m, statusOK
	}
	g := asym4Group{n: float64(len(x)), sx: sx, amax: float64(max(mx, -mn)), mx: mx, mn: mn}
	rtnErr, rtnSlack, rtnD, rtnM, rtnOK := g.err(d, m, rtn)

	// Alternate "round to float16, re-pick codes, refit" until scale and
	// min repeat.
	bestDB, bestMB, bestD, bestM := db, mb, d, m
	bestErr, bestSlack := rtnErr, rtnSlack
	for it := 0; it < lloydIters; it++ {
		b1, d1, st1 := f16Value(float32(cd))
		b2, m1, st2 := f16Value(float32(cm))
		if st1 != statusOK || st2 != statusOK || d1 <= 0 {
			break
		}
		e, slack, fd, fm, fitOK := rtnErr, rtnSlack, rtnD, rtnM, rtnOK
		if b1 != db || b2 != mb {
			e, slack, fd, fm, fitOK = g.eval(x, d1, m1)
		}
		if e < bestErr {
			bestDB, bestMB, bestD, bestM, bestErr, bestSlack = b1, b2, d1, m1, e, slack
		}
		if !fitOK {
			break
		}
		cd, cm = fd, fm
		if F32ToF16(float32(cd)) == b1 && F32ToF16(float32(cm)) == b2 {
			break
		}
	}
	// Leave RTN only for a gain larger than both error bounds.
	if bestErr+bestSlack >= rtnErr-rtnSlack {
		return db, mb, d, m, statusOK
	}
	return bestDB, bestMB, bestD, bestM, statusOK
}
