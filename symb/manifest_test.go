package symb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// manifestFolder makes a folder with nested files, a manifest and a report.
func manifestFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"config.symb.json":             `{"a":1}`,
		"embeddings.symb":              strings.Repeat("e", 300),
		"layers/layer_00/attn_q.symb":  "q0",
		"layers/layer_01/attn_q.symb":  "q1",
		"tokenizer/tokenizer.json":     "{}",
		"layers/layer_00/experts/x.bi": "",
	}
	for rel, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, ReportFile), []byte("{}"), 0o644)
	m, err := BuildManifest(context.Background(), dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestManifestBuildReadCheck(t *testing.T) {
	t.Parallel()
	dir := manifestFolder(t)
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range m.Files {
		paths = append(paths, e.Path)
		body, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		sum := sha256.Sum256(body)
		if e.Size != int64(len(body)) || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: entry %+v", e.Path, e)
		}
	}
	want := []string{"config.symb.json", "embeddings.symb", "layers/layer_00/attn_q.symb", "layers/layer_00/experts/x.bi",
		"layers/layer_01/attn_q.symb", "tokenizer/tokenizer.json"}
	if !slices.Equal(paths, want) {
		t.Fatalf("manifest lists %v, want %v (sorted, without manifest.json and verify.json)", paths, want)
	}
	if m.Format != "symb-manifest" || m.Version != 1 {
		t.Errorf("format %q version %d", m.Format, m.Version)
	}
	probs, err := m.Check(context.Background(), dir, 0)
	if err != nil || len(probs) != 0 {
		t.Fatalf("clean folder: %v %v", probs, err)
	}
}

func TestManifestCheckFindsDamage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path, want string
		damage           func(p string) error
	}{
		{"flipped byte", "embeddings.symb", "sha256", func(p string) error {
			b, _ := os.ReadFile(p)
			b[150] ^= 1
			return os.WriteFile(p, b, 0o644)
		}},
		{"truncated", "embeddings.symb", "size 299", func(p string) error { return os.Truncate(p, 299) }},
		{"missing", "layers/layer_01/attn_q.symb", "missing", os.Remove},
		{"extra", "layers/layer_02/attn_q.symb", "not in the manifest", func(p string) error {
			os.MkdirAll(filepath.Dir(p), 0o755)
			return os.WriteFile(p, []byte("new"), 0o644)
		}},
		{"extra temp file", ".embeddings.symb.123.tmp", "not in the manifest", func(p string) error { return os.WriteFile(p, nil, 0o644) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := manifestFolder(t)
			if err := c.damage(filepath.Join(dir, filepath.FromSlash(c.path))); err != nil {
				t.Fatal(err)
			}
			m, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			probs, err := m.Check(context.Background(), dir, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(probs) != 1 || probs[0].Path != c.path || !strings.Contains(probs[0].Error(), c.want) {
				t.Fatalf("problems %v, want one for %s saying %q", probs, c.path, c.want)
			}
			if c.want == "sha256" || strings.HasPrefix(c.want, "size") {
				if !errors.Is(probs[0].Err, ErrMismatch) {
					t.Errorf("%v does not wrap ErrMismatch", probs[0].Err)
				}
			}
		})
	}
}

func TestReadManifestRejectsHostileEntries(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 32)
	entry := func(path string) string {
		return `{"path":"` + path + `","size":1,"sha256":"` + sum + `"}`
	}
	cases := map[string]string{
		"parent":        entry("../x"),
		"nested parent": entry("a/../../x"),
		"absolute":      entry("/etc/passwd"),
		"backslash":     entry(`a\\b`),
		"drive":         entry("C:x"),
		"empty":         entry(""),
		"dot":           entry("./a"),
		"double slash":  entry("a//b"),
		"manifest":      entry("manifest.json"),
		"report":        entry("verify.json"),
		"duplicate":     entry("a") + "," + entry("a"),
		"negative size": `{"path":"a","size":-1,"sha256":"` + sum + `"}`,
		"short digest":  `{"path":"a","size":1,"sha256":"abc"}`,
		"upper digest":  `{"path":"a","size":1,"sha256":"` + strings.ToUpper(sum) + `"}`,
		"non-hex":       `{"path":"a","size":1,"sha256":"` + strings.Repeat("zz", 32) + `"}`,
	}
	for name, files := range cases {
		dir := t.TempDir()
		body := `{"format":"symb-manifest","version":1,"files":[` + files + `]}`
		os.WriteFile(filepath.Join(dir, ManifestFile), []byte(body), 0o644)
		if _, err := ReadManifest(dir); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, body := range map[string]string{
		"not json":       "[",
		"wrong format":   `{"format":"other","version":1,"files":[]}`,
		"wrong version":  `{"format":"symb-manifest","version":2,"files":[]}`,
		"files not list": `{"format":"symb-manifest","version":1,"files":{}}`,
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ManifestFile), []byte(body), 0o644)
		if _, err := ReadManifest(dir); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ReadManifest(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing manifest: %v", err)
	}
}

// TestCheckInMemoryManifest: a manifest that did not come from ReadManifest
// (hostile paths, bad digests) must give problems, not panics or reads outside dir.
func TestCheckInMemoryManifest(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "model")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(parent, "secret"), []byte("s"), 0o644)
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	m := &Manifest{Format: "symb-manifest", Version: 1, Files: []ManifestEntry{
		{Path: "../secret", Size: 1, SHA256: "x"},
		{Path: "/abs", Size: 1},
		{Path: "a", Size: 1, SHA256: "short"},
	}}
	probs, err := m.Check(context.Background(), dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 3 {
		t.Fatalf("problems %v, want 3", probs)
	}
	for _, p := range probs[:2] {
		if !errors.Is(p.Err, ErrCorrupt) {
			t.Errorf("%v: want a path error", p)
		}
	}
	if !errors.Is(probs[2].Err, ErrMismatch) {
		t.Errorf("%v: want a digest mismatch", probs[2])
	}
}

func TestListFilesRejectsSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := ListFiles(dir); err == nil || !strings.Contains(err.Error(), "link") {
		t.Errorf("symlink: %v", err)
	}
	if _, err := BuildManifest(context.Background(), dir, 1); err == nil {
		t.Error("BuildManifest followed a symlink")
	}
}

func TestBuildManifestCanceled(t *testing.T) {
	t.Parallel()
	dir := manifestFolder(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BuildManifest(ctx, dir, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled build: %v", err)
	}
	m, _ := ReadManifest(dir)
	if _, err := m.Check(ctx, dir, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled check: %v", err)
	}
}

func TestCheckRelPath(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "a/b.symb", "layers/layer_00/attn_q", "tokenizer/tokenizer.json", ".hidden"} {
		if err := CheckRelPath(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../a", "a/..", "a/../b", "/a", `a\b`, "c:/a", "a//b", "a/", "./a"} {
		if err := CheckRelPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
