package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// splitPattern finds the non-overlapping matches of a Split or Replace
// pattern, left to right, as byte ranges, and calls fn with each, so that
// splitting a long text makes no list of its matches. Empty matches are
// never reported.
type splitPattern interface {
	eachMatch(s string, fn func(start, end int))
}

// matchesOf lists the matches of p in s.
func matchesOf(p splitPattern, s string) [][2]int {
	var ms [][2]int
	p.eachMatch(s, func(start, end int) { ms = append(ms, [2]int{start, end}) })
	return ms
}

// compilePattern picks the fastest engine that gives the same matches as
// the reference (a backtracking engine with Unicode classes):
//   - the GPT-style split regexes get a hand-written matcher (gptsplit.go),
//   - regexes that mean the same in RE2 syntax run on Go's regexp,
//   - anything else (look-around, \s, \d, \w, anchors) runs on regexp2 in
//     its default mode, where \s is Unicode White_Space and \p{..} are
//     Unicode categories, as in the reference.
func compilePattern(p *patternSpec) (splitPattern, error) {
	switch {
	case p == nil:
		return nil, fmt.Errorf("missing pattern")
	case p.String != nil:
		return literalPattern(*p.String), nil
	case p.Regex != nil:
		return compileRegex(*p.Regex)
	default:
		return nil, fmt.Errorf("pattern has neither String nor Regex")
	}
}

func compileRegex(expr string) (splitPattern, error) {
	if g, ok := gptPatternFor(expr); ok {
		return g, nil
	}
	if sameInRE2(expr) {
		if re, err := regexp.Compile(expr); err == nil {
			return goRegexp{re}, nil
		}
	}
	re, err := regexp2.Compile(expr, regexp2.None, regexp2.OptionMaxBacktrackingStackSize(-1))
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", expr, err)
	}
	// A backtracking regex can take exponential time on some input
	// ("(a+)+$" on a long run of a's): bound every search.
	re.MatchTimeout = regexTimeout
	return backtrackRegexp{re}, nil
}

// sameInRE2 reports whether expr uses only syntax whose meaning is the
// same in Go's regexp and in the reference engine: no shorthand classes
// (ASCII-only in Go), no anchors (line-based in the reference), no POSIX
// classes, no \u escapes. Go's regexp picks the same match as a
// backtracking engine, so the rest behaves identically.
func sameInRE2(expr string) bool {
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '\\':
			if i+1 >= len(expr) {
				return false
			}
			n := expr[i+1]
			switch {
			case n == 'p' || n == 'P' || n == 'r' || n == 'n' || n == 't' || n == 'f' || n == 'x':
			case n < utf8.RuneSelf && !isASCIIAlnum(n):
			default:
				return false
			}
			i++
		case '^', '$':
			if c == '^' && i > 0 && expr[i-1] == '[' {
				continue
			}
			return false
		case '[':
			if i+1 < len(expr) && expr[i+1] == ':' {
				return false
			}
		case '{':
			if i+1 < len(expr) && expr[i+1] == ',' {
				return false
			}
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

type literalPattern string

func (l literalPattern) eachMatch(s string, fn func(start, end int)) {
	if l == "" {
		return
	}
	for off := 0; off <= len(s); {
		i := strings.Index(s[off:], string(l))
		if i < 0 {
			break
		}
		fn(off+i, off+i+len(l))
		off += i + len(l)
	}
}

type goRegexp struct{ re *regexp.Regexp }

// eachMatch searches s from each match's end on, which finds what
// FindAllStringIndex finds for the patterns goRegexp runs (no anchors,
// look-around or \b, see sameInRE2) without listing them all.
func (g goRegexp) eachMatch(s string, fn func(start, end int)) {
	for off := 0; off <= len(s); {
		m := g.re.FindStringIndex(s[off:])
		if m == nil {
			return
		}
		if m[1] > m[0] {
			fn(off+m[0], off+m[1])
			off += m[1]
			continue
		}
		// An empty match: search again one character further on.
		if off+m[0] >= len(s) {
			return
		}
		_, w := utf8.DecodeRuneInString(s[off+m[0]:])
		off += m[0] + w
	}
}

type backtrackRegexp struct{ re *regexp2.Regexp }

// regexTimeout bounds one search of a regexp2 pattern over a piece of text.
// The patterns of real tokenizers take microseconds per kilobyte.
const regexTimeout = 2 * time.Second

// appendMatches runs regexp2. A search that runs out of time
// (regexTimeout: catastrophic backtracking) leaves the text unsplit, as
// one piece for the model to tokenize, rather than hanging the request.
func (b backtrackRegexp) eachMatch(s string, fn func(start, end int)) {
	ms, _ := b.re.FindAllStringIndex(s, -1)
	for _, m := range ms {
		if m[1] > m[0] {
			fn(m[0], m[1])
		}
	}
}

// replaceAll replaces every match of p in s with content.
func replaceAll(p splitPattern, s, content string) string {
	if lit, ok := p.(literalPattern); ok {
		if lit == "" {
			return s
		}
		return strings.ReplaceAll(s, string(lit), content)
	}
	var b strings.Builder
	last := 0
	p.eachMatch(s, func(start, end int) {
		if b.Cap() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:start])
		b.WriteString(content)
		last = end
	})
	if b.Cap() == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
