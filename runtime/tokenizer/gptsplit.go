package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Hand-written matchers for the split regexes of the GPT-4 family
// (Llama 3, cl100k, Qwen) and of DeepSeek V3. Each one follows the
// backtracking order of its regex alternative by alternative; they are
// checked against regexp2 on random text in the tests and against the
// goldens. They exist because a backtracking engine is several times
// slower on these patterns, which dominate encoding time.

// gptPatternFor returns the matcher for the exact regex text from
// tokenizer.json, if there is one.
func gptPatternFor(expr string) (gptPattern, bool) {
	switch expr {
	case `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:
		return gptPattern{maxDigits: 3}, true
	case `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:
		return gptPattern{maxDigits: 1}, true
	case "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+":
		return gptPattern{deepseek: true}, true
	}
	return gptPattern{}, false
}

type gptPattern struct {
	maxDigits int  // 1 or 3: the \p{N} alternative
	deepseek  bool // the DeepSeek V3 pattern instead of the GPT-4 one
}

func (g gptPattern) eachMatch(s string, fn func(start, end int)) {
	for p := 0; p < len(s); {
		var end int
		if g.deepseek {
			end = matchDeepSeek(s, p)
		} else {
			end = g.matchGPT4(s, p)
		}
		if end > p {
			fn(p, end)
			p = end
			continue
		}
		_, w := runeAt(s, p)
		p += w
	}
}

func runeAt(s string, p int) (rune, int) {
	if c := s[p]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[p:])
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return r|0x20 >= 'a' && r|0x20 <= 'z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isSpace is Unicode White_Space, the reference's \s.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r >= '\t' && r <= '\r'
	}
	return unicode.IsSpace(r)
}

func isPunctOrSymbol(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }

func isLetterOrMark(r rune) bool { return isLetter(r) || r >= utf8.RuneSelf && unicode.IsMark(r) }

// scanWhile returns the end of the run of runes from p that satisfy f.
func scanWhile(s string, p int, f func(rune) bool) int {
	for p < len(s) {
		r, w := runeAt(s, p)
		if !f(r) {
			break
		}
		p += w
	}
	return p
}

func scanNewlines(s string, p int) int {
	for p < len(s) && (s[p] == '\r' || s[p] == '\n') {
		p++
	}
	return p
}

// contractionLen matches (?i:'s|'t|'re|'ve|'m|'ll|'d) after the apostrophe
// and returns the matched length without it, or 0. Simple case folding
// lets "ſ" (long s) match "s" as in the reference.
func contractionLen(rest string) int {
	if rest == "" {
		return 0
	}
	r, w := runeAt(rest, 0)
	switch r {
	case 's', 'S', 'ſ', 't', 'T', 'm', 'M', 'd', 'D':
		return w
	case 'r', 'R', 'v', 'V':
		if len(rest) > 1 && rest[1]|0x20 == 'e' {
			return 2
		}
	case 'l', 'L':
		if len(rest) > 1 && rest[1]|0x20 == 'l' {
			return 2
		}
	}
	return 0
}

// matchSpaces handles the shared tail \s*[\r\n]+|\s+(?!\S)|\s+ at a
// whitespace rune.
func matchSpaces(s string, p int) int {
	q, lastNL, lastStart := p, -1, p
	for q < len(s) {
		r, w := runeAt(s, q)
		if !isSpace(r) {
			break
		}
		if r == '\r' || r == '\n' {
			lastNL = q
		}
		lastStart = q
		q += w
	}
	switch {
	case lastNL >= 0: // \s*[\r\n]+ backtracks to the last newline of the run
		return lastNL + 1
	case q == len(s) || lastStart == p: // \s+(?!\S) at the end, or \s+
		return q
	default: // \s+(?!\S) gives back the last space before a non-space
		return lastStart
	}
}

// matchGPT4 matches at p:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,N}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func (g gptPattern) matchGPT4(s string, p int) int {
	r, w := runeAt(s, p)
	if r == '\'' {
		if n := contractionLen(s[p+1:]); n > 0 {
			return p + 1 + n
		}
	}
	if isLetter(r) {
		return scanWhile(s, p+w, isLetter)
	}
	num := isNumber(r)
	if r != '\r' && r != '\n' && !num && p+w < len(s) {
		if r2, w2 := runeAt(s, p+w); isLetter(r2) {
			return scanWhile(s, p+w+w2, isLetter)
		}
	}
	if num {
		end := p + w
		for k := 1; k < g.maxDigits && end < len(s); k++ {
			r2, w2 := runeAt(s, end)
			if !isNumber(r2) {
				break
			}
			end += w2
		}
		return end
	}
	other := func(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }
	if r == ' ' && p+1 < len(s) {
		if r2, w2 := runeAt(s, p+1); other(r2) {
			return scanNewlines(s, scanWhile(s, p+1+w2, other))
		}
	}
	if other(r) {
		return scanNewlines(s, scanWhile(s, p+w, other))
	}
	return matchSpaces(s, p)
}

// matchDeepSeek matches at p:
// [!-/:-@[-`{-~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
// ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func matchDeepSeek(s string, p int) int {
	r, w := runeAt(s, p)
	if isASCIIPunct(r) && p+1 < len(s) && isASCIIAlpha(s[p+1]) {
		end := p + 2
		for end < len(s) && isASCIIAlpha(s[end]) {
			end++
		}
		return end
	}
	switch {
	case isLetter(r):
		return scanWhile(s, p+w, isLetterOrMark)
	case r != '\r' && r != '\n' && !isPunctOrSymbol(r):
		if p+w < len(s) {
			if r2, w2 := runeAt(s, p+w); isLetterOrMark(r2) {
				return scanWhile(s, p+w+w2, isLetterOrMark)
			}
		}
		if isLetterOrMark(r) {
			return scanWhile(s, p+w, isLetterOrMark)
		}
	}
	if r == ' ' && p+1 < len(s) {
		if r2, w2 := runeAt(s, p+1); isPunctOrSymbol(r2) {
			return scanNewlines(s, scanWhile(s, p+1+w2, isPunctOrSymbol))
		}
	}
	if isPunctOrSymbol(r) {
		return scanNewlines(s, scanWhile(s, p+w, isPunctOrSymbol))
	}
	if isSpace(r) {
		return matchSpaces(s, p)
	}
	return p
}

func isASCIIPunct(r rune) bool {
	return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
}

func isASCIIAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
