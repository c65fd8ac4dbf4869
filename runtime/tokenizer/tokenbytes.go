package tokenizer

import "strings"

// TokenBytes returns the bytes that id adds to a text when it follows
// other tokens: a byte-level token's raw bytes (possibly part of a UTF-8
// character), a byte-fallback token's byte, a SentencePiece word's text
// with its leading space. Special tokens give their content; unknown ids
// nil. Constrained decoding and per-token log-probabilities need this
// view, which Decode hides (it drops leading spaces at the start of a text
// and replaces incomplete characters).
func (t *Tokenizer) TokenBytes(id int) []byte {
	tok, ok := t.TokenString(id)
	if !ok {
		return nil
	}
	if t.special[id] {
		return []byte(tok)
	}
	if _, added := t.addedIDs[tok]; added {
		return []byte(tok) // added tokens are stored as plain text
	}
	if bl := findByteLevel(t.decoder); bl != nil {
		return bl.appendBytes(nil, tok)
	}
	if hasByteFallback(t.decoder) {
		if b, ok := parseByteToken(tok); ok {
			return []byte{b}
		}
	}
	if t.decoder == nil {
		return []byte(tok)
	}
	// Decode after an anchor so that the token is not the start of the
	// text, which decoders treat specially.
	const anchor = "x"
	s := strings.Join(t.decoder.decodeChain([]string{anchor, tok}), "")
	return []byte(strings.TrimPrefix(s, anchor))
}

func findByteLevel(d decoder) *byteLevelTables {
	switch d := d.(type) {
	case byteLevelDecoder:
		return d.bl
	case decoderSeq:
		for _, x := range d {
			if bl := findByteLevel(x); bl != nil {
				return bl
			}
		}
	}
	return nil
}

func hasByteFallback(d decoder) bool {
	switch d := d.(type) {
	case byteFallbackDecoder:
		return true
	case decoderSeq:
		for _, x := range d {
			if hasByteFallback(x) {
				return true
			}
		}
	}
	return false
}
