package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadGenerationDefaults(t *testing.T) {
	dir := t.TempDir()
	if d, err := ReadGenerationDefaults(dir); err != nil || d.Temperature != nil || d.TopK != nil {
		t.Fatalf("no file: %+v, %v", d, err)
	}
	write := func(s string) {
		if err := os.MkdirAll(filepath.Join(dir, "tokenizer"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tokenizer", "generation_config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"bos_token_id": 1, "do_sample": true, "eos_token_id": [2, 3], "temperature": 0.6, "top_p": 0.9, "top_k": 20, "transformers_version": "4.51.0"}`)
	d, err := ReadGenerationDefaults(dir)
	if err != nil || d.Temperature == nil || *d.Temperature != 0.6 || *d.TopP != 0.9 || *d.TopK != 20 || d.MinP != nil || d.RepetitionPenalty != nil {
		t.Fatalf("%+v, %v", d, err)
	}
	for _, bad := range []string{`{"temperature": -1}`, `{"top_p": 1.5}`, `{"top_k": -2}`, `{"repetition_penalty": 0}`, `{"min_p": 2}`, `{"temperature": "hot"}`} {
		write(bad)
		if _, err := ReadGenerationDefaults(dir); err == nil || !strings.Contains(err.Error(), "generation_config.json") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
