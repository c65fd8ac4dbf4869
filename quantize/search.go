package quantize

// Error-minimising (MSE) parameter search.
//
// Symmetric groups follow the idea of llama.cpp's make_qx_quants: try a fan
// of scales around the RTN one (which stretch or shrink the code grid and so
// trade clipping of the extremes against resolution in the bulk), and for
// each candidate refit the scale by least squares given the codes it
// produced; keep the candidate whose refit explains the most energy.
//
// Asymmetric groups follow the idea of make_qkx2_quants: a fan of scales
// anchored at the group minimum, each followed by a joint least-squares refit
// of scale and min.
//
// Both then alternate "round scale/min to float16, re-pick codes, refit" a few
// times, and compare the result against plain RTN using the exact float16
// values a reader sees, so MSE is never worse than RTN on any group.
//
// INT8 uses the searches in this file, with the candidate fan scaled to its
// code range (relative spread of the candidates is the same as for INT4); at
// 8 bits the gain over RTN is small, but it is never a loss. Candidates are
// scanned coarse-to-fine (every third, then the neighbours of the best),
// which on Gaussian data finds the same optimum as the full fan to within
// 0.01 dB at a little over half the cost.
//
// INT4, the common case, has its own implementation of the same searches
// (search4.go, asym4.go): the whole fan is evaluated in a single pass
// (fan4.go) and every exact evaluation is reduced to sums over the codes,
// several times faster, with the same or slightly better results.
//
// The objective is the plain (unweighted) squared error, which is what
// Compare measures. Sums of codes are exact integers; sums involving x are
// float64 because candidate errors differ by far less than the float32
// resolution of the total energy.

const (
	searchSteps  = 9      // candidates k = -searchSteps..searchSteps (symmetric)
	searchStepSz = 0.0125 // relative scale step per k: 0.1 of a code at 8 codes
	lloydIters   = 4      // float16-aware refinement rounds
	asymSteps    = 20     // candidates 0..asymSteps (asymmetric)
)

// evalSym returns the squared error of x for stored scale d and codes
// clamp(round(x/d), lo, hi), plus the sums needed for a least-squares refit.
// The codes are formed exactly as encode8Sym forms them.
func evalSym(x []float32, d, lo, hi float32) (e, sxq, sqq float64) {
	if d == 0 {
		for _, v := range x {
			e += float64(v) * float64(v)
		}
		return e, 0, 0
	}
	id := 1 / d
	bias := 0.5 - lo
	for _, v := range x {
		t := v * id
		if t < lo {
			t = lo
		}
		if t > hi {
			t = hi
		}
		q := float32(int32(t+bias)) + lo
		r := float64(v - d*q)
		e += r * r
		sxq += float64(v) * float64(q)
		sqq += float64(q) * float64(q)
	}
	return e, sxq, sqq
}

// symCandidate returns sum(x*q) and sum(q*q) for codes
// q = clamp(round(x*id), lo, hi). The code sums are exact in int32 (at most
// 256 * 127^2); the products use two float64 accumulators so the loop is not
// bound by the latency of a single add chain.
func symCandidate(x []float32, id, lo, hi, bias float32) (sxq, sqq float64) {
	var s0, s1 float64
	var qq int32
	i := 0
	for ; i+1 < len(x); i += 2 {
		a, b := x[i]*id, x[i+1]*id
		if a < lo {
			a = lo
		}
		if a > hi {
			a = hi
		}
		if b < lo {
			b = lo
		}
		if b > hi {
			b = hi
		}
		qa := int32(a+bias) + int32(lo)
		qb := int32(b+bias) + int32(lo)
		s0 += float64(x[i]) * float64(qa)
		s1 += float64(x[i+1]) * float64(qb)
		qq += qa*qa + qb*qb
	}
	if i < len(x) {
		a := min(max(x[i]*id, lo), hi)
		qa := int32(a+bias) + int32(lo)
		s0 += float64(x[i]) * float64(qa)
		qq += qa * qa
	}
	return s0 + s1, float64(qq)
}

