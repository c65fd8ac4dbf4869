package hub

import (
	"fmt"
	"regexp"
	"strings"
)

// Filter selects repository files by glob patterns, as huggingface_hub's
// allow_patterns and ignore_patterns (and `hf download --include
// --exclude`) do: a file is selected when it matches some Include pattern
// (or Include is empty) and no Exclude pattern. Patterns follow Python's
// fnmatch: `*` matches any run of characters, `/` included, `?` one
// character, `[seq]` and `[!seq]` one character in or not in seq; matching
// is case-sensitive and covers the whole path. A pattern ending in `/`
// names a folder and matches everything below it. A nil *Filter selects
// every file.
type Filter struct {
	include, exclude []*regexp.Regexp
	text             string
}

// NewFilter compiles include and exclude patterns; with neither it returns
// nil, which selects everything.
func NewFilter(include, exclude []string) (*Filter, error) {
	if len(include) == 0 && len(exclude) == 0 {
		return nil, nil
	}
	f := &Filter{}
	var parts []string
	for _, set := range []struct {
		pats []string
		dst  *[]*regexp.Regexp
		flag string
	}{{include, &f.include, "--include"}, {exclude, &f.exclude, "--exclude"}} {
		for _, p := range set.pats {
			if p == "" {
				return nil, fmt.Errorf("%s: empty pattern", set.flag)
			}
			re, err := regexp.Compile(fnmatchRegexp(p))
			if err != nil {
				return nil, fmt.Errorf("%s %q: not a valid pattern: %v", set.flag, p, err)
			}
			*set.dst = append(*set.dst, re)
			parts = append(parts, set.flag+" "+p)
		}
	}
	f.text = strings.Join(parts, " ")
	return f, nil
}

// Allows reports whether name (a repository path with / separators) is
// selected.
func (f *Filter) Allows(name string) bool {
	if f == nil {
		return true
	}
	ok := len(f.include) == 0
	for _, re := range f.include {
		ok = ok || re.MatchString(name)
	}
	for _, re := range f.exclude {
		ok = ok && !re.MatchString(name)
	}
	return ok
}

// String lists the patterns as flags, for messages.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

// fnmatchRegexp translates a glob into an anchored regular expression with
// the rules of Python's fnmatch.translate.
func fnmatchRegexp(pat string) string {
	if strings.HasSuffix(pat, "/") {
		pat += "*"
	}
	var b strings.Builder
	b.WriteString(`(?s)^(?:`)
	rs := []rune(pat)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`) // no closing bracket: a literal [
				continue
			}
			set := rs[i+1 : j]
			b.WriteByte('[')
			if set[0] == '!' {
				b.WriteByte('^')
				set = set[1:]
			}
			for _, r := range set {
				if r == '-' {
					b.WriteRune(r)
				} else {
					b.WriteString(regexp.QuoteMeta(string(r)))
				}
			}
			b.WriteByte(']')
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return b.String()
}
