package convert

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/symb"
)

func TestIsDocFile(t *testing.T) {
	for name, want := range map[string]bool{
		"LICENSE": true, "LICENSE.txt": true, "license.md": true, "LICENCE": true, "NOTICE": true,
		"USE_POLICY.md": true, "README.md": true, "COPYING": true,
		"LICENSE.pdf": false, "README.rst": false, "original/LICENSE": false, `sub\LICENSE`: false,
		"config.json": false, "LICENSES": false, "MY_LICENSE": false,
	} {
		if got := isDocFile(name); got != want {
			t.Errorf("isDocFile(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestLicenseTravels: a licence next to the checkpoint is copied unchanged
// and listed in manifest.json, so every copy of the folder carries it.
func TestLicenseTravels(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.CopyFS(src, os.DirFS(filepath.Join(fixtures, "stories260k"))); err != nil {
		t.Fatal(err)
	}
	licence := []byte("MIT License\n\nCopyright (c) 2023 Andrej\n")
	if err := os.WriteFile(filepath.Join(src, "LICENSE"), licence, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Convert(context.Background(), src, out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "LICENSE")); err != nil || !bytes.Equal(b, licence) {
		t.Errorf("LICENSE in the output: %q, %v", b, err)
	}
	m, err := symb.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range m.Files {
		listed[e.Path] = true
	}
	if !listed["LICENSE"] || !listed["README.md"] {
		t.Errorf("manifest.json lists %v; want LICENSE and README.md among them", listed)
	}
}
