package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"
	"github.com/symbc/symbc/runtime/tokenizer"
)

// storiesModel is stories260k with its tokenizer.
func storiesModel(t testing.TB, opts ...Option) *Model {
	t.Helper()
	tok, err := tokenizer.Load(modelDir(t, "stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	return newTestModel(t, "stories260k", append([]Option{WithTokenizer(tok), WithThreads(2)}, opts...)...)
}

// referenceText returns a __metadata__ string of stories260k's reference file.
func referenceText(t testing.TB, key string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(modelDir(t, "stories260k"), "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	_, md, err := safetensors.ReadMetadata(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := md.Metadata()[key]
	if !ok {
		t.Fatalf("reference.safetensors has no metadata %q", key)
	}
	return s
}

// TestGenerateReference checks text generation end to end against the
// reference: the prompt's ids, the greedy ids, and their decoded text.
func TestGenerateReference(t *testing.T) {
	m := storiesModel(t)
	ref := loadReference(t, modelDir(t, "stories260k"))
	var streamed strings.Builder
	res, err := m.Generate(context.Background(), referenceText(t, "prompt"),
		WithMaxTokens(len(ref.greedyIDs)), WithIgnoreEOS(),
		WithOnText(func(p string) error { streamed.WriteString(p); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if res.PromptTokens != len(ref.promptIDs) {
		t.Errorf("prompt tokens %d, want %d", res.PromptTokens, len(ref.promptIDs))
	}
	if !equalInts(res.IDs, ref.greedyIDs) {
		t.Errorf("ids\n got %v\nwant %v", res.IDs, ref.greedyIDs)
	}
	if want := referenceText(t, "greedy_text"); res.Text != want {
		t.Errorf("text\n got %q\nwant %q", res.Text, want)
	}
	if streamed.String() != res.Text {
		t.Errorf("streamed text %q differs from Result.Text %q", streamed.String(), res.Text)
	}
	if res.StopReason != StopLength || res.CompletionTokens != len(ref.greedyIDs) {
		t.Errorf("stop %q after %d tokens, want length after %d", res.StopReason, res.CompletionTokens, len(ref.greedyIDs))
	}
	if res.PrefillTokensPerSecond <= 0 || res.DecodeTokensPerSecond <= 0 {
		t.Errorf("speeds %g / %g tokens/s, want positive", res.PrefillTokensPerSecond, res.DecodeTokensPerSecond)
	}
}

func TestGenerateStops(t *testing.T) {
	ctx := context.Background()
	m := storiesModel(t)
	ref := loadReference(t, modelDir(t, "stories260k"))
	full := referenceText(t, "greedy_text")

	t.Run("stop string", func(t *testing.T) {
		var pieces []string
		res, err := m.GenerateIDs(ctx, ref.promptIDs, WithStop("Lily", "zzz"), WithMaxTokens(64),
			WithOnText(func(p string) error { pieces = append(pieces, p); return nil }))
		if err != nil {
			t.Fatal(err)
		}
		want := full[:strings.Index(full, "Lily")]
		if res.Text != want || res.StopReason != StopString {
			t.Errorf("got %q (%s), want %q (stop)", res.Text, res.StopReason, want)
		}
		if strings.Join(pieces, "") != want {
			t.Errorf("streamed %q, want %q", strings.Join(pieces, ""), want)
		}
	})
	t.Run("stop string across tokens", func(t *testing.T) {
		stop := "girl named"
		res, err := m.GenerateIDs(ctx, ref.promptIDs, WithStop(stop), WithMaxTokens(64))
		if err != nil {
			t.Fatal(err)
		}
		if want := full[:strings.Index(full, stop)]; res.Text != want {
			t.Errorf("got %q, want %q", res.Text, want)
		}
	})
	t.Run("eos", func(t *testing.T) {
		cfg, w := hfModel(t, modelDir(t, "stories260k"))
		cfg.Model.EOSTokenIDs = []int{ref.greedyIDs[3]}
		me, err := New(cfg, w, WithTokenizer(m.tok))
		if err != nil {
			t.Fatal(err)
		}
		res, err := me.GenerateIDs(ctx, ref.promptIDs, WithMaxTokens(64))
		if err != nil {
			t.Fatal(err)
		}
		if res.StopReason != StopEOS || !equalInts(res.IDs, ref.greedyIDs[:3]) {
			t.Errorf("got %v (%s), want %v (eos)", res.IDs, res.StopReason, ref.greedyIDs[:3])
		}
	})
	t.Run("context", func(t *testing.T) {
		mc := storiesModel(t, WithMaxContext(10))
		res, err := mc.GenerateIDs(ctx, ref.promptIDs, WithMaxTokens(64))
		if err != nil {
			t.Fatal(err)
		}
		// 5 prompt tokens fill positions 0-4; the 6th new token is predicted
		// from position 9, the last one.
		if res.StopReason != StopContext || !equalInts(res.IDs, ref.greedyIDs[:6]) {
			t.Errorf("got %v (%s), want %v (context)", res.IDs, res.StopReason, ref.greedyIDs[:6])
		}
		if _, err := mc.GenerateIDs(ctx, make([]int, 10)); !errors.Is(err, ErrContextFull) {
			t.Errorf("10-token prompt in a context of 10: got %v, want ErrContextFull", err)
		}
	})
	t.Run("max tokens 0", func(t *testing.T) {
		res, err := m.GenerateIDs(ctx, ref.promptIDs, WithMaxTokens(0))
		if err != nil || len(res.IDs) != 0 || res.StopReason != StopLength {
			t.Errorf("got %v, %v", res, err)
		}
	})
}

func TestSampledGenerationReproducible(t *testing.T) {
	ctx := context.Background()
	m := storiesModel(t)
	gen := func(seed uint64) *Result {
		res, err := m.Generate(ctx, "Once upon a time", WithTemperature(1), WithTopP(0.95), WithSeed(seed),
			WithMaxTokens(40), WithIgnoreEOS())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, c := gen(42), gen(42), gen(43)
	if !equalInts(a.IDs, b.IDs) || a.Text != b.Text || a.Seed != 42 {
		t.Errorf("seed 42 twice: %q vs %q", a.Text, b.Text)
	}
	if equalInts(a.IDs, c.IDs) {
		t.Errorf("seeds 42 and 43 gave the same 40 tokens: %q", a.Text)
	}
}

func TestStream(t *testing.T) {
	ctx := context.Background()
	m := storiesModel(t)
	res, err := m.Generate(ctx, "Once upon a time", WithMaxTokens(30))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for piece, err := range m.Stream(ctx, "Once upon a time", WithMaxTokens(30)) {
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(piece)
	}
	if all.String() != res.Text {
		t.Errorf("stream %q, generate %q", all.String(), res.Text)
	}
	n := 0
	for range m.Stream(ctx, "Once upon a time", WithMaxTokens(30)) {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("early break: %d pieces", n)
	}
	var gotErr error
	for _, err := range m.Stream(ctx, "Once upon a time", WithTopK(-1)) {
		gotErr = err
	}
	if gotErr == nil {
		t.Error("stream with an invalid option yielded no error")
	}
}

func TestNoTokenizer(t *testing.T) {
	m := newTestModel(t, "llama3")
	if _, err := m.Generate(context.Background(), "hi"); !errors.Is(err, ErrNoTokenizer) {
		t.Errorf("got %v, want ErrNoTokenizer", err)
	}
	ref := loadReference(t, modelDir(t, "llama3"))
	res, err := m.GenerateIDs(context.Background(), ref.promptIDs, WithMaxTokens(len(ref.greedyIDs)), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(res.IDs, ref.greedyIDs) || res.Text != "" {
		t.Errorf("got %v %q, want %v and no text", res.IDs, res.Text, ref.greedyIDs)
	}
}

func TestStopper(t *testing.T) {
	tests := []struct {
		pieces []string
		stops  []string
		text   string
		done   bool
	}{
		{[]string{"ab", "c<", "/s", ">tail"}, []string{"</s>"}, "abc", true},
		{[]string{"ab", "c<", "x"}, []string{"</s>"}, "abc<x", false},
		{[]string{"hello wor", "ld"}, []string{"world", "lo w"}, "hel", true},
		{[]string{"a", "b"}, nil, "ab", false},
		{[]string{"xx<", "<"}, []string{"<<"}, "xx", true},
	}
	for _, tc := range tests {
		var out strings.Builder
		s := newStopper(tc.stops, func(p string) error { out.WriteString(p); return nil })
		done := false
		for _, p := range tc.pieces {
			d, err := s.push(p)
			if err != nil {
				t.Fatal(err)
			}
			done = done || d
			if !strings.HasPrefix(tc.text, out.String()) {
				t.Errorf("%q: emitted %q before it was final", tc.pieces, out.String())
			}
		}
		if err := s.finish(); err != nil {
			t.Fatal(err)
		}
		if s.text() != tc.text || out.String() != tc.text || done != tc.done {
			t.Errorf("%q with stops %q: text %q, emitted %q, done %v; want %q, %v", tc.pieces, tc.stops, s.text(), out.String(), done, tc.text, tc.done)
		}
	}
}

func TestChat(t *testing.T) {
	ctx := context.Background()
	dir := modelDir(t, "stories260k")
	// stories260k has no chat template; this one writes BOS and the text,
	// so a one-message chat is the reference prompt.
	tok := storiesTokenizer(t, "{% for m in messages %}{{ bos_token }}{{ m['content'] }}{% endfor %}")
	m := newTestModel(t, "stories260k", WithTokenizer(tok))
	ref := loadReference(t, dir)
	res, err := m.Chat(ctx, []tokenizer.Message{{Role: "user", Content: referenceText(t, "prompt")}},
		WithMaxTokens(len(ref.greedyIDs)), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	if res.PromptTokens != len(ref.promptIDs) || !equalInts(res.IDs, ref.greedyIDs) {
		t.Errorf("chat: %d prompt tokens, ids %v; want %d and %v", res.PromptTokens, res.IDs, len(ref.promptIDs), ref.greedyIDs)
	}
	_, err = storiesModel(t).Chat(ctx, []tokenizer.Message{{Role: "user", Content: "hi"}})
	if !errors.Is(err, tokenizer.ErrNoChatTemplate) {
		t.Errorf("model without a chat template: got %v", err)
	}
}

// TestEncodeChatCanceled: the context reaches the template renderer, so a
// slow render stops when the caller gives up (it once ran to the end).
func TestEncodeChatCanceled(t *testing.T) {
	// About a million loop steps: far longer than the call takes to see a
	// context that is already done.
	tok := storiesTokenizer(t, "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}{{ messages[0]['content'] }}")
	m := newTestModel(t, "stories260k", WithTokenizer(tok))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.EncodeChat(ctx, []tokenizer.Message{{Role: "user", Content: "hi"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled render: %v, want context.Canceled", err)
	}
}

// storiesTokenizer is stories260k's tokenizer with the chat template tmpl.
func storiesTokenizer(t *testing.T, tmpl string) *tokenizer.Tokenizer {
	t.Helper()
	dir := modelDir(t, "stories260k")
	tj, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	cj, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromBytes(tj, cj, tokenizer.WithChatTemplate(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