// searchSym finds the float16 scale minimising the group's squared error
// for codes in lo..hi. ref/base is the RTN scale (the baseline); candidates
// are ref/(base + k*step).
func searchSym(x []float32, ref, base, lo, hi float32) (uint16, float32, status) {
	bestBits, bestD, st := f16Away(ref / base) // exactly the RTN scale
	if st != statusOK {
		return 0, 0, st
	}
	bestErr, _, _ := evalSym(x, bestD, lo, hi)
	if ref == 0 || bestErr == 0 {
		return bestBits, bestD, statusOK
	}

	// Candidate fan with unrounded scales: score each by the energy its
	// least-squares refit explains, sxq^2/sqq (maximised <=> error minimised).
	step := base * searchStepSz
	bias := 0.5 - lo
	var bestScore float64
	var s float32
	bestK := 0
	try := func(k int) {
		id := (base + step*float32(k)) / ref
		sxq, sqq := symCandidate(x, id, lo, hi, bias)
		if sqq > 0 && sxq*sxq > bestScore*sqq {
			bestScore = sxq * sxq / sqq
			s = float32(sxq / sqq)
			bestK = k
		}
	}
	// Coarse pass over every third candidate, then the neighbours of the
	// best (see searchAsym): 11 passes instead of 19.
	for k := -searchSteps; k <= searchSteps; k += 3 {
		try(k)
	}
	c := bestK
	for _, dk := range []int{-2, -1, 1, 2} {
		if k := c + dk; k >= -searchSteps && k <= searchSteps {
			try(k)
		}
	}
	if s == 0 {
		return bestBits, bestD, statusOK
	}

	for it := 0; it < lloydIters; it++ {
		b, d, st := f16Value(s)
		if st != statusOK || d == 0 {
			break
		}
		e, sxq, sqq := evalSym(x, d, lo, hi)
		if e < bestErr {
			bestErr, bestBits, bestD = e, b, d
		}
		if sqq == 0 {
			break
		}
		s = float32(sxq / sqq)
		if F32ToF16(s) == b {
			break
		}
	}
	return bestBits, bestD, statusOK
}

// asymSums are the least-squares statistics for fitting x ≈ d*l + m.
type asymSums struct {
	n, sx, sl, sll, sxl float64
}

// fit solves the 2x2 normal equations; ok is false when the codes are all
// equal (no information about the scale).
func (a asymSums) fit() (d, m float64, ok bool) {
	det := a.n*a.sll - a.sl*a.sl
	if det <= 0 {
		return 0, 0, false
	}
	d = (a.n*a.sxl - a.sx*a.sl) / det
	m = (a.sll*a.sx - a.sl*a.sxl) / det
	return d, m, d > 0
}

// evalAsym returns the squared error of x for stored d, m and codes
// clamp(round((x-m)/d), 0, nmax), formed as encode8Asym does,
// plus the refit sums.
func evalAsym(x []float32, d, m, nmax float32, sx float64) (float64, asymSums) {
	id := inverse(d)
	var e0, e1, s0, s1 float64
	var sl, sll int32
	code := func(v float32) int32 {
		t := (v-m)*id + 0.5
		if t < 0 {
			t = 0
		}
		if t > nmax {
			t = nmax
		}
		return int32(t)
	}
	i := 0
	for ; i+1 < len(x); i += 2 {
		va, vb := x[i], x[i+1]
		la, lb := code(va), code(vb)
		ra := float64(va - (d*float32(la) + m))
		rb := float64(vb - (d*float32(lb) + m))
		e0 += ra * ra
		e1 += rb * rb
		sl += la + lb
		sll += la*la + lb*lb
		s0 += float64(va) * float64(la)
		s1 += float64(vb) * float64(lb)
	}
	if i < len(x) {
		va := x[i]
		la := code(va)
		ra := float64(va - (d*float32(la) + m))
		e0 += ra * ra
		sl += la
		sll += la * la
		s0 += float64(va) * float64(la)
	}
	return e0 + e1, asymSums{n: float64(len(x)), sx: sx, sl: float64(sl), sll: float64(sll), sxl: s0 + s1}
}

// asymCandidate returns the refit sums (on y = x - mn) for codes
// l = min(round(y*iscale), nmax); y >= 0 so no lower clamp is needed. Code
// sums are exact in int32 (at most 256 * 255^2).
func asymCandidate(x []float32, mn, iscale, nmax float32) asymSums {
	var s0, s1 float64
	var sl, sll int32
	i := 0
	for ; i+1 < len(x); i += 2 {
		ya, yb := x[i]-mn, x[i+1]-mn
		ta, tb := ya*iscale+0.5, yb*iscale+0.5
		if ta > nmax {
			ta = nmax
		}
		if tb > nmax {
			tb = nmax
		}
		la, lb := int32(ta), int32(tb)
		sl += la + lb
		sll += la*la + lb*lb
		s0 += float64(ya) * float64(la)
		s1 += float64(yb) * float64(lb)
	}
	if i < len(x) {
		ya := x[i] - mn
		la := int32(min(ya*iscale+0.5, nmax))
		sl += la
		sll += la * la
		s0 += float64(ya) * float64(la)
	}
	return asymSums{n: float64(len(x)), sl: float64(sl), sll: float64(sll), sxl: s0 + s1}
}

