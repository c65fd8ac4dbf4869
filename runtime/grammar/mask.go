package grammar

import "math"

// Matcher follows one generation through a grammar and implements
// runtime.Constraint: Mask forbids every token whose bytes the grammar
// refuses at this point, Accept moves past the token chosen. Once the
// value is complete only end-of-sequence tokens remain.
type Matcher struct {
	state  State
	tokens [][]byte // bytes of each token id; nil: never allowed
	eos    []bool   // by id

	// Within one Mask inside a string: the state once the string is
	// closed, and whether it takes the bytes after a token's closing quote.
	afterString *State
	tails       map[string]bool
}

// NewMatcher starts g for a vocabulary whose token bytes are tokens
// (tokenizer.TokenBytes of each id, nil for special tokens) and whose
// end-of-sequence ids are eos.
func (g *Grammar) NewMatcher(tokens [][]byte, eos []int) *Matcher {
	m := &Matcher{state: g.Start(), tokens: tokens, eos: make([]bool, len(tokens))}
	for _, id := range eos {
		if id >= len(m.eos) {
			m.eos = append(m.eos, make([]bool, id+1-len(m.eos))...)
		}
		if id >= 0 {
			m.eos[id] = true
		}
	}
	return m
}

// Mask sets the logits of forbidden tokens to -Inf. It tests each byte a
// token can start with once, so that tokens refused by their first byte
// cost nothing more.
func (m *Matcher) Mask(logits []float32) {
	ninf := float32(math.Inf(-1))
	canEnd := m.state.CanEnd()
	finished := canEnd && m.onlyEnd()
	var first [256]int8 // 0 unknown, 1 allowed, -1 refused
	m.afterString, m.tails = nil, nil
	allowed := 0
	for id := range logits {
		if m.isEOS(id) {
			if canEnd {
				allowed++
			} else {
				logits[id] = ninf
			}
			continue
		}
		var b []byte
		if id < len(m.tokens) {
			b = m.tokens[id]
		}
		if finished || len(b) == 0 || math.IsInf(float64(logits[id]), -1) {
			logits[id] = ninf
			continue
		}
		f := &first[b[0]]
		if *f == 0 {
			*f = -1
			if _, ok := m.state.Feed(b[:1]); ok {
				*f = 1
			}
		}
		if *f < 0 {
			logits[id] = ninf
			continue
		}
		if len(b) > 1 && !m.allows(b) {
			logits[id] = ninf
			continue
		}
		allowed++
	}
	if allowed == 0 {
		// A dead end (a limit cut every reading): end rather than pick a
		// forbidden token.
		for id := range logits {
			if m.isEOS(id) {
				logits[id] = 0
			}
		}
	}
}

// allows reports whether the grammar takes b next. Inside a string (most
// of the vocabulary is allowed there, so every token is tested in full) it
// steps a copy of the string's frame, with no allocation, until the string
// would close.
func (m *Matcher) allows(b []byte) bool {
	if len(m.state.stacks) == 1 {
		s := m.state.stacks[0]
		if f := s[len(s)-1]; f.kind == fString {
			for i, c := range b {
				ok, closed := stepString(&f, c)
				if !ok {
					return false
				}
				if closed {
					return m.tailAllowed(s, b[i+1:])
				}
			}
			return true
		}
	}
	_, ok := m.state.Feed(b)
	return ok
}

// tailAllowed reports whether the bytes after a token's closing quote may
// follow the string on top of s. Where a string closes does not depend on
// its content, so the state after it is computed once per Mask, and each
// distinct tail (`",`, `"}`, ...) is fed once.
func (m *Matcher) tailAllowed(s stack, tail []byte) bool {
	if m.afterString == nil {
		neutral := append(stack(nil), s...)
		neutral[len(neutral)-1] = frame{kind: fString}
		m.afterString = &State{stacks: step(nil, neutral, '"')}
		m.tails = map[string]bool{}
	}
	if ok, seen := m.tails[string(tail)]; seen {
		return ok
	}
	_, ok := m.afterString.Feed(tail)
	if len(m.afterString.stacks) == 0 {
		ok = false
	}
	m.tails[string(tail)] = ok
	return ok
}

// onlyEnd reports whether the value is complete on every reading.
func (m *Matcher) onlyEnd() bool {
	for _, s := range m.state.stacks {
		if len(s) != 1 || s[0].kind != fEnd {
			return false
		}
	}
	return true
}

// Accept moves past token id.
func (m *Matcher) Accept(id int) {
	if m.isEOS(id) || id < 0 || id >= len(m.tokens) {
		return
	}
	if st, ok := m.state.Feed(m.tokens[id]); ok {
		m.state = st
	}
}

func (m *Matcher) isEOS(id int) bool { return id >= 0 && id < len(m.eos) && m.eos[id] }

// Done reports whether the output so far is a complete value.
func (m *Matcher) Done() bool { return m.state.CanEnd() }
