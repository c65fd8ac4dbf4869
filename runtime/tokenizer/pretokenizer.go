package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// preTokenizer cuts one normalized segment into the pieces that the model
// tokenizes independently, and calls fn with each in order: pieces are
// substrings of the segment (or of one rewritten copy of it), and no list
// of them is made, so that the memory of encoding a long text stays in
// proportion to its tokens. first is set for the segment that starts the
// input text (Metaspace's "first" prepend scheme needs it).
type preTokenizer interface {
	each(s string, first bool, fn func(piece string))
}

// preTokenize lists the pieces of s (for tests).
func preTokenize(pt preTokenizer, s string, first bool) []string {
	var out []string
	pt.each(s, first, func(p string) { out = append(out, p) })
	return out
}

type preTokenizerSeq []preTokenizer

// each chains the steps: step k feeds its pieces to step k+1 and the last
// one to fn. The chain's functions are made once per call, not per piece;
// each step sees first set for the first piece that reaches it only.
func (seq preTokenizerSeq) each(s string, first bool, fn func(string)) {
	if len(seq) == 0 {
		fn(s)
		return
	}
	feed := make([]func(string), len(seq)+1)
	feed[len(seq)] = fn
	for k := len(seq) - 1; k >= 1; k-- {
		firstHere := first
		feed[k] = func(piece string) {
			f := firstHere
			firstHere = false
			seq[k].each(piece, f, feed[k+1])
		}
	}
	seq[0].each(s, first, feed[1])
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

func (sp splitPreTokenizer) each(s string, _ bool, fn func(string)) {
	splitBy(s, sp.pattern, sp.behavior, sp.invert, fn)
}

// splitBy cuts s around the matches of p (the "delimiters", or with invert
// the text between them) according to behavior, as the reference's Split
// does, and calls fn with each non-empty piece. It holds at most one piece
// back (the one a following part may still join).
func splitBy(s string, p splitPattern, behavior splitBehavior, invert bool, fn func(string)) {
	type part struct {
		start, end int
		delim      bool
	}
	var pending part
	have, prevDelim := false, false
	emit := func(q part) {
		if q.end > q.start {
			fn(s[q.start:q.end])
		}
	}
	add := func(q part) {
		switch behavior {
		case splitRemoved:
			if !q.delim {
				emit(q)
			}
		case splitIsolated:
			emit(q)
		case splitMergedWithPrevious:
			// A delimiter joins the piece before it, unless that piece is
			// a delimiter too.
			if q.delim && !prevDelim && have {
				pending.end = q.end
			} else {
				if have {
					emit(pending)
				}
				pending, have = q, true
			}
		case splitMergedWithNext:
			// A delimiter joins the piece after it, unless that piece is a
			// delimiter too.
			switch {
			case have && !q.delim:
				emit(part{pending.start, q.end, false})
				have = false
			case have:
				emit(pending)
				pending = q
			case q.delim:
				pending, have = q, true
			default:
				emit(q)
			}
		case splitContiguous:
			if q.delim == prevDelim && have {
				pending.end = q.end
			} else {
				if have {
					emit(pending)
				}
				pending, have = q, true
			}
		}
		prevDelim = q.delim
	}
	prev := 0
	p.eachMatch(s, func(start, end int) {
		if start > prev {
			add(part{prev, start, invert})
		}
		add(part{start, end, !invert})
		prev = end
	})
	if prev < len(s) {
		add(part{prev, len(s), invert})
	}
	if have {
		emit(pending)
	}
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

func (b byteLevelPreTokenizer) each(s string, _ bool, fn func(string)) {
	if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if b.split == nil {
		fn(s)
		return
	}
	splitBy(s, b.split, splitIsolated, false, fn)
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

func (m metaspacePreTokenizer) each(s string, first bool, fn func(string)) {
	s = strings.ReplaceAll(s, " ", m.replacement)
	if !strings.HasPrefix(s, m.replacement) && (m.scheme == prependAlways || m.scheme == prependFirst && first) {
		s = m.replacement + s
	}
	if !m.split {
		fn(s)
		return
	}
	splitBy(s, literalPattern(m.replacement), splitMergedWithNext, false, fn)
}

type digitsPreTokenizer struct{ individual bool }

func (d digitsPreTokenizer) each(s string, _ bool, fn func(string)) {
	behavior := splitContiguous
	if d.individual {
		behavior = splitIsolated
	}
	splitBy(s, digitPattern{}, behavior, false, fn)
}

// digitPattern matches each number character.
type digitPattern struct{}

func (digitPattern) eachMatch(s string, fn func(start, end int)) {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if isNumber(r) {
			fn(i, i+w)
		}
		i += w
	}
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
