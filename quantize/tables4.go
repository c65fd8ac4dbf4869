package quantize

// Lookup tables for the INT4 searches. They are pure functions of
// constants, built once when the package is initialised and only read
// afterwards.

// int4Tab holds the INT4 search tables; read-only after initialisation.
var int4Tab = newInt4Tables()

type int4Tables struct {
	// For a truncated code position r (see codeIndex), c = clamp(r, 0, 15)
	// is the stored code: code[r+32] = c for the encoders. Asymmetric
	// evaluations use val[r+32] = c and packed[r+32] = c | c*c<<16: summed
	// over a group, the low half holds sum(c) and the high half sum(c^2),
	// neither reaching 2^16 for G <= 256 (256*225 = 57600). Symmetric
	// evaluations use the signed code q = c-8: symQ[r+32] = q and
	// symQQ[r+32] = q*q.
	code   [codeSlots]uint8
	val    [codeSlots]float64
	packed [codeSlots]uint32
	symQ   [codeSlots]float64
	symQQ  [codeSlots]uint32

	symFan, asymFan fanTable
}

// codeSlots is the size of the code tables: position r is looked up at
// r+32, so r in -32..31 is covered, and the index is masked, which also
// spares the bounds checks.
const codeSlots = 64

// codeIndex is the code table index for the scaled value a (v/d+8.5 for
// symmetric, (v-m)/d+0.5 for asymmetric): r = int32(a), whose clamp to
// 0..15 is exactly how q4s and q4a form codes. Callers guarantee
// |a| < 32 (see codeRangeOK), where the table is exact.
func codeIndex(a float32) int32 {
	return (int32(a) + 32) & (codeSlots - 1)
}

// codeRangeOK reports whether scaled values between lo and hi stay where
// codeIndex is exact. Scaling is monotonic in the element, so checking the
// scaled group extremes covers every element.
func codeRangeOK(lo, hi float32) bool {
	return lo > -32 && hi < 32
}

// Candidate fans (see fan4.go): candidate k gives an element at position
// t in [0, 1] the code min(round(t*(s0+0.1k)), cap).
const (
	fanCells   = 512            // cells per group range (resolution of t)
	fanW       = fanCells - 0.5 // t*fanW is an element's cell, < fanCells
	fanMask    = 2*fanCells - 1 // fan table index mask
	fanSlots   = 64             // candidates in slots 1..31, discards in 32..63
	fanStep    = 0.1            // spacing of candidate scales, in codes
	symFanS0   = 7.1            // symmetric scales 7.1..9.3 (RTN: 8)...
	symFanLen  = 23             // ...23 candidates
	asymFanS0  = 14             // asymmetric scales 14..16 (RTN: 15)...
	asymFanLen = asymSteps + 1  // ...21 candidates, as in searchAsym
)

// fanTable describes, for each cell j, what an element there contributes
// to a fan scan. Cell j of an element whose codes stop at caps[0] is at
// index fanCells+j; cell j >= 1 of one that stops at caps[1] is at
// fanCells-j (cell 0 gives code 0 throughout, whatever the cap). For a
// symmetric group that is int32(x*fanW/ref) + fanCells: elements of ref's
// sign have positive codes up to 7, the others negative ones down to -8.
// Asymmetric fans use the upper half only.
type fanTable struct {
	base [2 * fanCells]uint64 // the code c at k = 0: j*c<<32 | c*c<<16 | c
	step [2 * fanCells]uint64 // one step up from c: j<<32 | (2c+1)<<16 | 1
	slot [2 * fanCells]uint16 // slots of the steps to c+1 and c+2: k1 | k2<<8
}

func (f *fanTable) build(s0 float64, n int, caps [2]int) {
	for side, cp := range caps {
		for j := range fanCells {
			t := (float64(j) + 0.5) / fanW
			code := func(k int) int { return min(int(t*(s0+fanStep*float64(k))+0.5), cp) }
			c := code(0)
			// A step that never happens within the fan goes to a discard
			// slot, spread by cell so that consecutive elements seldom
			// update the same slot (each update waits for the previous).
			k1, k2 := 32+j&15, 48+j&15
			for k := n - 1; k >= 1; k-- {
				if code(k) >= c+1 {
					k1 = k
				}
				if code(k) >= c+2 {
					k2 = k
				}
			}
			i := fanCells + j
			if side == 1 {
				if j == 0 {
					continue // shared with side 0
				}
				i = fanCells - j
			}
			uj, uc := uint64(j), uint64(c)
			f.base[i] = uj*uc<<32 | uc*uc<<16 | uc
			f.step[i] = uj<<32 | (2*uc+1)<<16 | 1
			f.slot[i] = uint16(k1 | k2<<8)
		}
	}
}

func newInt4Tables() *int4Tables {
	t := new(int4Tables)
	for i := range codeSlots {
		c := uint32(min(max(i-32, 0), 15))
		t.code[i] = uint8(c)
		t.val[i] = float64(c)
		t.packed[i] = c | c*c<<16
		q := int32(c) - 8
		t.symQ[i] = float64(q)
		t.symQQ[i] = uint32(q * q)
	}
	t.symFan.build(symFanS0, symFanLen, [2]int{7, 8})
	t.asymFan.build(asymFanS0, asymFanLen, [2]int{15, 15})
	return t
}
