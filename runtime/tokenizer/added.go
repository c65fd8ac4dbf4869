package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens (or a special
// token that tokenizer_config.json adds). Added tokens are cut out of the
// text before normalization and pre-tokenization.
type addedToken struct {
	id         int
	content    string
	special    bool
	lstrip     bool
	rstrip     bool
	singleWord bool
	normalized bool
}

// segment is a piece of input: plain text (id < 0) or one added token.
type segment struct {
	text  string
	id    int
	start int // byte offset in the string that was split
}

// tokenTrie finds added tokens leftmost-longest, like the reference's
// Aho-Corasick automaton: at the leftmost position where some token
// starts, the longest token starting there wins.
type tokenTrie struct {
	first  [256]bool
	edges  map[uint64]int32 // node<<8 | byte -> child
	tokens []int32          // node -> index into toks, or -1
	toks   []addedToken
}

func newTokenTrie(toks []addedToken, contents []string) *tokenTrie {
	t := &tokenTrie{edges: make(map[uint64]int32), tokens: []int32{-1}}
	for i, c := range contents {
		if c == "" {
			continue
		}
		t.first[c[0]] = true
		node := int32(0)
		for k := 0; k < len(c); k++ {
			key := uint64(node)<<8 | uint64(c[k])
			next, ok := t.edges[key]
			if !ok {
				next = int32(len(t.tokens))
				t.tokens = append(t.tokens, -1)
				t.edges[key] = next
			}
			node = next
		}
		if t.tokens[node] < 0 {
			t.tokens[node] = int32(len(t.toks))
			t.toks = append(t.toks, toks[i])
		}
	}
	return t
}

func (t *tokenTrie) empty() bool { return t == nil || len(t.toks) == 0 }

// longestAt returns the longest token starting at s[i:] and its end.
func (t *tokenTrie) longestAt(s string, i int) (int32, int) {
	node, best, bestEnd := int32(0), int32(-1), 0
	for j := i; j < len(s); j++ {
		next, ok := t.edges[uint64(node)<<8|uint64(s[j])]
		if !ok {
			break
		}
		node = next
		if k := t.tokens[node]; k >= 0 {
			best, bestEnd = k, j+1
		}
	}
	return best, bestEnd
}

// split appends the segments of s: the non-empty text between tokens and
// the tokens.
func (t *tokenTrie) split(dst []segment, s string) []segment {
	if t.empty() {
		if s == "" {
			return dst
		}
		return append(dst, segment{text: s, id: -1})
	}
	done := 0 // end of the last accepted token
	for i := 0; i < len(s); {
		if !t.first[s[i]] {
			i++
			continue
		}
		k, end := t.longestAt(s, i)
		if k < 0 {
			i++
			continue
		}
		tok := t.toks[k]
		start, stop := i, end
		if tok.singleWord && (endsWithWordRune(s[:start]) || startsWithWordRune(s[stop:])) {
			// The reference's automaton has consumed this match already,
			// so the search goes on after it.
			i = end
			continue
		}
		if tok.lstrip {
			for start > done {
				r, w := utf8.DecodeLastRuneInString(s[:start])
				if !unicode.IsSpace(r) {
					break
				}
				start -= w
			}
		}
		if tok.rstrip {
			for stop < len(s) {
				r, w := utf8.DecodeRuneInString(s[stop:])
				if !unicode.IsSpace(r) {
					break
				}
				stop += w
			}
		}
		if start > done {
			dst = append(dst, segment{text: s[done:start], id: -1, start: done})
		}
		dst = append(dst, segment{text: s[start:stop], id: tok.id, start: start})
		done, i = stop, stop
	}
	if done < len(s) {
		dst = append(dst, segment{text: s[done:], id: -1, start: done})
	}
	return dst
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r)
}

func endsWithWordRune(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordRune(r)
}

func startsWithWordRune(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}
