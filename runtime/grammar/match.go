package grammar

// The matcher is a nondeterministic pushdown automaton: a state is a set of
// stacks of frames, each stack one way the bytes so far can be read. A
// union (anyOf, a list of types) starts one stack per alternative; a number
// or a literal that may end or go on keeps both readings. Bytes that no
// stack accepts are refused.

type fkind uint8

const (
	fValue  fkind = iota // a value of n is expected
	fObject              // inside {...}
	fArray               // inside [...]
	fString              // inside a free string (after the opening quote)
	fKey                 // inside an object key, matched against the properties left
	fNumber
	fLiteral // one of n.literals, pos bytes matched, alive says which
	fEnd     // the whole value is done: only blanks may follow
)

// Object and array sub-states.
const (
	oOpen  = iota // after '{': a key or '}'
	oKey          // after ',': a key
	oColon        // after a key: ':'
	oValue        // a value was pushed
	oNext         // after a value: ',' or '}'
)

// Number sub-states.
const (
	nSign     = iota // after '-'
	nZero            // "0"
	nInt             // [1-9][0-9]*
	nDot             // after '.'
	nFrac            // after a fraction digit
	nExp             // after 'e'
	nExpSign         // after 'e+' or 'e-'
	nExpDigit        // after an exponent digit
)

type frame struct {
	kind  fkind
	st    uint8
	n     *node
	seen  uint64 // object: properties written; literal/key: candidates alive
	cur   int    // object: the property whose value is pending (-1: free key)
	pos   int    // literal/key: bytes matched; string: UTF-8 continuation bytes due, or hex digits due (escape)
	esc   uint8  // string: 0 none, 1 after '\', 2 in \uXXXX
	count int    // array: items; number: digits
	ws    int    // consecutive blanks
	wsNL  bool   // they began with a newline
	// string: the last byte ended an escape (so a '"' was not the end)
	escaped bool
}

type stack []frame

// Limits that keep a constrained model from running on forever inside
// the grammar: indentation, digits of a number, nesting depth.
const (
	maxBlanks = 20
	maxDigits = 24
	maxDepth  = 48
	maxStacks = 64
)

// State is where a Matcher is in the grammar.
type State struct{ stacks []stack }

// Start is the state before any output.
func (g *Grammar) Start() State {
	return State{stacks: expand(stack{{kind: fEnd}, {kind: fValue, n: g.root}}, 0)}
}

// expand replaces a union value on top of s by its alternatives.
func expand(s stack, depth int) []stack {
	top := s[len(s)-1]
	if top.kind != fValue || top.n.kind != kUnion {
		return []stack{s}
	}
	if depth > 8 {
		return nil
	}
	var out []stack
	for _, alt := range top.n.alts {
		c := append(stack(nil), s...)
		c[len(c)-1] = frame{kind: fValue, n: alt}
		out = append(out, expand(c, depth+1)...)
	}
	return out
}

// Feed returns the state after bytes b and whether they are allowed.
func (st State) Feed(b []byte) (State, bool) {
	cur := st.stacks
	for _, c := range b {
		var next []stack
		for _, s := range cur {
			next = step(next, s, c)
			if len(next) > maxStacks {
				next = next[:maxStacks]
			}
		}
		if len(next) == 0 {
			return State{}, false
		}
		cur = next
	}
	return State{stacks: cur}, true
}

// CanEnd reports whether the output may stop here: the value is complete.
func (st State) CanEnd() bool {
	for _, s := range st.stacks {
		if len(s) == 1 && s[0].kind == fEnd {
			return true
		}
	}
	return false
}

