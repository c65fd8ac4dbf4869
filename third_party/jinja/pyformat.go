package jinja

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// pyFloat formats f as Python's repr(float) does: the shortest digits that
// round-trip, always with a decimal point or an exponent ("2.0", "1e+16",
// "1e-05", "inf").
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	// Python switches to exponent notation outside 1e-4 <= |f| < 1e16.
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		if len(exp) < 2 {
			exp = strings.Repeat("0", 2-len(exp)) + exp
		}
		return mant + "e" + string(sign) + exp
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// pyRepr quotes s as Python's repr(str) does: single quotes unless s holds
// a single quote and no double quote, with backslash escapes for the quote,
// backslashes and non-printable characters.
func pyRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(int(r)))
		case r == unicode.ReplacementChar || unicode.IsPrint(r) || r == ' ':
			b.WriteRune(r)
		case r < 0x100:
			b.WriteString(`\x`)
			b.WriteString(hex2(int(r)))
		case r < 0x10000:
			b.WriteString(`\u`)
			b.WriteString(hex2(int(r) >> 8))
			b.WriteString(hex2(int(r) & 0xff))
		default:
			b.WriteString(`\U`)
			for shift := 24; shift >= 0; shift -= 8 {
				b.WriteString(hex2(int(r) >> shift & 0xff))
			}
		}
	}
	b.WriteByte(quote)
	return b.String()
}

func hex2(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>4&0xf], digits[n&0xf]})
}

// pyType is the name Python gives v's type, for error messages.
func pyType(v Value) string {
	switch v.kind {
	case KindNone:
		return "NoneType"
	case KindBool:
		return "bool"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindString:
		return "str"
	case KindList:
		return "list"
	case KindDict:
		return "dict"
	case KindCallable:
		return "function"
	}
	return "Undefined"
}

// formatPercent is Python's printf-style str % args for the conversions
// templates use: %s, %r, %d, %i, %f and %%.
func formatPercent(format string, args Value) (Value, error) {
	var list []Value
	if args.IsList() {
		list = args.AsList().Items
	} else {
		list = []Value{args}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return Undefined(), fmt.Errorf("incomplete format")
		}
		verb := format[i]
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if next >= len(list) {
			return Undefined(), fmt.Errorf("not enough arguments for format string")
		}
		arg := list[next]
		next++
		switch verb {
		case 's':
			b.WriteString(printValue(arg))
		case 'r':
			b.WriteString(arg.String())
		case 'd', 'i':
			b.WriteString(strconv.FormatInt(toInt64(arg), 10))
		case 'f':
			b.WriteString(strconv.FormatFloat(toFloat64(arg), 'f', 6, 64))
		default:
			return Undefined(), fmt.Errorf("unsupported format character %q", verb)
		}
		if b.Len() > maxValueBytes {
			return Undefined(), checkSize("format", float64(b.Len()))
		}
	}
	if next < len(list) && args.IsList() {
		return Undefined(), fmt.Errorf("not all arguments converted during string formatting")
	}
	return NewString(b.String()), nil
}
