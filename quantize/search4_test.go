package quantize

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// fanCode is the code candidate k of a fan gives to an element in cell i of
// table f, read back from the table: the code at k = 0 plus the steps at or
// before k (slots of 32 and above are steps that never happen).
func fanCode(f *fanTable, i, k int) int {
	c := int(f.base[i] & 0xffff)
	for _, s := range [2]int{int(f.slot[i] & 0xff), int(f.slot[i] >> 8)} {
		if s < 32 && k >= s {
			c++
		}
	}
	return c
}

// Every cell of both fan tables must reproduce, for every candidate, the
// code min(round(t*s_k), cap) of the cell's midpoint t; in particular no
// element may need a third step, and the packed sums must match the code.
func TestFanTables(t *testing.T) {
	type side struct {
		cap   int
		index func(j int) int
	}
	sym := []side{
		{7, func(j int) int { return fanCells + j }},
		{8, func(j int) int { return fanCells - j }},
	}
	asym := []side{{15, func(j int) int { return fanCells + j }}}
	for _, tc := range []struct {
		name  string
		f     *fanTable
		s0    float64
		n     int
		sides []side
	}{
		{"symmetric", &int4Tab.symFan, symFanS0, symFanLen, sym},
		{"asymmetric", &int4Tab.asymFan, asymFanS0, asymFanLen, asym},
	} {
		for _, sd := range tc.sides {
			for j := 0; j < fanCells; j++ {
				i := sd.index(j)
				if j == 0 && sd.cap == 8 {
					continue // cell 0 is shared; checked with the other side
				}
				tm := (float64(j) + 0.5) / fanW
				c0 := int(tc.f.base[i] & 0xffff)
				uj, uc := uint64(j), uint64(c0)
				if tc.f.base[i] != uj*uc<<32|uc*uc<<16|uc || tc.f.step[i] != uj<<32|(2*uc+1)<<16|1 {
					t.Fatalf("%s cap %d cell %d: packed sums %#x, %#x do not match code %d", tc.name, sd.cap, j, tc.f.base[i], tc.f.step[i], c0)
				}
				for k := 0; k < tc.n; k++ {
					want := min(int(math.Floor(tm*(tc.s0+0.1*float64(k))+0.5)), sd.cap)
					if got := fanCode(tc.f, i, k); got != want {
						t.Fatalf("%s cap %d cell %d candidate %d: code %d, want %d", tc.name, sd.cap, j, k, got, want)
					}
				}
			}
		}
	}
}

// The one-pass fan scans must agree with evaluating every candidate
// directly on the same cell-resolved positions: the candidate they pick
// must be one whose fit they return, and none may score better.
func TestFanScansMatchDirectSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for trial := 0; trial < 300; trial++ {
		n := []int{7, 32, 100, 128, 256}[trial%5]
		x := gaussian(r, n, 0.02)
		if trial%3 == 1 { // heavy tails
			for i := range x {
				x[i] *= float32(math.Abs(r.NormFloat64()))
			}
		}
		mx, mn, _ := extremes(x)
		checkSymFan(t, x, -signedMax(mx, mn))
		checkAsymFan(t, x, mx, mn)
	}
}

// fit is one candidate of a direct fan search.
type fit struct{ d, m, score float64 }

// pickFit checks that (d, m) is the fit of a candidate with the best score.
func pickFit(t *testing.T, what string, fits []fit, d, m float64) {
	t.Helper()
	best, found := math.Inf(-1), false
	for _, f := range fits {
		best = max(best, f.score)
	}
	for _, f := range fits {
		// The symmetric scan returns its scale in float32.
		if math.Abs(f.d-d) <= 0x1p-22*math.Abs(f.d) && math.Abs(f.m-m) <= 1e-9*math.Abs(f.m)+1e-12 {
			found = found || f.score >= best-1e-9*math.Abs(best)
		}
	}
	if !found {
		t.Fatalf("%s: scan returned (%g, %g), not the fit of a best candidate among %v", what, d, m, fits)
	}
}

func checkSymFan(t *testing.T, x []float32, ref float32) {
	t.Helper()
	_, s, _ := fanSym4(x, ref, 8/ref)
	scale := fanW / ref
	var fits []fit
	for k := 0; k < symFanLen; k++ {
		var suc, scc float64 // sum(u*c), sum(c^2) over cell midpoints u
		for _, v := range x {
			y := int32(v * scale) // the scan's cell, signed by side
			cp := 7
			if y < 0 || (y == 0 && v*scale < 0) {
				cp = 8
			}
			j := math.Abs(float64(y))
			c := float64(min(int(math.Floor((j+0.5)/fanW*(symFanS0+0.1*float64(k))+0.5)), cp))
			suc += (j + 0.5) * c
			scc += c * c
		}
		if scc > 0 {
			st := float64(ref) / fanW * suc
			fits = append(fits, fit{st / scc, 0, st * st / scc})
		}
	}
	pickFit(t, "symmetric", fits, float64(s), 0)
}

