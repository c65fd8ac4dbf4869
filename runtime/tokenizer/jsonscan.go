package tokenizer

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON scanner for the two large parts of tokenizer.json, the
// vocabulary and the merges. They hold hundreds of thousands of entries;
// scanning them directly instead of through encoding/json's reflection
// makes loading several times faster.

type jsonScanner struct {
	b   []byte
	i   int
	buf []byte // scratch for unescaped strings
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", s.i, fmt.Sprintf(format, args...))
}

func (s *jsonScanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *jsonScanner) peek() byte {
	s.skipSpace()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *jsonScanner) expect(c byte) error {
	if s.peek() != c {
		return s.errorf("expected %q", c)
	}
	s.i++
	return nil
}

// str reads a JSON string. The result aliases the input when the string
// has no escapes, or the scanner's scratch buffer otherwise; either way it
// is only valid until the next call.
func (s *jsonScanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			return s.escapedStr(start)
		case c < 0x20:
			return nil, s.errorf("control character in string")
		default:
			s.i++
		}
	}
	return nil, s.errorf("unterminated string")
}

func (s *jsonScanner) escapedStr(start int) ([]byte, error) {
	s.buf = append(s.buf[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.buf, nil
		case c < 0x20:
			return nil, s.errorf("control character in string")
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if lo, ok := s.hex4(); ok {
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							s.i = save
						}
					} else {
						s.i = save
					}
				}
				r = r2
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, s.errorf("bad escape \\%c", e)
		}
	}
	return nil, s.errorf("unterminated string")
}

func (s *jsonScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(v), true
}

func (s *jsonScanner) integer() (int, error) {
	s.skipSpace()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	v, err := strconv.Atoi(string(s.b[start:s.i]))
	if err != nil {
		s.i = start
		return 0, s.errorf("expected an integer")
	}
	return v, nil
}

// list calls item for each element of a JSON array.
func (s *jsonScanner) list(item func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.errorf("expected ',' or ']'")
		}
	}
}

// parseVocab reads the {"token": id, ...} object of a BPE model.
func parseVocab(raw []byte) (map[string]int, error) {
	s := &jsonScanner{b: raw}
	vocab := make(map[string]int, len(raw)/16)
	if err := s.expect('{'); err != nil {
		return nil, fmt.Errorf("vocab: %w", err)
	}
	if s.peek() == '}' {
		return vocab, nil
	}
	for {
		k, err := s.str()
		if err != nil {
			return nil, fmt.Errorf("vocab: %w", err)
		}
		key := string(k)
		if err := s.expect(':'); err != nil {
			return nil, fmt.Errorf("vocab: %w", err)
		}
		id, err := s.integer()
		if err != nil {
			return nil, fmt.Errorf("vocab %q: %w", key, err)
		}
		if id < 0 {
			return nil, fmt.Errorf("vocab %q: negative id %d", key, id)
		}
		vocab[key] = id
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			return vocab, nil
		default:
			return nil, fmt.Errorf("vocab: %w", s.errorf("expected ',' or '}'"))
		}
	}
}

// scanMerges calls fn for each merge, accepting both encodings: "a b"
// strings (older files) and ["a", "b"] pairs (files written since
// tokenizers 0.20, which allow tokens with spaces). The arguments are
// only valid during the call.
func scanMerges(raw []byte, fn func(a, b []byte) error) error {
	s := &jsonScanner{b: raw}
	var first []byte
	n := 0
	err := s.list(func() error {
		defer func() { n++ }()
		if s.peek() == '"' {
			line, err := s.str()
			if err != nil {
				return err
			}
			a, b, ok := cutSingleSpace(line)
			if !ok {
				return fmt.Errorf("merges[%d] %q: expected two tokens separated by one space", n, line)
			}
			return fn(a, b)
		}
		k := 0
		if err := s.list(func() error {
			p, err := s.str()
			if err != nil {
				return err
			}
			switch k {
			case 0:
				first = append(first[:0], p...)
			case 1:
				if err := fn(first, p); err != nil {
					return err
				}
			}
			k++
			return nil
		}); err != nil {
			return err
		}
		if k != 2 {
			return fmt.Errorf("merges[%d]: expected a pair, got %d items", n, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("merges: %w", err)
	}
	return nil
}

// cutSingleSpace splits "a b" into its two halves; more or fewer than one
// space is an error, as in the reference loader.
func cutSingleSpace(s []byte) ([]byte, []byte, bool) {
	i := -1
	for k, c := range s {
		if c == ' ' {
			if i >= 0 {
				return nil, nil, false
			}
			i = k
		}
	}
	if i < 0 {
		return nil, nil, false
	}
	return s[:i], s[i+1:], true
}

// skipValue moves past one JSON value of any kind.
func (s *jsonScanner) skipValue() error {
	switch c := s.peek(); c {
	case '"':
		s.i++
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				s.i++
				return nil
			case '\\':
				s.i += 2
			default:
				s.i++
			}
		}
		return s.errorf("unterminated string")
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if err := s.skipValue(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return s.errorf("unterminated %c", c)
	case 0:
		return s.errorf("unexpected end of input")
	default:
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if s.i == start {
					return s.errorf("unexpected %q", s.b[s.i])
				}
				return nil
			}
			s.i++
		}
		return nil
	}
}

// objectFields returns the raw values of a JSON object's fields, without
// decoding them. Nested values are only checked for balance here; each is
// fully parsed by whoever reads it.
func objectFields(raw []byte) (map[string][]byte, error) {
	s := &jsonScanner{b: raw}
	out := make(map[string][]byte)
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	if s.peek() == '}' {
		s.i++
		return out, s.end()
	}
	for {
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		key := string(k)
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		s.skipSpace()
		start := s.i
		if err := s.skipValue(); err != nil {
			return nil, err
		}
		out[key] = raw[start:s.i]
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return out, s.end()
		default:
			return nil, s.errorf("expected ',' or '}'")
		}
	}
}

// end checks that only white space follows.
func (s *jsonScanner) end() error {
	if s.peek() != 0 {
		return s.errorf("unexpected data after the top-level value")
	}
	return nil
}