func isBlank(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// step feeds c to a copy of s and appends the resulting stacks to out.
func step(out []stack, s stack, c byte) []stack {
	s = append(stack(nil), s...)
	top := &s[len(s)-1]
	// Blanks between tokens: allowed where a value, key or punctuation is
	// expected, a limited number in a row.
	blankOK := false
	switch top.kind {
	case fValue, fEnd:
		blankOK = true
	case fObject:
		blankOK = top.st != oValue
	case fArray:
		blankOK = true
	}
	if isBlank(c) && blankOK {
		// Between tokens: one space, or a newline and an indent of up to
		// maxBlanks spaces or tabs, as JSON writers produce; no more, so a
		// model cannot fill its budget with blanks.
		switch {
		case c == '\r':
			return out
		case top.ws == 0:
			top.ws, top.wsNL = 1, c == '\n'
		case top.wsNL && c != '\n' && top.ws <= maxBlanks:
			top.ws++
		default:
			return out
		}
		return append(out, s)
	}
	top.ws, top.wsNL = 0, false
	switch top.kind {
	case fEnd:
		return out
	case fValue:
		return startValue(out, s, c)
	case fObject:
		return stepObject(out, s, c)
	case fArray:
		return stepArray(out, s, c)
	case fString:
		ok, closed := stepString(top, c)
		switch {
		case closed:
			return done(out, s[:len(s)-1])
		case ok:
			return append(out, s)
		}
		return out
	case fKey:
		return stepKey(out, s, c)
	case fNumber:
		return stepNumber(out, s, c)
	case fLiteral:
		return stepLiteral(out, s, c)
	}
	return out
}

// startValue begins a value of the top frame's schema with c.
func startValue(out []stack, s stack, c byte) []stack {
	if len(s) > maxDepth {
		return out
	}
	top := &s[len(s)-1]
	n := top.n
	switch n.kind {
	case kLiteral:
		*top = frame{kind: fLiteral, n: n, seen: 1<<len(n.literals) - 1}
		return stepLiteral(out, s, c)
	case kObject:
		if c == '{' {
			*top = frame{kind: fObject, n: n, st: oOpen, cur: -1}
			return append(out, s)
		}
	case kArray:
		if c == '[' {
			*top = frame{kind: fArray, n: n, st: oOpen}
			return append(out, s)
		}
	case kString:
		if c == '"' {
			*top = frame{kind: fString, n: n}
			return append(out, s)
		}
	case kNumber, kInteger:
		*top = frame{kind: fNumber, n: n, st: nSign}
		if c == '-' {
			return append(out, s)
		}
		return stepNumber(out, s, c)
	case kAny:
		switch {
		case c == '{':
			*top = frame{kind: fObject, n: anyObject, st: oOpen, cur: -1}
		case c == '[':
			*top = frame{kind: fArray, n: anyArray, st: oOpen}
		case c == '"':
			*top = frame{kind: fString, n: n}
		case c == '-' || (c >= '0' && c <= '9'):
			*top = frame{kind: fValue, n: anyNumber}
			return startValue(out, s, c)
		case c == 't' || c == 'f' || c == 'n':
			*top = frame{kind: fValue, n: anyLiteral}
			return startValue(out, s, c)
		default:
			return out
		}
		return append(out, s)
	case kUnion:
		for _, e := range expand(s, 0) {
			out = startValue(out, e, c)
		}
	}
	return out
}

var (
	anyObject  = &node{kind: kObject, extra: &node{kind: kAny}}
	anyArray   = &node{kind: kArray, items: &node{kind: kAny}, maxItems: -1}
	anyNumber  = &node{kind: kNumber}
	anyLiteral = &node{kind: kLiteral, literals: []string{"true", "false", "null"}}
)

// done pops a finished value: the frame below learns that its value ended.
func done(out []stack, s stack) []stack {
	top := &s[len(s)-1]
	if top.st == oValue { // a key (a string) ending leaves the object at oColon
		switch top.kind {
		case fObject:
			top.st = oNext
		case fArray:
			top.st = oNext
			top.count++
		}
	}
	return append(out, s)
}

func stepObject(out []stack, s stack, c byte) []stack {
	top := &s[len(s)-1]
	n := top.n
	free := len(n.props) == 0
	switch top.st {
	case oOpen, oKey:
		if c == '}' && top.st == oOpen && top.seen&n.required == n.required {
			return done(out, s[:len(s)-1])
		}
		if c != '"' {
			return out
		}
		if free {
			if n.extra == nil {
				return out
			}
			top.st, top.cur = oColon, -1
			return append(out, append(s, frame{kind: fString}))
		}
		left := (uint64(1)<<len(n.props) - 1) &^ top.seen
		if left == 0 {
			return out
		}
		top.st = oColon
		return append(out, append(s, frame{kind: fKey, n: n, seen: left, pos: 1}))
	case oColon:
		if c != ':' {
			return out
		}
		top.st = oValue
		vn := n.extra
		if top.cur >= 0 {
			vn = n.props[top.cur].node
		}
		return append(out, expand(append(s, frame{kind: fValue, n: vn}), 0)...)
	case oNext:
		if c == ',' {
			if !free && top.seen == uint64(1)<<len(n.props)-1 {
				return out
			}
			top.st = oKey
			return append(out, s)
		}
		if c == '}' && top.seen&n.required == n.required {
			return done(out, s[:len(s)-1])
		}
	}
	return out
}

// stepKey matches an object key (its JSON encoding, quotes included)
// against the properties not yet written.
func stepKey(out []stack, s stack, c byte) []stack {
	top := &s[len(s)-1]
	n := top.n
	var alive uint64
	for i, p := range n.props {
		if top.seen&(1<<i) != 0 && top.pos < len(p.key) && p.key[top.pos] == c {
			alive |= 1 << i
		}
	}
	if alive == 0 {
		return out
	}
	top.seen = alive
	top.pos++
	for i, p := range n.props {
		if alive&(1<<i) != 0 && top.pos == len(p.key) {
			// Keys are prefix-free (each ends with its quote): this is the one.
			s = s[:len(s)-1]
			obj := &s[len(s)-1]
			obj.cur = i
			obj.seen |= 1 << i
			return append(out, s)
		}
	}
	return append(out, s)
}

func stepArray(out []stack, s stack, c byte) []stack {
	top := &s[len(s)-1]
	n := top.n
	switch top.st {
	case oOpen, oKey:
		if c == ']' && top.st == oOpen && n.minItems == 0 {
			return done(out, s[:len(s)-1])
		}
		if n.maxItems >= 0 && top.count >= n.maxItems {
			return out
		}
		top.st = oValue
		for _, e := range expand(append(s, frame{kind: fValue, n: n.items}), 0) {
			out = startValue(out, e, c)
		}
		return out
	case oNext:
		if c == ',' && (n.maxItems < 0 || top.count < n.maxItems) {
			top.st = oKey
			return append(out, s)
		}
		if c == ']' && top.count >= n.minItems {
			return done(out, s[:len(s)-1])
		}
	}
	return out
}

// stepString advances a string frame by c; ok false refuses c, closed
// reports the closing quote (popped by the caller).
func stepString(f *frame, c byte) (ok, closed bool) {
	ok = stepStringByte(f, c)
	return ok, ok && f.esc == 0 && f.pos == 0 && c == '"' && !f.escaped
}

func stepStringByte(f *frame, c byte) bool {
	f.escaped = false
	switch {
	case f.pos > 0 && f.esc == 0: // UTF-8 continuation bytes due
		if c&0xC0 != 0x80 {
			return false
		}
		f.pos--
		return true
	case f.esc == 1:
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			f.esc, f.escaped = 0, true
		case 'u':
			f.esc, f.pos = 2, 4
		default:
			return false
		}
		return true
	case f.esc == 2:
		if !isHex(c) {
			return false
		}
		if f.pos--; f.pos == 0 {
			f.esc = 0
		}
		return true
	}
	switch {
	case c == '\\':
		f.esc = 1
	case c < 0x20:
		return false
	case c < 0x80:
	case c&0xE0 == 0xC0 && c >= 0xC2:
		f.pos = 1
	case c&0xF0 == 0xE0:
		f.pos = 2
	case c&0xF8 == 0xF0 && c <= 0xF4:
		f.pos = 3
	default:
		return false
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// stepNumber advances a number; where the number could end, a second
// stack that has ended it is added, so the next byte decides.
func stepNumber(out []stack, s stack, c byte) []stack {
	top := &s[len(s)-1]
	integer := top.n.kind == kInteger
	ok := true
	switch top.st {
	case nSign:
		switch {
		case c == '0':
			top.st = nZero
		case c >= '1' && c <= '9':
			top.st = nInt
		default:
			ok = false
		}
	case nZero, nInt:
		switch {
		case isDigit(c) && top.st == nInt:
		case c == '.' && !integer:
			top.st = nDot
		case (c == 'e' || c == 'E') && !integer:
			top.st = nExp
		default:
			ok = false
		}
	case nDot, nFrac:
		switch {
		case isDigit(c):
			top.st = nFrac
		case (c == 'e' || c == 'E') && top.st == nFrac:
			top.st = nExp
		default:
			ok = false
		}
	case nExp:
		switch {
		case c == '+' || c == '-':
			top.st = nExpSign
		case isDigit(c):
			top.st = nExpDigit
		default:
			ok = false
		}
	case nExpSign, nExpDigit:
		if isDigit(c) {
			top.st = nExpDigit
		} else {
			ok = false
		}
	}
	if !ok {
		return out
	}
	if top.count++; top.count > maxDigits {
		return out
	}
	out = append(out, s)
	switch top.st {
	case nZero, nInt, nFrac, nExpDigit:
		out = done(out, append(stack(nil), s[:len(s)-1]...))
	}
	return out
}

// stepLiteral matches c against the candidates still alive; where one is
// complete, a stack that has ended the value is added.
func stepLiteral(out []stack, s stack, c byte) []stack {
	top := &s[len(s)-1]
	lits := top.n.literals
	var alive uint64
	for i, l := range lits {
		if top.seen&(1<<i) != 0 && top.pos < len(l) && l[top.pos] == c {
			alive |= 1 << i
		}
	}
	if alive == 0 {
		return out
	}
	top.seen = alive
	top.pos++
	complete, longer := false, false
	for i, l := range lits {
		if alive&(1<<i) != 0 {
			if top.pos == len(l) {
				complete = true
			} else {
				longer = true
			}
		}
	}
	if longer {
		out = append(out, s)
	}
	if complete {
		out = done(out, append(stack(nil), s[:len(s)-1]...))
	}
	return out
}
