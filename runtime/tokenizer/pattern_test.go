package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// runePool mixes the character classes the split regexes distinguish:
// ASCII letters, digits, apostrophes and contraction letters, spaces of
// several kinds, newlines, punctuation and symbols, combining marks,
// letters and digits from other scripts, CJK, emoji, control and format
// characters.
var runePool = []rune("aAsStTrReEvVmMlLdDſzZ09 '''\t\n\r\v\f\u00a0\u3000\u2028\u0085!?.,-_\"#$%&()*+/:;<=>@[\\]^`{|}~" +
	"é\u0301\u0308\u093cÅ日本語カナひら한국어中文αβγЖж٣४²½ⅷ😀👍\u200d\ufe0f\u200b\u00ad\x00\x7f€£©®™←")

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(runePool[r.IntN(len(runePool))])
	}
	return b.String()
}

func referenceMatches(t *testing.T, re *regexp2.Regexp, s string) [][2]int {
	t.Helper()
	ms, err := re.FindAllStringIndex(s, -1)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]int
	for _, m := range ms {
		out = append(out, [2]int{m[0], m[1]})
	}
	return out
}

// TestFastPatternsMatchRegexp2 checks every fast matcher against regexp2
// running the same regex, on fixed edge cases and random text.
func TestFastPatternsMatchRegexp2(t *testing.T) {
	exprs := []string{
		`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
		`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
		"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
		`\p{N}{1,3}`,
		`[一-龥぀-ゟ゠-ヿ]+`,
	}
	fixed := []string{
		"", " ", "  ", "a", "Hello world", "I'm don't WE'LL 'S 'ſ", "  x", "   \n\n  y  ", "\r\n\r\n", "a  \t\n b",
		"1234567", "x1y22z333", "??!!\n\n", " ?! ", "é\u0301\u0301a", "\u0301", "日本語テキスト", "'hello", "'", "’s",
		"foo  bar   ", "\u00a0\u00a0x", "tab\tsep", "end ", "$x.y", "a.b_c", "..A", "\u200dq",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, expr := range exprs {
		fast, err := compileRegex(expr)
		if err != nil {
			t.Fatal(err)
		}
		if _, slow := fast.(backtrackRegexp); slow {
			t.Fatalf("%q did not get a fast matcher", expr)
		}
		ref := regexp2.MustCompile(expr, regexp2.None)
		inputs := slices.Clone(fixed)
		for range 3000 {
			inputs = append(inputs, randomText(r, 1+r.IntN(24)))
		}
		for _, s := range inputs {
			got := matchesOf(fast, s)
			want := referenceMatches(t, ref, s)
			if !slices.Equal(got, want) {
				t.Fatalf("pattern %q on %q:\n got %v\nwant %v", expr, s, got, want)
			}
		}
	}
}

// TestGoldenTokenizersUseFastMatchers makes sure the regexes in the real
// files are recognized, so encoding does not silently fall back to the
// slow engine.
func TestGoldenTokenizersUseFastMatchers(t *testing.T) {
	for _, fam := range []string{"llama3", "qwen3", "deepseek_v3", "cl100k"} {
		t.Run(fam, func(t *testing.T) {
			tk := loadCached(t, familyDir(t, fam))
			var walk func(pt preTokenizer) int
			walk = func(pt preTokenizer) int {
				n := 0
				switch x := pt.(type) {
				case preTokenizerSeq:
					for _, p := range x {
						n += walk(p)
					}
				case splitPreTokenizer:
					if _, slow := x.pattern.(backtrackRegexp); slow {
						t.Errorf("split pattern runs on regexp2")
					}
					n++
				}
				return n
			}
			if walk(tk.preTok) == 0 {
				t.Fatal("no Split pre-tokenizer found")
			}
		})
	}
}

func TestSameInRE2(t *testing.T) {
	for expr, want := range map[string]bool{
		`\p{N}{1,3}`:   true,
		`[一-龥]+`:       true,
		`[^\r\n]+\.`:   true,
		`\s+`:          false,
		`\d`:           false,
		`^a`:           false,
		`a$`:           false,
		`[[:alpha:]]`:  false,
		`\u0041`:       false,
		`a{,3}`:        false,
		`x(?!y)`:       true, // Go rejects it, and compileRegex then uses regexp2
		`\bword\b`:     false,
		`[\p{L}\p{M}]`: true,
	} {
		if got := sameInRE2(expr); got != want {
			t.Errorf("sameInRE2(%q) = %v, want %v", expr, got, want)
		}
	}
	p, err := compileRegex(`x(?!y)`)
	if err != nil {
		t.Fatal(err)
	}
	if got := matchesOf(p, "xy xz x"); !slices.Equal(got, [][2]int{{3, 4}, {6, 7}}) {
		t.Errorf("look-ahead fallback: got %v", got)
	}
}

func TestSplitBehaviors(t *testing.T) {
	const s = "The-final--countdown"
	for _, c := range []struct {
		behavior splitBehavior
		invert   bool
		want     []string
	}{
		{splitRemoved, false, []string{"The", "final", "countdown"}},
		{splitIsolated, false, []string{"The", "-", "final", "-", "-", "countdown"}},
		{splitMergedWithPrevious, false, []string{"The-", "final-", "-", "countdown"}},
		{splitMergedWithNext, false, []string{"The", "-final", "-", "-countdown"}},
		{splitContiguous, false, []string{"The", "-", "final", "--", "countdown"}},
		{splitRemoved, true, []string{"-", "-", "-"}},
	} {
		var got []string
		splitBy(s, literalPattern("-"), c.behavior, c.invert, func(p string) { got = append(got, p) })
		if !slices.Equal(got, c.want) {
			t.Errorf("behavior %d invert %v: got %q, want %q", c.behavior, c.invert, got, c.want)
		}
	}
	// The streaming split gives what splitting a list of parts gives, on
	// texts that start and end with delimiters and repeat them.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = "ab-"[r.IntN(3)]
		}
		s := string(b)
		for behavior := splitRemoved; behavior <= splitContiguous; behavior++ {
			for _, invert := range []bool{false, true} {
				var got []string
				splitBy(s, literalPattern("-"), behavior, invert, func(p string) { got = append(got, p) })
				if want := listSplit(s, matchesOf(literalPattern("-"), s), behavior, invert); !slices.Equal(got, want) {
					t.Fatalf("%q behavior %d invert %v: got %q, want %q", s, behavior, invert, got, want)
				}
			}
		}
	}
}

