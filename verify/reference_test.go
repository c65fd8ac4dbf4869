package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sharedModel(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"../testdata/models", "../../shared/testdata/models"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(filepath.Join(p, "reference.safetensors")); err == nil {
			return p
		}
	}
	t.Skipf("test model %s not found in testdata/models or ../shared/testdata/models", name)
	return ""
}

func TestReadReference(t *testing.T) {
	dir := sharedModel(t, "llama3")
	ref, err := ReadReference(filepath.Join(dir, "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.InputIDs) != 24 || ref.Vocab != 256 || len(ref.Logits) != 24*256 {
		t.Fatalf("shape: %d ids, vocab %d, %d logits", len(ref.InputIDs), ref.Vocab, len(ref.Logits))
	}
	if len(ref.PromptIDs) != 8 || len(ref.GreedyIDs) != 16 {
		t.Fatalf("prompt %d greedy %d", len(ref.PromptIDs), len(ref.GreedyIDs))
	}
	for i, id := range ref.PromptIDs {
		if id != ref.InputIDs[i] {
			t.Fatalf("prompt_ids is not input_ids[:8] at %d", i)
		}
	}
}

func TestReadReferenceRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, []byte("not safetensors at all"), 0o644)
	if _, err := ReadReference(bad); err == nil || !strings.Contains(err.Error(), "bad.safetensors") {
		t.Fatalf("garbage: %v", err)
	}
	// A real safetensors file without logits (the model weights) is rejected by name.
	src := sharedModel(t, "llama3")
	if _, err := ReadReference(filepath.Join(src, "model.safetensors")); err == nil || !strings.Contains(err.Error(), "input_ids") {
		t.Fatalf("weights file as reference: %v", err)
	}
}
