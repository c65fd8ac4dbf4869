package tokenizer

import "strings"

// StreamDecoder turns ids into text one at a time, for printing generated
// tokens as they come. It never emits part of a UTF-8 character: text that
// ends in an incomplete byte sequence (a byte-fallback or byte-level token
// holding half a character) is held back until the character is complete.
type StreamDecoder struct {
	t           *Tokenizer
	skipSpecial bool
	ids         []int  // the ids still needed as context
	prefix      string // the decoded text of ids[:prefixLen]
	prefixLen   int
}

// streamContext is how many ids before the first new one serve as its
// context: enough for a character split over byte-level or byte-fallback
// tokens (at most four bytes) plus a word boundary.
const streamContext = 8

// NewStreamDecoder starts a stream. With skipSpecial, special tokens
// produce no text. The ids already in the sequence (the prompt) are given
// as context, so the first new token is decoded as a continuation (keeping
// its leading space) and not as the start of a text; they produce no text
// themselves.
func (t *Tokenizer) NewStreamDecoder(skipSpecial bool, context ...int) *StreamDecoder {
	d := &StreamDecoder{t: t, skipSpecial: skipSpecial}
	d.setContext(context)
	return d
}

// setContext keeps the last ids of context (as few as serve) as the
// context of the next id.
func (d *StreamDecoder) setContext(context []int) {
	// The context must not begin inside a character: byte-fallback
	// decoders turn a whole run of bytes into replacement characters
	// when it starts with a stray continuation byte.
	start := max(0, len(context)-streamContext)
	for i := start; i >= max(0, len(context)-4*streamContext); i-- {
		if !strings.HasPrefix(d.t.Decode(context[i:], d.skipSpecial), "\uFFFD") {
			start = i
			break
		}
	}
	d.ids = append([]int(nil), context[start:]...)
	d.prefix = d.t.Decode(d.ids, d.skipSpecial)
	d.prefixLen = len(d.ids)
}

// Next adds id and returns the text it completes (possibly empty).
//
// Decoders treat the start of the text specially (for example by dropping
// a leading space), so the text is decoded with the ids since the last
// emitted boundary as context, and only the part after the context's own
// text is new, as in the reference DecodeStream.
func (d *StreamDecoder) Next(id int) string {
	d.ids = append(d.ids, id)
	s := d.t.Decode(d.ids, d.skipSpecial)
	if len(s) <= len(d.prefix) || strings.HasSuffix(s, "\uFFFD") {
		return ""
	}
	var out string
	if strings.HasPrefix(s, d.prefix) {
		out = s[len(d.prefix):]
	} else {
		// Clean-up rules can rewrite text that was already emitted; it
		// cannot be taken back, so only the differing tail is emitted.
		out = s[commonPrefixLen(s, d.prefix):]
	}
	d.ids = d.ids[d.prefixLen:]
	d.prefix = d.t.Decode(d.ids, d.skipSpecial)
	d.prefixLen = len(d.ids)
	return out
}

// Flush returns text still held back (an incomplete character at the end
// of the stream, decoded with replacement characters) and resets the
// stream, keeping the ids seen as context for what follows.
func (d *StreamDecoder) Flush() string {
	s := d.t.Decode(d.ids, d.skipSpecial)
	var out string
	if len(s) > len(d.prefix) {
		out = s[commonPrefixLen(s, d.prefix):]
	}
	d.setContext(d.ids)
	return out
}

func commonPrefixLen(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	// Do not cut a character in two.
	for n > 0 && n < len(a) && a[n]&0xC0 == 0x80 {
		n--
	}
	return n
}
