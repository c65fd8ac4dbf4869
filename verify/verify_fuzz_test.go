package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadReference: any reference.safetensors gives an error naming the
// file, or a reference whose ids index its logits.
func FuzzReadReference(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("..", "testdata", "models", "*", "reference.safetensors"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no reference seeds under testdata/models (%v)", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\x7f{}"))
	path := filepath.Join(f.TempDir(), "reference.safetensors")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ref, err := ReadReference(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if ref.Vocab < 1 || len(ref.InputIDs) < 1 || len(ref.Logits) != len(ref.InputIDs)*ref.Vocab {
			t.Fatalf("accepted %d ids, vocab %d, %d logits", len(ref.InputIDs), ref.Vocab, len(ref.Logits))
		}
		if (ref.PromptIDs == nil) != (ref.GreedyIDs == nil) {
			t.Fatal("accepted prompt_ids without greedy_ids or the reverse")
		}
		for _, ids := range [][]int{ref.InputIDs, ref.PromptIDs, ref.GreedyIDs} {
			for _, id := range ids {
				if id < 0 || id >= ref.Vocab {
					t.Fatalf("accepted id %d with vocab %d", id, ref.Vocab)
				}
			}
		}
	})
}
