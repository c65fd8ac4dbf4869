package symb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadGenerationFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, GenerationFile)
	if g, err := ReadGenerationFile(p); g != nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no file: %+v, %v", g, err)
	}
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"bos_token_id": 1, "do_sample": true, "eos_token_id": [2, 3], "temperature": 0.6, "top_p": 0.9, "top_k": 20, "transformers_version": "4.51.0"}`)
	g, err := ReadGenerationFile(p)
	if err != nil || g == nil || *g.Temperature != 0.6 || *g.TopP != 0.9 || *g.TopK != 20 || g.MinP != nil || g.RepetitionPenalty != nil {
		t.Fatalf("%+v, %v", g, err)
	}
	// Only other fields: nothing to record.
	write(`{"bos_token_id": 1, "eos_token_id": 2}`)
	if g, err := ReadGenerationFile(p); g != nil || err != nil {
		t.Fatalf("no sampling fields: %+v, %v", g, err)
	}
	for bad, field := range map[string]string{`{"temperature": -1}`: "temperature", `{"top_p": 1.5}`: "top_p", `{"top_k": -2}`: "top_k",
		`{"repetition_penalty": 0}`: "repetition_penalty", `{"min_p": 2}`: "min_p", `{"temperature": "hot"}`: "temperature"} {
		write(bad)
		if _, err := ReadGenerationFile(p); err == nil || !strings.Contains(err.Error(), GenerationFile) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// The config's generation field is checked on read, and wins over the
// tokenizer's copy of generation_config.json, which only folders written
// before the field existed rely on.
func TestReadGeneration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := llamaConfig()
	if g, err := ReadGeneration(dir, c); err != nil || !g.IsZero() {
		t.Fatalf("neither: %+v, %v", g, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tokenizer"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer", GenerationFile), []byte(`{"temperature": 0.7, "top_k": 40}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if g, err := ReadGeneration(dir, c); err != nil || g.Temperature == nil || *g.Temperature != 0.7 || *g.TopK != 40 {
		t.Fatalf("old folder: %+v, %v", g, err)
	}
	temp, topP := 0.3, 0.95
	c.Generation = &Generation{Temperature: &temp, TopP: &topP}
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	c2, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := ReadGeneration(dir, c2); err != nil || *g.Temperature != 0.3 || *g.TopP != 0.95 || g.TopK != nil {
		t.Fatalf("config field: %+v, %v", g, err)
	}
	// A bad value in config.symb.json is refused on read, naming the field.
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"top_p": 0.95`, `"top_p": 1.5`, 1))
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "generation.top_p") {
		t.Fatalf("bad top_p: %v", err)
	}
	c.Generation.TopP = &[]float64{-0.5}[0]
	if err := WriteConfig(dir, c); err == nil {
		t.Fatal("WriteConfig wrote top_p -0.5")
	}
}
