package tokenizer

import (
	"path/filepath"
	"testing"
)

// TestNFCVectors compares with Python's unicodedata on random strings
// built from decomposable characters, combining marks and Hangul jamo
// (testdata/nfc_vectors.jsonl, written by gen/nfc_vectors.py).
func TestNFCVectors(t *testing.T) {
	type vec struct{ S, NFC, NFD string }
	cases := readJSONL[vec](t, filepath.Join("testdata", "nfc_vectors.jsonl"))
	for _, c := range cases {
		if c.S == "" || c.NFC == "" || c.NFD == "" {
			t.Fatalf("bad vector %+v", c)
		}
		if got := toNFC(c.S); got != c.NFC {
			t.Errorf("NFC(%+q) = %+q, want %+q", c.S, got, c.NFC)
		}
		if got := toNFD(c.S); got != c.NFD {
			t.Errorf("NFD(%+q) = %+q, want %+q", c.S, got, c.NFD)
		}
		if got := toNFC(c.NFC); got != c.NFC {
			t.Errorf("NFC is not idempotent on %+q: %+q", c.NFC, got)
		}
	}
}

func TestNFCCases(t *testing.T) {
	for in, want := range map[string]string{
		"cafe\u0301":            "café",
		"café":                  "café",
		"a\u0323\u0302":         "ậ",
		"a\u0302\u0323":         "ậ",
		"\u212b":                "Å",            // singleton decomposition
		"\u0915\u093c":          "\u0915\u093c", // composition exclusion (U+0958)
		"\u0958":                "\u0915\u093c",
		"\u1100\u1161\u11a8":    "각",
		"\uac00\u11a8":          "각",
		"\u0301a":               "\u0301a",
		"plain ASCII text":      "plain ASCII text",
		"Ångström naïve résumé": "Ångström naïve résumé",
	} {
		if got := toNFC(in); got != want {
			t.Errorf("NFC(%+q) = %+q, want %+q", in, got, want)
		}
	}
}

// TestNFCTablesBelowCombining backs the fast path that skips runes below
// U+0300: none of them has a combining class or fails the quick check.
func TestNFCTablesBelowCombining(t *testing.T) {
	d := nfcTables()
	for r := rune(0); r < 0x300; r++ {
		if d.ccc[r] != 0 || d.quickNo[r] || d.quickMaybe[r] {
			t.Errorf("U+%04X: ccc %d, quickNo %v, quickMaybe %v", r, d.ccc[r], d.quickNo[r], d.quickMaybe[r])
		}
	}
}
