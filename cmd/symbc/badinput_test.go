package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storiesSource copies testdata's stories260k checkpoint into a temporary
// folder (model.safetensors linked, not copied), after edit has changed the
// parsed config.json and tokenizer.json.
func storiesSource(t *testing.T, edit func(cfg, tok map[string]any)) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models", "stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	read := func(name string) map[string]any {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	cfg, tok := read("config.json"), read("tokenizer.json")
	if edit != nil {
		edit(cfg, tok)
	}
	for name, v := range map[string]any{"config.json": cfg, "tokenizer.json": tok} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"model.safetensors", "tokenizer_config.json"} {
		if err := os.Symlink(filepath.Join(src, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// convertFails converts src and checks that it fails with exit status 1,
// an error mentioning every one of want, and no output folder.
func convertFails(t *testing.T, src string, want ...string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	_, stderr, code := symbcRun(t, "convert", src, out, "--quiet")
	if code != 1 {
		t.Errorf("convert: exit %d, want 1 (%s)", code, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("convert error %q does not mention %q", stderr, w)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("failed convert left %s", out)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 0 {
		t.Errorf("failed convert left %v", entries)
	}
}

func TestConvertRefusesBadContextLength(t *testing.T) {
	for _, v := range []any{0, 1_000_000_000_000, -1} {
		src := storiesSource(t, func(cfg, _ map[string]any) { cfg["max_position_embeddings"] = v })
		convertFails(t, src, "max_position_embeddings")
	}
}

// foreignTokenizer adds a special token far beyond stories260k's
// vocab_size of 512, as a tokenizer of another model would have.
func foreignTokenizer(_, tok map[string]any) {
	added := tok["added_tokens"].([]any)
	tok["added_tokens"] = append(added, map[string]any{
		"id": 600, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
		"rstrip": false, "normalized": false, "special": true,
	})
}

func TestTokenizerMustFitVocabulary(t *testing.T) {
	convertFails(t, storiesSource(t, foreignTokenizer), "600", "vocab_size is 512")

	// A folder whose tokenizer was swapped after conversion is refused
	// when loaded, not on every request.
	dir := storiesFolder(t)
	bad := storiesSource(t, foreignTokenizer)
	b, err := os.ReadFile(filepath.Join(bad, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer", "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", dir, "--prompt", "Once", "--max-tokens", "2"},
		{"serve", dir, "--addr", "127.0.0.1:0"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, stderr, code := symbcExec(t, ctx, "", args...)
		cancel()
		if code != 1 || !strings.Contains(stderr, "vocab_size is 512") || !strings.Contains(stderr, "tokenizer") {
			t.Errorf("%s: exit %d, %q; want a refusal naming the tokenizer and vocab_size", args[0], code, stderr)
		}
	}
}

func TestConvertNamesMissingShard(t *testing.T) {
	src := storiesSource(t, nil)
	// Two shards in the index; only the first exists.
	if err := os.Rename(filepath.Join(src, "model.safetensors"), filepath.Join(src, "model-00001-of-00002.safetensors")); err != nil {
		t.Fatal(err)
	}
	index := map[string]any{"metadata": map[string]any{}, "weight_map": map[string]string{
		"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
		"model.norm.weight":         "model-00002-of-00002.safetensors",
	}}
	b, _ := json.Marshal(index)
	if err := os.WriteFile(filepath.Join(src, "model.safetensors.index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	convertFails(t, src, "model-00002-of-00002.safetensors", "missing", "model.norm.weight")
}

// TestLoadRefusesBadContextLength: a folder whose config.symb.json claims
// a context of 10^12 tokens is refused when loaded.
func TestLoadRefusesBadContextLength(t *testing.T) {
	dir := storiesFolder(t)
	p := filepath.Join(dir, "config.symb.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(b), `"max_position_embeddings": 512`, `"max_position_embeddings": 1000000000000`, 1)
	if bad == string(b) {
		t.Fatal("config.symb.json has no max_position_embeddings of 512")
	}
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", dir, "--prompt", "x"}, {"inspect", dir}} {
		_, stderr, code := symbcRun(t, args...)
		if code != 1 || !strings.Contains(stderr, "max_position_embeddings") {
			t.Errorf("%s: exit %d, %q", args[0], code, stderr)
		}
	}
}
