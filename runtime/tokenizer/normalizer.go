package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
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

type funcNormalizer func(string) string

func (f funcNormalizer) normalize(s string) string { return f(s) }

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
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
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
		return funcNormalizer(toNFC), nil
	case "NFD":
		return funcNormalizer(toNFD), nil
	case "Lowercase":
		return funcNormalizer(strings.ToLower), nil
	case "Strip":
		return stripNormalizer{left: c.Left, right: c.Right}, nil
	default:
		return nil, fmt.Errorf("normalizer: unsupported type %q", c.Type)
	}
}
