package tokenizer

import (
	"strconv"
	"strings"
	"time"
)

// strftime formats t with Python's strftime directives (C locale), which
// chat templates use through strftime_now, e.g. "%d %b %Y". The glibc
// flag "-" (no padding, as in "%-d") is supported as well. Unknown
// directives are kept as written, as glibc does.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	pad2 := func(n int, noPad bool) string {
		if noPad || n >= 10 {
			return strconv.Itoa(n)
		}
		return "0" + strconv.Itoa(n)
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		noPad := false
		if format[i] == '-' && i+1 < len(format) {
			noPad = true
			i++
		}
		hour12 := t.Hour() % 12
		if hour12 == 0 {
			hour12 = 12
		}
		switch format[i] {
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'y':
			b.WriteString(pad2(t.Year()%100, noPad))
		case 'm':
			b.WriteString(pad2(int(t.Month()), noPad))
		case 'd':
			b.WriteString(pad2(t.Day(), noPad))
		case 'e':
			d := strconv.Itoa(t.Day())
			if len(d) == 1 && !noPad {
				d = " " + d
			}
			b.WriteString(d)
		case 'H':
			b.WriteString(pad2(t.Hour(), noPad))
		case 'I':
			b.WriteString(pad2(hour12, noPad))
		case 'M':
			b.WriteString(pad2(t.Minute(), noPad))
		case 'S':
			b.WriteString(pad2(t.Second(), noPad))
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'j':
			d := strconv.Itoa(t.YearDay())
			if !noPad {
				d = strings.Repeat("0", 3-len(d)) + d
			}
			b.WriteString(d)
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			if noPad {
				b.WriteByte('-')
			}
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
