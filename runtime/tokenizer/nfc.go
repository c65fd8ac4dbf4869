package tokenizer

import (
	"sync"
	"unicode/utf8"
)

// Canonical normalization (NFC and NFD) per UAX #15, driven by the tables
// in nfc_tables.go.

const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

type nfcData struct {
	ccc     map[rune]uint8
	decomp  map[rune][2]rune
	compose map[uint64]rune
	// quickNo holds runes that never occur in NFC text; quickMaybe holds
	// runes that may compose with what precedes them.
	quickNo    map[rune]bool
	quickMaybe map[rune]bool
}

// nfcTables builds the lookup maps once, on first use, so that programs
// that never normalize do not pay for them.
var nfcTables = sync.OnceValue(func() *nfcData {
	d := &nfcData{
		ccc:        make(map[rune]uint8, len(cccTable)),
		decomp:     make(map[rune][2]rune, len(decompTable)),
		compose:    make(map[uint64]rune, len(composeTable)),
		quickNo:    make(map[rune]bool),
		quickMaybe: make(map[rune]bool),
	}
	for _, v := range cccTable {
		d.ccc[rune(v>>8)] = uint8(v)
	}
	const mask = 1<<21 - 1
	for _, v := range decompTable {
		d.decomp[rune(v>>42)] = [2]rune{rune(v >> 21 & mask), rune(v & mask)}
	}
	for _, v := range composeTable {
		a, b, c := rune(v>>42), rune(v>>21&mask), rune(v&mask)
		d.compose[uint64(a)<<32|uint64(b)] = c
		d.quickMaybe[b] = true
	}
	for r := rune(hangulVBase); r < hangulVBase+hangulVCount; r++ {
		d.quickMaybe[r] = true
	}
	for r := rune(hangulTBase + 1); r < hangulTBase+hangulTCount; r++ {
		d.quickMaybe[r] = true
	}
	for r := range d.decomp {
		out := d.composeRunes(d.decompose(nil, r))
		if len(out) != 1 || out[0] != r {
			d.quickNo[r] = true
		}
	}
	return d
})

// decompose appends the full canonical decomposition of r.
func (d *nfcData) decompose(dst []rune, r rune) []rune {
	if s := r - hangulSBase; s >= 0 && s < hangulSCount {
		dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, hangulTBase+t)
		}
		return dst
	}
	p, ok := d.decomp[r]
	if !ok {
		return append(dst, r)
	}
	dst = d.decompose(dst, p[0])
	if p[1] != 0 {
		dst = d.decompose(dst, p[1])
	}
	return dst
}

// decomposeString returns the canonically ordered full decomposition of s.
func (d *nfcData) decomposeString(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = d.decompose(out, r)
	}
	// Canonical ordering: a stable insertion sort of each run of
	// non-starters by combining class.
	for i := 1; i < len(out); i++ {
		c := d.ccc[out[i]]
		if c == 0 {
			continue
		}
		j := i
		for j > 0 {
			pc := d.ccc[out[j-1]]
			if pc == 0 || pc <= c {
				break
			}
			out[j], out[j-1] = out[j-1], out[j]
			j--
		}
	}
	return out
}

func (d *nfcData) composePair(a, b rune) (rune, bool) {
	if l := a - hangulLBase; l >= 0 && l < hangulLCount {
		if v := b - hangulVBase; v >= 0 && v < hangulVCount {
			return hangulSBase + (l*hangulVCount+v)*hangulTCount, true
		}
	}
	if s := a - hangulSBase; s >= 0 && s < hangulSCount && s%hangulTCount == 0 {
		if t := b - hangulTBase; t > 0 && t < hangulTCount {
			return a + t, true
		}
	}
	c, ok := d.compose[uint64(a)<<32|uint64(b)]
	return c, ok
}

// composeRunes applies canonical composition in place to a decomposed,
// canonically ordered rune slice.
func (d *nfcData) composeRunes(rs []rune) []rune {
	if len(rs) == 0 {
		return rs
	}
	starterPos := 0
	starter := rs[0]
	lastClass := int(d.ccc[starter])
	if lastClass != 0 {
		lastClass = 256 // a leading non-starter blocks everything after it
	}
	out := 1
	for i := 1; i < len(rs); i++ {
		ch := rs[i]
		chClass := int(d.ccc[ch])
		if c, ok := d.composePair(starter, ch); ok && (lastClass < chClass || lastClass == 0) {
			rs[starterPos] = c
			starter = c
			continue
		}
		if chClass == 0 {
			starterPos = out
			starter = ch
		}
		lastClass = chClass
		rs[out] = ch
		out++
	}
	return rs[:out]
}

// isNFC is the UAX #15 quick check; false means "maybe not".
func (d *nfcData) isNFC(s string) bool {
	last := uint8(0)
	for _, r := range s {
		if r < 0x300 {
			last = 0
			continue
		}
		c := d.ccc[r]
		if c != 0 && last > c {
			return false
		}
		if d.quickNo[r] || d.quickMaybe[r] {
			return false
		}
		last = c
	}
	return true
}

// belowCombining reports whether every rune of s is below U+0300 (the
// combining diacritics): no such rune is changed by NFC or composes with a
// neighbour.
func belowCombining(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xCC {
			return false
		}
	}
	return true
}

func toNFC(s string) string {
	if belowCombining(s) {
		return s
	}
	d := nfcTables()
	if d.isNFC(s) {
		return s
	}
	return string(d.composeRunes(d.decomposeString(s)))
}

func toNFD(s string) string {
	allASCII := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			allASCII = false
			break
		}
	}
	if allASCII {
		return s
	}
	return string(nfcTables().decomposeString(s))
}
