package grammar

import "math"

// Matcher follows one generation through a grammar and implements
// runtime.Constraint: Mask forbids every token whose bytes the grammar
// refuses at this point, Accept moves past the token chosen. Once the
// value is complete only end-of-sequence tokens remain.
type Matcher struct {
	state  State
	tokens [][]byte // bytes of each token id; nil: never allowed
	eos    map[int]bool
}

// NewMatcher starts g for a vocabulary whose token bytes are tokens
// (tokenizer.TokenBytes of each id, nil for special tokens) and whose
// end-of-sequence ids are eos.
func (g *Grammar) NewMatcher(tokens [][]byte, eos []int) *Matcher {
	m := &Matcher{state: g.Start(), tokens: tokens, eos: map[int]bool{}}
	for _, id := range eos {
		m.eos[id] = true
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
	allowed := 0
	for id := range logits {
		if m.eos[id] {
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
		if len(b) > 1 {
			if _, ok := m.state.Feed(b); !ok {
				logits[id] = ninf
				continue
			}
		}
		allowed++
	}
	if allowed == 0 {
		// A dead end (a limit cut every reading): end rather than pick a
		// forbidden token.
		for id := range logits {
			if m.eos[id] {
				logits[id] = 0
			}
		}
	}
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
	if m.eos[id] || id < 0 || id >= len(m.tokens) {
		return
	}
	if st, ok := m.state.Feed(m.tokens[id]); ok {
		m.state = st
	}
}

// Done reports whether the output so far is a complete value.
func (m *Matcher) Done() bool { return m.state.CanEnd() }
