package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/internal/testmodel"
	"github.com/symbc/symbc/symb"
)

func TestCheckFolder(t *testing.T) {
	t.Parallel()
	spec := testmodel.Spec{Layers: 1, Hidden: 32, Intermediate: 64, Vocab: 40, Heads: 4, KVHeads: 2,
		Weights: symb.INT4, Embeddings: symb.F16, GroupSize: 32, Seed: 1}
	write := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "m")
		if err := testmodel.Write(context.Background(), dir, spec); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := write(t)
	if err := CheckFolder(dir); err != nil {
		t.Fatalf("complete folder: %v", err)
	}
	// Not a .symb folder: left for its reader to judge.
	if err := CheckFolder(t.TempDir()); err != nil {
		t.Fatalf("folder without a config: %v", err)
	}
	// An architecture no adapter knows.
	c, err := symb.ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Architecture = "banana"
	if err := symb.WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	if err := CheckFolder(dir); err == nil || !strings.Contains(err.Error(), `"banana"`) || !strings.Contains(err.Error(), symb.ConfigFile) {
		t.Fatalf("unknown architecture: %v", err)
	}
	// Files that do not match the config.
	dir = write(t)
	if err := os.Remove(filepath.Join(dir, symb.ManifestFile)); err != nil {
		t.Fatal(err)
	}
	if err := CheckFolder(dir); !errors.Is(err, symb.ErrCorrupt) || !strings.Contains(err.Error(), symb.ManifestFile) {
		t.Fatalf("no manifest: %v", err)
	}
}
