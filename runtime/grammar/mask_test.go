package grammar

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/runtime/tokenizer"
)

// storiesTokens are the token bytes of the bundled stories260k tokenizer.
func vocabTokens(tb testing.TB, dir string) ([][]byte, int) {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(dir, tokenizer.TokenizerFile)); err != nil {
		tb.Skipf("no tokenizer at %s", dir)
	}
	tk, err := tokenizer.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	toks := make([][]byte, tk.VocabSize())
	for id := range toks {
		if !tk.IsSpecial(id) {
			toks[id] = tk.TokenBytes(id)
		}
	}
	return toks, tk.EOS()
}

// TestMatcherWalk lets the mask pick, at every step, the allowed token
// with the lowest id: whatever it writes must be valid, and it must end.
func TestMatcherWalk(t *testing.T) {
	toks, eos := vocabTokens(t, filepath.Join("..", "..", "testdata", "tokenizers", "stories260k"))
	g, err := Schema([]byte(`{"type":"object","properties":{"a":{"type":"integer"},"b":{"enum":["x","y"]},"c":{"type":"array","items":{"type":"boolean"},"maxItems":2}},"required":["a","b","c"]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher(toks, []int{eos})
	var out []byte
	for step := 0; ; step++ {
		if step > 200 {
			t.Fatalf("no end after 200 tokens: %q", out)
		}
		logits := make([]float32, len(toks))
		m.Mask(logits)
		pick := -1
		for id, l := range logits {
			if !math.IsInf(float64(l), -1) {
				pick = id
				break
			}
		}
		if pick < 0 {
			t.Fatalf("nothing allowed after %q", out)
		}
		if pick == eos {
			break
		}
		m.Accept(pick)
		out = append(out, toks[pick]...)
	}
	if !accepts(g, string(out)) {
		t.Errorf("walk wrote %q", out)
	}
}

// BenchmarkMask masks a 151k-token vocabulary (Qwen3's) inside a string
// and at an object key.
func BenchmarkMask(b *testing.B) {
	toks, eos := vocabTokens(b, filepath.Join("..", "..", "..", "shared", "testdata", "tokenizers", "qwen3"))
	g, _ := Schema([]byte(`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}`))
	for _, pos := range []struct{ name, text string }{{"in string", `{"name": "Li`}, {"at key", `{"name": "Lily", `}, {"any object value", `{"x": `}} {
		b.Run(pos.name, func(b *testing.B) {
			gg := g
			if pos.name == "any object value" {
				gg = AnyObject()
			}
			m := gg.NewMatcher(toks, []int{eos})
			st, ok := m.state.Feed([]byte(pos.text))
			if !ok {
				b.Fatal("prefix refused")
			}
			m.state = st
			logits := make([]float32, len(toks))
			for b.Loop() {
				clear(logits)
				m.Mask(logits)
			}
		})
	}
}

// TestMaskMatchesFeed checks the shortcuts of Mask (first-byte table,
// string stepping, cached tails) against feeding every token in full, at
// every prefix of some valid texts.
func TestMaskMatchesFeed(t *testing.T) {
	toks, eos := vocabTokens(t, filepath.Join("..", "..", "testdata", "tokenizers", "stories260k"))
	texts := []struct {
		g    *Grammar
		text string
	}{
		{AnyObject(), `{"name": "Li\"ly\u00e9 é", "list": [1, -2.5e3, true, null, {"k": "v"}], "n": {}}`},
	}
	g, err := Schema([]byte(`{"type":"object","properties":{"a":{"type":"string"},"b":{"enum":["x","yz",3]},"c":{"type":"array","items":{"type":"string"}}},"required":["a"]}`))
	if err != nil {
		t.Fatal(err)
	}
	texts = append(texts, struct {
		g    *Grammar
		text string
	}{g, `{"c": ["p\"", "q"], "a": "free text, \"quoted\"", "b": "yz"}`})
	for _, tc := range texts {
		for i := 0; i <= len(tc.text); i++ {
			m := tc.g.NewMatcher(toks, []int{eos})
			st, ok := m.state.Feed([]byte(tc.text[:i]))
			if !ok {
				t.Fatalf("prefix %q refused", tc.text[:i])
			}
			m.state = st
			logits := make([]float32, len(toks))
			m.Mask(logits)
			for id, b := range toks {
				want := false
				switch {
				case id == eos:
					want = st.CanEnd()
				case len(b) > 0 && !(st.CanEnd() && m.onlyEnd()):
					_, want = st.Feed(b)
				}
				if got := !math.IsInf(float64(logits[id]), -1); got != want {
					t.Fatalf("after %q, token %d %q: allowed %v, want %v", tc.text[:i], id, b, got, want)
				}
			}
		}
	}
}
