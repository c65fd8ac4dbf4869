package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// decoder turns token strings back into text. Like the reference, every
// step maps a list of strings to a list of strings, and the final list is
// concatenated.
type decoder interface {
	decodeChain(tokens []string) []string
}

type decoderSeq []decoder

func (seq decoderSeq) decodeChain(tokens []string) []string {
	for _, d := range seq {
		tokens = d.decodeChain(tokens)
	}
	return tokens
}

type byteLevelDecoder struct{ bl *byteLevelTables }

// decodeChain joins the bytes of all tokens and decodes them as UTF-8,
// replacing invalid sequences.
func (d byteLevelDecoder) decodeChain(tokens []string) []string {
	var raw []byte
	for _, t := range tokens {
		raw = d.bl.appendBytes(raw, t)
	}
	return []string{string(appendLossyUTF8(make([]byte, 0, len(raw)), raw))}
}

type replaceDecoder struct {
	pattern splitPattern
	content string
}

func (d replaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = replaceAll(d.pattern, t, d.content)
	}
	return out
}

type byteFallbackDecoder struct{}

// decodeChain turns runs of "<0xNN>" tokens into text; a run that is not
// valid UTF-8 becomes one U+FFFD per byte, as in the reference.
func (byteFallbackDecoder) decodeChain(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if s := string(pending); utf8.ValidString(s) {
			out = append(out, s)
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// parseByteToken reads "<0xNN>" (upper- or lower-case hex digits).
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(t[3])
	lo, ok2 := hexVal(t[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

type fuseDecoder struct{}

func (fuseDecoder) decodeChain(tokens []string) []string {
	return []string{strings.Join(tokens, "")}
}

type stripDecoder struct {
	content     rune
	start, stop int
}

// decodeChain removes up to start leading and stop trailing content runes
// from every token.
func (d stripDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		rs := []rune(t)
		lo, hi := 0, len(rs)
		for lo < d.start && lo < hi && rs[lo] == d.content {
			lo++
		}
		for k := 0; k < d.stop && hi > lo && rs[hi-1] == d.content; k++ {
			hi--
		}
		out[i] = string(rs[lo:hi])
	}
	return out
}

type metaspaceDecoder struct {
	replacement string
	dropFirst   bool // prepend scheme is not "never"
}

// decodeChain turns the replacement back into spaces; in the first token
// it is dropped instead, undoing the prepended one (the reference drops
// every occurrence there, not only the leading one).
func (d metaspaceDecoder) decodeChain(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		with := " "
		if i == 0 && d.dropFirst {
			with = ""
		}
		out[i] = strings.ReplaceAll(t, d.replacement, with)
	}
	return out
}

func buildDecoder(raw json.RawMessage, bl *byteLevelTables) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	switch c.Type {
	case "Sequence":
		seq := make(decoderSeq, 0, len(c.Decoders))
		for i, r := range c.Decoders {
			d, err := buildDecoder(r, bl)
			if err != nil {
				return nil, fmt.Errorf("decoder Sequence[%d]: %w", i, err)
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDecoder{bl: bl}, nil
	case "Replace":
		p, err := compilePattern(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		return replaceDecoder{pattern: p, content: c.Content}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		rs := []rune(c.Content)
		if len(rs) != 1 {
			return nil, fmt.Errorf("decoder Strip: content %q must be one character", c.Content)
		}
		if c.Start < 0 || c.Stop < 0 {
			return nil, fmt.Errorf("decoder Strip: negative start or stop")
		}
		return stripDecoder{content: rs[0], start: c.Start, stop: c.Stop}, nil
	case "Metaspace":
		m, err := metaspaceFromSpec(c)
		if err != nil {
			return nil, fmt.Errorf("decoder %w", err)
		}
		return metaspaceDecoder{replacement: m.replacement, dropFirst: m.scheme != prependNever}, nil
	default:
		return nil, fmt.Errorf("decoder: unsupported type %q", c.Type)
	}
}

// cleanUpTokenization is transformers' clean_up_tokenization, applied when
// tokenizer_config.json sets clean_up_tokenization_spaces. The replacements
// run one after another, in this order, as there.
func cleanUpTokenization(s string) string {
	for _, r := range [...][2]string{
		{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}
