package tokenizer

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// mustNormalizer builds a normalizer from its tokenizer.json form.
func mustNormalizer(t *testing.T, spec string) normalizer {
	t.Helper()
	n, err := buildNormalizer(json.RawMessage(spec))
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	if n == nil {
		t.Fatalf("%s: no normalizer", spec)
	}
	return n
}

func TestUnicodeNormalizers(t *testing.T) {
	for typ, cases := range map[string]map[string]string{
		"NFC": {
			"cafe\u0301":            "café",
			"a\u0323\u0302":         "ậ",
			"a\u0302\u0323":         "ậ", // marks reordered by combining class first
			"\u212b":                "Å", // singleton decomposition
			"\u0958":                "\u0915\u093c",
			"\u0915\u093c":          "\u0915\u093c", // composition exclusion stays split
			"\u1100\u1161\u11a8":    "각",
			"\uac00\u11a8":          "각",
			"\u0301a":               "\u0301a", // a leading mark has nothing to join
			"ﬁ":                     "ﬁ",       // compatibility forms are kept
			"Ångström naïve résumé": "Ångström naïve résumé",
		},
		"NFD": {
			"café":          "cafe\u0301",
			"각":             "\u1100\u1161\u11a8",
			"\u212b":        "A\u030a",
			"a\u0302\u0323": "a\u0323\u0302",
			"ﬁ":             "ﬁ",
		},
		"NFKC": {
			"ﬁ":          "fi",
			"x²":         "x2",
			"①":          "1",
			"ＡＢｃ":        "ABc",
			"ｶﾞ":         "ガ", // half-width kana and voicing mark compose
			"cafe\u0301": "café",
			"\u212b":     "Å",
		},
		"NFKD": {
			"ﬁ":    "fi",
			"ガ":    "カ\u3099",
			"é":    "e\u0301",
			"²":    "2",
			"Ｃafé": "Cafe\u0301",
		},
	} {
		n := mustNormalizer(t, `{"type": "`+typ+`"}`)
		for in, want := range cases {
			if got := n.normalize(in); got != want {
				t.Errorf("%s(%+q) = %+q, want %+q", typ, in, got, want)
			}
			// Every form is idempotent.
			if got := n.normalize(want); got != want {
				t.Errorf("%s not idempotent on %+q: %+q", typ, want, got)
			}
		}
	}
}

// TestNFCNoCopy backs the claim that normalized text passes through
// without an allocation, which matters because every segment goes through
// the normalizer.
func TestNFCNoCopy(t *testing.T) {
	n := mustNormalizer(t, `{"type": "NFC"}`)
	s := strings.Repeat("Plain text, déjà vu, 日本語. ", 20)
	if allocs := testing.AllocsPerRun(20, func() { _ = n.normalize(s) }); allocs != 0 {
		t.Errorf("NFC of normalized text: %v allocations", allocs)
	}
}

func TestLowercaseNormalizer(t *testing.T) {
	n := mustNormalizer(t, `{"type": "Lowercase"}`)
	for in, want := range map[string]string{
		"Hello WORLD": "hello world",
		"ÀÉÎ Ωμέγα":   "àéî ωμέγα",
		"İstanbul":    "i\u0307stanbul", // full mapping, two runes
		"ΟΔΟΣ":        "οδοσ",           // no final-sigma context
		"Ǆ ǅ":         "ǆ ǆ",
		"ẞ":           "ß",
		"already low": "already low",
		"ＡＢＣ 123 日本":  "ａｂｃ 123 日本",
	} {
		if got := n.normalize(in); got != want {
			t.Errorf("Lowercase(%+q) = %+q, want %+q", in, got, want)
		}
	}
}

func TestStripNormalizer(t *testing.T) {
	const in = " \t\u00a0 a  b \u3000\n"
	for spec, want := range map[string]string{
		`{"type": "Strip", "strip_left": true, "strip_right": true}`:   "a  b",
		`{"type": "Strip", "strip_left": true, "strip_right": false}`:  "a  b \u3000\n",
		`{"type": "Strip", "strip_left": false, "strip_right": true}`:  " \t\u00a0 a  b",
		`{"type": "Strip", "strip_left": false, "strip_right": false}`: in,
	} {
		if got := mustNormalizer(t, spec).normalize(in); got != want {
			t.Errorf("%s: got %+q, want %+q", spec, got, want)
		}
	}
}

// TestNormalizerPipeline runs a Sequence through a whole tokenizer.
func TestNormalizerPipeline(t *testing.T) {
	tk := mustFromBytes(t, `{
		"normalizer": {"type": "Sequence", "normalizers": [
			{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": true, "strip_right": true}]},
		"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2, "f": 3, "i": 4, "fi": 5}, "merges": ["f i"]}}`)
	got := tk.Encode("  ＡB ﬁ \u3000", false)
	if want := []int{0, 1, 2, 5}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
