package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// preTokenizer cuts one normalized segment into the pieces that the model
// tokenizes independently. first is set for the segment that starts the
// input text (Metaspace's "first" prepend scheme needs it).
type preTokenizer interface {
	preTokenize(dst []string, s string, first bool) []string
}

type preTokenizerSeq []preTokenizer

func (seq preTokenizerSeq) preTokenize(dst []string, s string, first bool) []string {
	cur := []string{s}
	var next []string
	for _, pt := range seq {
		next = next[:0]
		for i, piece := range cur {
			next = pt.preTokenize(next, piece, first && i == 0)
		}
		cur, next = next, cur
	}
	return append(dst, cur...)
}

type splitBehavior int

const (
	splitRemoved splitBehavior = iota
	splitIsolated
	splitMergedWithPrevious
	splitMergedWithNext
	splitContiguous
)

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return splitRemoved, nil
	case "Isolated":
		return splitIsolated, nil
	case "MergedWithPrevious":
		return splitMergedWithPrevious, nil
	case "MergedWithNext":
		return splitMergedWithNext, nil
	case "Contiguous":
		return splitContiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q", s)
}

type splitPreTokenizer struct {
	pattern  splitPattern
	behavior splitBehavior
	invert   bool
}

func (sp splitPreTokenizer) preTokenize(dst []string, s string, _ bool) []string {
	return splitBy(dst, s, sp.pattern.appendMatches(nil, s), sp.behavior, sp.invert)
}

// splitBy cuts s around the matches (the "delimiters", or with invert the
// text between them) according to behavior.
func splitBy(dst []string, s string, matches [][2]int, behavior splitBehavior, invert bool) []string {
	type part struct {
		start, end int
		delim      bool
	}
	parts := make([]part, 0, 2*len(matches)+1)
	prev := 0
	for _, m := range matches {
		if m[0] > prev {
			parts = append(parts, part{prev, m[0], invert})
		}
		parts = append(parts, part{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev < len(s) {
		parts = append(parts, part{prev, len(s), invert})
	}
	var out []part
	switch behavior {
	case splitRemoved:
		for _, p := range parts {
			if !p.delim {
				out = append(out, p)
			}
		}
	case splitIsolated:
		out = parts
	case splitMergedWithPrevious:
		prevDelim := false
		for _, p := range parts {
			if p.delim && !prevDelim && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, p)
			}
			prevDelim = p.delim
		}
	case splitMergedWithNext:
		prevDelim := false
		for i := len(parts) - 1; i >= 0; i-- {
			p := parts[i]
			if p.delim && !prevDelim && len(out) > 0 {
				out[len(out)-1].start = p.start
			} else {
				out = append(out, p)
			}
			prevDelim = p.delim
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case splitContiguous:
		prevDelim := false
		for _, p := range parts {
			if p.delim == prevDelim && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, p)
			}
			prevDelim = p.delim
		}
	}
	for _, p := range out {
		if p.end > p.start {
			dst = append(dst, s[p.start:p.end])
		}
	}
	return dst
}

// byteLevelPreTokenizer does the text part of the ByteLevel pre-tokenizer:
// the optional prefix space and the optional GPT-2 split. The byte-to-rune
// mapping itself happens in the model, which starts from bytes.
type byteLevelPreTokenizer struct {
	addPrefixSpace bool
	split          splitPattern // nil without use_regex
}

// gpt2Pattern is the split regex that ByteLevel applies when use_regex is set.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func (b byteLevelPreTokenizer) preTokenize(dst []string, s string, _ bool) []string {
	if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if b.split == nil {
		return append(dst, s)
	}
	return splitBy(dst, s, b.split.appendMatches(nil, s), splitIsolated, false)
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependNever
	prependFirst
)

type metaspacePreTokenizer struct {
	replacement string
	scheme      prependScheme
	split       bool
}

func (m metaspacePreTokenizer) preTokenize(dst []string, s string, first bool) []string {
	s = strings.ReplaceAll(s, " ", m.replacement)
	if !strings.HasPrefix(s, m.replacement) && (m.scheme == prependAlways || m.scheme == prependFirst && first) {
		s = m.replacement + s
	}
	if !m.split {
		return append(dst, s)
	}
	return splitBy(dst, s, literalPattern(m.replacement).appendMatches(nil, s), splitMergedWithNext, false)
}

type digitsPreTokenizer struct{ individual bool }

func (d digitsPreTokenizer) preTokenize(dst []string, s string, _ bool) []string {
	var ms [][2]int
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if isNumber(r) {
			ms = append(ms, [2]int{i, i + w})
		}
		i += w
	}
	behavior := splitContiguous
	if d.individual {
		behavior = splitIsolated
	}
	return splitBy(dst, s, ms, behavior, false)
}

func buildPreTokenizer(raw json.RawMessage, bl *byteLevelTables, byteLevel *bool) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch c.Type {
	case "Sequence":
		seq := make(preTokenizerSeq, 0, len(c.Pretokenizers))
		for i, r := range c.Pretokenizers {
			pt, err := buildPreTokenizer(r, bl, byteLevel)
			if err != nil {
				return nil, fmt.Errorf("pre_tokenizer Sequence[%d]: %w", i, err)
			}
			if pt != nil {
				seq = append(seq, pt)
			}
		}
		return seq, nil
	case "Split":
		p, err := compilePattern(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		b, err := parseBehavior(c.Behavior)
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		return splitPreTokenizer{pattern: p, behavior: b, invert: c.Invert}, nil
	case "ByteLevel":
		*byteLevel = true
		b := byteLevelPreTokenizer{addPrefixSpace: c.AddPrefixSpace == nil || *c.AddPrefixSpace}
		if c.UseRegex == nil || *c.UseRegex {
			p, err := compileRegex(gpt2Pattern)
			if err != nil {
				return nil, fmt.Errorf("pre_tokenizer ByteLevel: %w", err)
			}
			b.split = p
		}
		return b, nil
	case "Metaspace":
		m, err := metaspaceFromSpec(c)
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer %w", err)
		}
		return m, nil
	case "Digits":
		return digitsPreTokenizer{individual: c.IndividualDigits}, nil
	default:
		return nil, fmt.Errorf("pre_tokenizer: unsupported type %q", c.Type)
	}
}

func metaspaceFromSpec(c *componentSpec) (metaspacePreTokenizer, error) {
	m := metaspacePreTokenizer{replacement: c.Replacement, split: c.Split == nil || *c.Split}
	if m.replacement == "" {
		m.replacement = "▁"
	}
	switch c.PrependScheme {
	case "always":
		m.scheme = prependAlways
	case "never":
		m.scheme = prependNever
	case "first":
		m.scheme = prependFirst
	case "":
		// Files older than prepend_scheme say add_prefix_space instead.
		m.scheme = prependAlways
		if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			m.scheme = prependNever
		}
	default:
		return m, fmt.Errorf("pre_tokenizer Metaspace: unknown prepend_scheme %q", c.PrependScheme)
	}
	return m, nil
}
