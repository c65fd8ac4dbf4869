package tokenizer

import "unicode/utf8"

// byteLevelTables maps raw bytes to the printable runes that GPT-2 style
// byte-level vocabularies are written in, and back.
type byteLevelTables struct {
	toRune [256]rune
	toByte map[rune]byte
}

// newByteLevelTables builds the GPT-2 bytes_to_unicode table: printable
// Latin-1 bytes stand for themselves and the other 68 bytes are shifted to
// U+0100 onwards so that every byte has a visible, non-space rune.
func newByteLevelTables() *byteLevelTables {
	t := &byteLevelTables{toByte: make(map[rune]byte, 256)}
	var printable [256]bool
	for b := '!'; b <= '~'; b++ {
		printable[b] = true
	}
	for b := '¡'; b <= '¬'; b++ {
		printable[b] = true
	}
	for b := '®'; b <= 'ÿ'; b++ {
		printable[b] = true
	}
	n := rune(0)
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !printable[b] {
			r = 256 + n
			n++
		}
		t.toRune[b] = r
		t.toByte[r] = byte(b)
	}
	return t
}

// mapString returns the byte-level form of s.
func (t *byteLevelTables) mapString(s string) string {
	buf := make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		buf = utf8.AppendRune(buf, t.toRune[s[i]])
	}
	return string(buf)
}

// appendBytes appends the raw bytes that token stands for. A token with a
// rune outside the table (an added token such as "<｜User｜>") is copied
// as is, which is what the reference decoder does.
func (t *byteLevelTables) appendBytes(dst []byte, token string) []byte {
	start := len(dst)
	for _, r := range token {
		b, ok := t.toByte[r]
		if !ok {
			return append(dst[:start], token...)
		}
		dst = append(dst, b)
	}
	return dst
}

// appendLossyUTF8 appends s to dst with every maximal invalid UTF-8
// subsequence replaced by one U+FFFD, the WHATWG / Rust from_utf8_lossy rule.
// Go's own conversion replaces byte by byte, which would give more
// replacement characters for a truncated multi-byte sequence.
func appendLossyUTF8(dst []byte, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if r, w := utf8.DecodeRune(s[i:]); r != utf8.RuneError || w > 1 {
			dst = append(dst, s[i:i+w]...)
			i += w
			continue
		}
		i += invalidPrefixLen(s[i:])
		dst = append(dst, "\uFFFD"...)
	}
	return dst
}

// invalidPrefixLen returns the length of the maximal subpart of an
// ill-formed sequence at the start of s (at least 1).
func invalidPrefixLen(s []byte) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		b := s[n]
		if b < lo || b > hi {
			break
		}
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}