// searchAsym finds the float16 scale and min minimising the group's squared
// error for codes 0..nmax.
func searchAsym(x []float32, mx, mn, nmax float32) (db, mb uint16, d, m float32, st status) {
	db, mb, d, m, st = asymRTNParams(mx, mn, nmax)
	if st != statusOK {
		return 0, 0, 0, 0, st
	}
	var sx float64
	for _, v := range x {
		sx += float64(v)
	}
	bestErr, _ := evalAsym(x, d, m, nmax, sx)
	if mx == mn || bestErr == 0 {
		return db, mb, d, m, statusOK
	}

	// Candidate fan anchored at the true minimum. Sums are taken on
	// y = x - mn so that groups far from zero stay well conditioned (the
	// fitted min is shifted back afterwards), and the residual of a
	// least-squares fit is sum(y^2) - d*sum(y*l) - m*sum(y), so no second
	// pass is needed.
	span := mx - mn
	rel := nmax / 15 // candidate spacing in codes, relative to INT4's 0.1
	var ys, yy float64
	for _, v := range x {
		y := float64(v - mn)
		ys += y
		yy += y * y
	}
	bestFit := -1.0
	var cd, cm float64
	bestK := 0
	try := func(k int) {
		iscale := (nmax + rel*(-1+0.1*float32(k))) / span
		a := asymCandidate(x, mn, iscale, nmax)
		a.sx = ys
		fd, fm, ok := a.fit()
		if !ok {
			return
		}
		resid := yy - fd*a.sxl - fm*ys
		if bestFit < 0 || resid < bestFit {
			bestFit, cd, cm, bestK = resid, fd, fm+float64(mn), k
		}
	}
	// Coarse pass over every third candidate, then the neighbours of the
	// best: the fit varies smoothly with k, and this costs 11 passes instead
	// of 21 for the same result on Gaussian data (within 0.01 dB).
	for k := 0; k <= asymSteps; k += 3 {
		try(k)
	}
	c := bestK
	for _, dk := range []int{-2, -1, 1, 2} {
		if k := c + dk; k >= 0 && k <= asymSteps {
			try(k)
		}
	}
	if bestFit < 0 {
		return db, mb, d, m, statusOK
	}

	for it := 0; it < lloydIters; it++ {
		b1, d1, st1 := f16Value(float32(cd))
		b2, m1, st2 := f16Value(float32(cm))
		if st1 != statusOK || st2 != statusOK || d1 <= 0 {
			break
		}
		e, a := evalAsym(x, d1, m1, nmax, sx)
		if e < bestErr {
			bestErr, db, mb, d, m = e, b1, b2, d1, m1
		}
		fd, fm, ok := a.fit()
		if !ok {
			break
		}
		cd, cm = fd, fm
		if F32ToF16(float32(cd)) == b1 && F32ToF16(float32(cm)) == b2 {
			break
		}
	}
	return db, mb, d, m, statusOK
}

func int4SymMSE(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	db, d, st := searchSym4(x, -signedMax(mx, mn))
	if st != statusOK {
		return 0, 0, st
	}
	encode4Sym(x, d, mx, mn, out)
	return db, 0, statusOK
}

func int8SymMSE(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	db, d, st := searchSym(x, max(mx, -mn), 127, -127, 127)
	if st != statusOK {
		return 0, 0, st
	}
	encode8Sym(x, d, out)
	return db, 0, statusOK
}

func int4AsymMSE(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	db, mb, d, m, st := searchAsym4(x, mx, mn)
	if st != statusOK {
		return 0, 0, st
	}
	encode4Asym(x, d, m, mx, mn, out)
	return db, mb, statusOK
}

func int8AsymMSE(x []float32, mx, mn float32, out []byte) (uint16, uint16, status) {
	db, mb, d, m, st := searchAsym(x, mx, mn, 255)
	if st != statusOK {
		return 0, 0, st
	}
	encode8Asym(x, d, m, out)
	return db, mb, statusOK
}
