package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites one text segment before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

type normalizerSeq []normalizer

func (n normalizerSeq) normalize(s string) string {
	for _, x := range n {
		s = x.normalize(s)
	}
	return s
}

type prependNormalizer struct{ prefix string }

// normalize prepends only to non-empty text, as the reference does: an
// empty segment stays empty.
func (p prependNormalizer) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

type replaceNormalizer struct {
	pattern splitPattern
	content string
}

func (r replaceNormalizer) normalize(s string) string { return replaceAll(r.pattern, s, r.content) }

// unicodeNormalizer applies one of the four Unicode normalization forms.
// norm.Form.String returns its input unchanged (without copying) when the
// quick check shows it is already normalized, which is the common case.
type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(s string) string { return u.form.String(s) }

type lowercaseNormalizer struct{}

// normalize lowercases rune by rune with the full (not the simple) Unicode
// lowercase mapping and no context, as the reference does. The two differ
// only in U+0130 (capital I with dot above), whose full mapping is "i"
// followed by a combining dot above; unicode.ToLower gives a bare "i".
// Final sigma is not special-cased, since the mapping has no context.
func (lowercaseNormalizer) normalize(s string) string {
	if !strings.ContainsRune(s, '\u0130') {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if r == '\u0130' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// stripNormalizer trims Unicode White_Space (unicode.IsSpace) from the
// chosen ends of the segment.
type stripNormalizer struct{ left, right bool }

func (st stripNormalizer) normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

func buildNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch c.Type {
	case "Sequence":
		seq := make(normalizerSeq, 0, len(c.Normalizers))
		for i, r := range c.Normalizers {
			n, err := buildNormalizer(r)
			if err != nil {
				return nil, fmt.Errorf("normalizer Sequence[%d]: %w", i, err)
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "Prepend":
		return prependNormalizer{prefix: c.Prepend}, nil
	case "Replace":
		p, err := compilePattern(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", err)
		}
		return replaceNormalizer{pattern: p, content: c.Content}, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "Strip":
		return stripNormalizer{left: c.StripLeft, right: c.StripRight}, nil
	default:
		return nil, fmt.Errorf("normalizer: unsupported type %q", c.Type)
	}
}