// listSplit is Split as the reference writes it: the list of parts, then
// the merges of the behavior.
func listSplit(s string, matches [][2]int, behavior splitBehavior, invert bool) []string {
	type part struct {
		start, end int
		delim      bool
	}
	var parts []part
	prev := 0
	for _, m := range matches {
		if m[0] > prev {
			parts = append(parts, part{prev, m[0], invert})
		}
		parts = append(parts, part{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev < len(s) {
		parts = append(parts, part{prev, len(s), invert})
	}
	var out []part
	switch behavior {
	case splitRemoved:
		for _, p := range parts {
			if !p.delim {
				out = append(out, p)
			}
		}
	case splitIsolated:
		out = parts
	case splitMergedWithPrevious:
		prevDelim := false
		for _, p := range parts {
			if p.delim && !prevDelim && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, p)
			}
			prevDelim = p.delim
		}
	case splitMergedWithNext:
		prevDelim := false
		for i := len(parts) - 1; i >= 0; i-- {
			p := parts[i]
			if p.delim && !prevDelim && len(out) > 0 {
				out[len(out)-1].start = p.start
			} else {
				out = append(out, p)
			}
			prevDelim = p.delim
		}
		slices.Reverse(out)
	case splitContiguous:
		prevDelim := false
		for _, p := range parts {
			if p.delim == prevDelim && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, p)
			}
			prevDelim = p.delim
		}
	}
	var pieces []string
	for _, p := range out {
		if p.end > p.start {
			pieces = append(pieces, s[p.start:p.end])
		}
	}
	return pieces
}

func TestMetaspaceAndDigits(t *testing.T) {
	m := metaspacePreTokenizer{replacement: "▁", scheme: prependFirst, split: true}
	if got := preTokenize(m, "Hey friend", true); !slices.Equal(got, []string{"▁Hey", "▁friend"}) {
		t.Errorf("metaspace first: %q", got)
	}
	if got := preTokenize(m, "Hey friend", false); !slices.Equal(got, []string{"Hey", "▁friend"}) {
		t.Errorf("metaspace not first: %q", got)
	}
	d := metaspaceDecoder{replacement: "▁", dropFirst: true}
	if got := strings.Join(d.decodeChain([]string{"▁Hey", "▁friend"}), ""); got != "Hey friend" {
		t.Errorf("metaspace decode: %q", got)
	}
	if got := preTokenize(digitsPreTokenizer{individual: true}, "a12b", false); !slices.Equal(got, []string{"a", "1", "2", "b"}) {
		t.Errorf("digits individual: %q", got)
	}
	if got := preTokenize(digitsPreTokenizer{}, "a12b", false); !slices.Equal(got, []string{"a", "12", "b"}) {
		t.Errorf("digits contiguous: %q", got)
	}
}

// TestHostileSplitRegexIsBounded: a pre-tokenizer regex with catastrophic
// backtracking ("(a+)+$" takes 2^n steps on n a's not followed by the end)
// finishes within the regex time bound and still gives a lossless encoding.
func TestHostileSplitRegexIsBounded(t *testing.T) {
	tk := mustFromBytes(t, `{
		"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a+)+$"}, "behavior": "Isolated", "invert": false},
		"model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "!": 2, "aa": 3}, "merges": ["a a"], "unk_token": "<unk>"}}`)
	text := strings.Repeat("a", 51) + "!"
	done := make(chan []int, 1)
	start := time.Now()
	go func() { done <- tk.Encode(text, false) }()
	select {
	case ids := <-done:
		if got := strings.ReplaceAll(tk.Decode(ids, false), " ", ""); got != text {
			t.Errorf("decoded %q, want %q", got, text)
		}
		t.Logf("encoded in %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("Encode still running after 10 s")
	}
}
