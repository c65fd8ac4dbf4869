package quantize

// One-pass evaluation of the INT4 candidate fans.
//
// The searches of search.go evaluate a fan of candidate scales, each in its
// own pass over the group. For INT4 every candidate k gives an element at
// position t in [0, 1] of the group's range (|x|/|ref| for symmetric,
// (x-min)/span for asymmetric groups) the code min(round(t*s_k), cap),
// with s_k = s0 + 0.1k. Across the fan s grows by about two codes, so an
// element's code steps up at most twice, at candidates that depend only on
// t. The tables of tables4.go give, per cell of 1/fanW of the range, the
// element's contribution at k = 0 and the two candidates where it steps.
//
// A scan adds each element's k = 0 contribution to a base sum and its steps
// to per-candidate slots; a prefix sum over the slots then yields the
// least-squares sums of every candidate: 21 or 23 candidates for about the
// cost of three plain passes. t is resolved to a cell, which perturbs
// the sums far less than ranking candidates needs (512 cells score the same
// as 4096 to within 0.003 dB); the winner is refined with exact passes.
//
// Sums are packed into one uint64 per slot so that a step costs a single
// memory update: bits 0..15 hold sum(c), 16..31 sum(c^2) and 32..63
// sum(j*c) with j the element's cell. None can carry into the next for
// G <= 256: 256*15 < 2^16, 256*225 < 2^16 and 256*15*511 < 2^32.
//
// The same pass evaluates RTN exactly, which every search needs as its
// baseline.

// fanSums unpacks the sums of a slot prefix: sum(c), sum(c^2), and
// sum(u*c) with u = j+0.5 the element's position in cells.
func fanSums(w uint64) (sc, scc, suc float64) {
	sc = float64(w & 0xffff)
	return sc, float64(w >> 16 & 0xffff), float64(w>>32) + 0.5*sc
}

// fanSym4 scans a symmetric group whose reference extreme (RTN's code -8)
// is ref != 0, evaluating RTN (1/d = idR) exactly on the way. It returns
// RTN's sums and the least-squares scale of the fan candidate whose refit
// explains the most energy, with that energy (0, 0 if every candidate
// quantizes the whole group to zero).
func fanSym4(x []float32, ref, idR float32) (rtn sym4Sums, s float32, score float64) {
	ft := &int4Tab.symFan
	q, qq := &int4Tab.symQ, &int4Tab.symQQ
	var slots [fanSlots]uint64
	var base uint64
	var rs float64
	var rq uint32
	scale := fanW / ref
	for _, v := range x {
		// |v| <= |ref|, so the table index is in 1..2*fanCells-1.
		i := (int32(v*scale) + fanCells) & fanMask
		base += ft.base[i]
		st, k := ft.step[i], ft.slot[i]
		st2 := st + 2<<16 // from c+1 to c+2
		slots[k&63] += st
		slots[k>>8&63] += st2
		// RTN, with the codes encode4Sym forms.
		r := codeIndex(v*idR + 8.5)
		rs += float64(v) * q[r]
		rq += qq[r]
	}
	rtn = sym4Sums{sxq: rs, sqq: rq}

	// With codes q = ±c, x*q = ref*t*c, so a candidate's refit scale is
	// ref*sum(t*c)/sum(c^2) and explains (ref*sum(t*c))^2/sum(c^2).
	cur := base
	var bestU, bestC float64
	for k := range symFanLen {
		cur += slots[k]
		_, scc, suc := fanSums(cur)
		if scc > 0 && (bestC == 0 || suc*suc*bestC > bestU*bestU*scc) {
			bestU, bestC = suc, scc
		}
	}
	if bestU == 0 {
		return rtn, 0, 0
	}
	st := float64(ref) / fanW * bestU // ref*sum(t*c)
	return rtn, float32(st / bestC), st * st / bestC
}

// fanAsym4 scans an asymmetric group with extremes mx > mn, evaluating RTN
// (min mR, 1/d = idR) exactly on the way. It returns RTN's sums, sum(x),
// and the joint least-squares scale and min of the fan candidate with the
// smallest residual (ok false if no candidate has a positive fit).
func fanAsym4(x []float32, mx, mn, mR, idR float32) (rtn asym4Sums, sx, d, m float64, ok bool) {
	ft := &int4Tab.asymFan
	val, packed := &int4Tab.val, &int4Tab.packed
	var slots [fanSlots]uint64
	var base, sumJ uint64
	var rs float64
	var rp uint32
	scale := fanW / (mx - mn)
	for _, v := range x {
		j := uint32((v-mn)*scale) & (fanCells - 1) // mn <= v <= mx: j < fanCells
		i := fanCells + j
		base += ft.base[i]
		st, k := ft.step[i], ft.slot[i]
		st2 := st + 2<<16 // from c+1 to c+2
		slots[k&63] += st
		slots[k>>8&63] += st2
		sumJ += uint64(j)
		// RTN, with the codes encode4Asym forms.
		f := float64(v)
		r := codeIndex((v-mR)*idR + 0.5)
		sx += f
		rs += f * val[r]
		rp += packed[r]
	}
	rtn = asym4Sums{sxc: rs, packed: rp}

	// Fit u ~ du*c + mu per candidate. With the normal equations the
	// residual is sum(u^2) - du*sum(u*c) - mu*sum(u), so the best candidate
	// maximises du*sum(u*c) + mu*sum(u). With du = nd/det and mu = nm/det
	// (det > 0) candidates compare by cross-multiplication, without a
	// division per candidate.
	n := float64(len(x))
	su := float64(sumJ) + 0.5*n
	cur := base
	var bestND, bestNM, bestDet, bestScore float64 // score = numerator of the objective
	for k := range asymFanLen {
		cur += slots[k]
		sc, scc, suc := fanSums(cur)
		det := n*scc - sc*sc
		nd := n*suc - su*sc
		if det <= 0 || nd <= 0 {
			continue
		}
		nm := scc*su - sc*suc
		if score := nd*suc + nm*su; !ok || score*bestDet > bestScore*det {
			bestND, bestNM, bestDet, bestScore, ok = nd, nm, det, score, true
		}
	}
	if !ok {
		return rtn, sx, 0, 0, false
	}
	bestD, bestM := bestND/bestDet, bestNM/bestDet
	cell := float64(mx-mn) / fanW
	return rtn, sx, bestD * cell, float64(mn) + bestM*cell, ok
}