func checkAsymFan(t *testing.T, x []float32, mx, mn float32) {
	t.Helper()
	if mx == mn {
		return
	}
	_, _, d, m, ok := fanAsym4(x, mx, mn, mn, 15/(mx-mn))
	scale := fanW / (mx - mn)
	cell := float64(mx-mn) / fanW
	var fits []fit
	for k := 0; k < asymFanLen; k++ {
		var n, su, sc, scc, suc float64
		for _, v := range x {
			u := float64(uint32((v-mn)*scale)) + 0.5
			c := float64(min(int(math.Floor(u/fanW*(asymFanS0+0.1*float64(k))+0.5)), 15))
			n, su, sc, scc, suc = n+1, su+u, sc+c, scc+c*c, suc+u*c
		}
		det := n*scc - sc*sc
		if det <= 0 {
			continue
		}
		du, mu := (n*suc-su*sc)/det, (scc*su-sc*suc)/det
		if du > 0 {
			fits = append(fits, fit{du * cell, float64(mn) + mu*cell, du*suc + mu*su})
		}
	}
	if !ok {
		if len(fits) > 0 {
			t.Fatalf("asymmetric scan found no fit, direct search found %v", fits)
		}
		return
	}
	pickFit(t, "asymmetric", fits, d, m)
}

// groupCodes reads the codes of one INT4 group back from its packed slot.
func groupCodes(out []byte, n int) []int {
	c := make([]int, n)
	for i := range c {
		b := out[i/32*16+i%16]
		if i%32 >= 16 {
			b >>= 4
		}
		c[i] = int(b & 15)
	}
	return c
}

// The evaluations, table-driven or clamped, must see exactly the codes the
// encoders write, and their error formulas must stay within their stated
// bounds of the error a reader sees.
func TestInt4EvaluationsMatchEncoders(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for trial := 0; trial < 400; trial++ {
		n := []int{1, 31, 64, 128, 200, 256}[trial%6]
		x := gaussian(r, n, 0.05)
		switch trial % 4 {
		case 1: // far from zero: stresses the asymmetric formula
			for i := range x {
				x[i] += 700
			}
		case 2: // on a coarse grid: exact ties
			for i := range x {
				x[i] = float32(math.Round(float64(x[i])*100)) / 16
			}
		}
		mx, mn, _ := extremes(x)
		amax := max(mx, -mn)
		out := make([]byte, (n+31)/32*16)

		// Symmetric: a scale from about RTN's to far too small, where the
		// table no longer applies.
		_, d, st := f16Value(amax / float32(8*math.Exp2(r.Float64()*7-0.5)))
		if st != statusOK || d == 0 {
			continue
		}
		g := sym4Group{n: float64(n), amax: float64(amax)}
		e, slack, _ := g.eval(x, d)
		encode4Sym(x, d, mx, mn, out)
		var want float64
		var sqq uint32
		for i, c := range groupCodes(out, n) {
			q := c - 8
			sqq += uint32(q * q)
			diff := float64(x[i]) - float64(d*float32(q))
			want += diff * diff
		}
		sxx := exactSumSquares(x)
		clamped := sym4EvalClamped(x, 1/d)
		if clamped.sqq != sqq {
			t.Fatalf("trial %d: clamped symmetric sum(q^2) %d, encoder's codes give %d", trial, clamped.sqq, sqq)
		}
		if a := float32(g.amax) * absf32(1/d); codeRangeOK(8.5-a, 8.5+a) {
			if s := sym4Eval(x, 1/d); s.sqq != sqq || s.sxq != clamped.sxq && math.Abs(s.sxq-clamped.sxq) > 1e-12*math.Abs(clamped.sxq) {
				t.Fatalf("trial %d: table symmetric sums %v, clamped %v", trial, s, clamped)
			}
		}
		if math.Abs(e+sxx-want) > slack+0x1p-50*sxx {
			t.Fatalf("trial %d: symmetric error %g, reader's %g, bound %g", trial, e+sxx, want, slack)
		}

		// Asymmetric: scale and min around RTN's, sometimes far off.
		if mx == mn {
			continue
		}
		span := mx - mn
		_, da, st1 := f16Value(span / 15 * float32(math.Exp2(r.Float64()*6-4)))
		_, ma, st2 := f16Value(mn + span*float32(r.Float64()-0.5)*0.3)
		if st1 != statusOK || st2 != statusOK || da == 0 {
			continue
		}
		ga := asym4Group{n: float64(n), amax: float64(amax), mx: mx, mn: mn}
		for _, v := range x {
			ga.sx += float64(v)
		}
		ea, slackA, _, _, _ := ga.eval(x, da, ma)
		encode4Asym(x, da, ma, mx, mn, out)
		want = 0
		for i, c := range groupCodes(out, n) {
			diff := float64(x[i]) - float64(da*float32(c)+ma)
			want += diff * diff
		}
		if math.Abs(ea+sxx-want) > slackA+0x1p-50*sxx {
			t.Fatalf("trial %d: asymmetric error %g, reader's %g, bound %g", trial, ea+sxx, want, slackA)
		}
	}
}

// exactSumSquares is sum(x^2) rounded once, so that tests can take errors
// relative to it without adding rounding of their own.
func exactSumSquares(x []float32) float64 {
	s := new(big.Float).SetPrec(256)
	for _, v := range x {
		f := new(big.Float).SetPrec(256).SetFloat64(float64(v))
		s.Add(s, f.Mul(f, f))
	}
	r, _ := s.Float64()
	return r
}
