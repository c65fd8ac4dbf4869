package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/convert/hub"
	"github.com/symbc/symbc/convert/hub/hubtest"
	"github.com/symbc/symbc/internal/regtest"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/symb"
	"github.com/symbc/symbc/verify"
)

var storiesSrc = filepath.Join("..", "testdata", "models", "stories260k")

// converted is the bundled stories260k converted once for the package.
var converted = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "store-test-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "stories")
	_, err = convert.Convert(context.Background(), storiesSrc, out)
	return out, err
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := converted(); err == nil {
		os.RemoveAll(filepath.Dir(dir))
	}
	os.Exit(code)
}

func storiesFolder(t *testing.T) string {
	t.Helper()
	dir, err := converted()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func push(t *testing.T, dir, ref string) string {
	t.Helper()
	res, err := registry.Push(context.Background(), dir, ref)
	if err != nil {
		t.Fatal(err)
	}
	return res.Digest
}

func TestPullStoresOnceSharesAndRemoves(t *testing.T) {
	ctx := context.Background()
	cr := regtest.New(t)
	src := storiesFolder(t)
	int4 := cr.Host + "/eco/stories:int4"
	latest := cr.Host + "/eco/stories" // :latest
	ociDigest := push(t, src, int4)
	push(t, src, latest)
	cr.Counts(true)

	s := Open(filepath.Join(t.TempDir(), "models"))
	m, err := s.Pull(ctx, int4)
	if err != nil {
		t.Fatal(err)
	}
	if _, blobs := cr.Counts(true); blobs == 0 {
		t.Error("the first pull fetched no blob")
	}
	// Push strips the local source path from config.symb.json, so the
	// pulled folder is addressed by its own manifest.json.
	want, err := digestOf(m.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != int4 || m.Digest != want || m.OCIDigest != ociDigest || m.Origin != FromRegistry {
		t.Errorf("pulled %+v; want name %s, digest %s, OCI digest %s", m, int4, want, ociDigest)
	}
	if m.Dir != filepath.Join(s.Root(), "models", strings.TrimPrefix(want, "sha256:")) {
		t.Errorf("stored in %s", m.Dir)
	}
	if rep, err := verify.Integrity(ctx, m.Dir); err != nil || !rep.Pass {
		t.Fatalf("stored folder fails integrity: %+v %v", rep, err)
	}
	if m.Verified == nil || !m.Verified.Integrity || m.BitsPerWeight <= 0 || m.Size <= 0 || m.Params <= 0 {
		t.Errorf("stored model lacks its facts: %+v", m)
	}

	// Resolving a stored name asks nothing of the registry.
	r, err := s.Resolve(ctx, int4)
	if err != nil || r.Dir != m.Dir {
		t.Fatalf("resolve %s: %+v, %v", int4, r, err)
	}
	if all, _ := cr.Counts(true); all != 0 {
		t.Errorf("resolving a stored name made %d registry requests", all)
	}

	// Another tag of the same manifest: one manifest request, no blob, one folder.
	m2, err := s.Pull(ctx, latest)
	if err != nil {
		t.Fatal(err)
	}
	if _, blobs := cr.Counts(true); blobs != 0 {
		t.Errorf("pulling a second tag of a stored manifest fetched %d blobs", blobs)
	}
	if m2.Name != latest+":latest" || m2.Dir != m.Dir {
		t.Errorf("second tag stored as %+v; want %s:latest sharing %s", m2, latest, m.Dir)
	}
	ents, _ := os.ReadDir(filepath.Join(s.Root(), "models"))
	if len(ents) != 1 {
		t.Errorf("%d model folders for one model", len(ents))
	}
	// By digest prefix, as list prints it.
	if got, err := s.Lookup(strings.TrimPrefix(want, "sha256:")[:12]); err != nil || got.Dir != m.Dir {
		t.Errorf("lookup by digest prefix: %+v %v", got, err)
	}

	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].Digest != list[1].Digest {
		t.Fatalf("list: %+v %v", list, err)
	}

	if gone, err := s.Remove(ctx, int4); err != nil || len(gone) != 1 {
		t.Fatalf("rm %s: %v %v", int4, gone, err)
	}
	if _, err := os.Stat(m.Dir); err != nil {
		t.Errorf("the folder went while another name still points at it: %v", err)
	}
	if _, err := s.Remove(ctx, int4); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a removed name: %v", err)
	}
	if _, err := s.Remove(ctx, latest+":latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.Dir); !os.IsNotExist(err) {
		t.Errorf("the folder stays after its last name went: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ keeps %d entries", len(ents))
	}
}

func TestConcurrentPullsFetchOnce(t *testing.T) {
	ctx := context.Background()
	cr := regtest.New(t)
	ref := cr.Host + "/eco/stories:int4"
	push(t, storiesFolder(t), ref)
	root := filepath.Join(t.TempDir(), "models")

	cr.Counts(true)
	if _, err := Open(filepath.Join(t.TempDir(), "other")).Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	_, one := cr.Counts(true)

	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// A store of its own for each, as separate processes would have.
			m, err := Open(root).Pull(ctx, ref)
			if err == nil {
				dirs[i] = m.Dir
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("pull %d: %s, %v", i, dirs[i], errs[i])
		}
	}
	if _, blobs := cr.Counts(false); blobs != one {
		t.Errorf("%d concurrent pulls fetched %d blobs; one pull fetches %d", n, blobs, one)
	}
}

func TestConvertHubID(t *testing.T) {
	srv := hubtest.New(t)
	repo := hubtest.Repo{Commit: "c0ffee0123456789abcdef0123456789abcdef01", Files: map[string][]byte{},
		LFS: map[string]bool{"model.safetensors": true}}
	for _, n := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(storiesSrc, n))
		if err != nil {
			t.Fatal(err)
		}
		repo.Files[n] = b
	}
	srv.AddRepo("karpathy/stories260k", repo)
	cache := t.TempDir()
	client, err := hub.New(hub.WithEndpoint(srv.URL()), hub.WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	s := Open(t.TempDir(), WithConvertOptions(convert.WithHub(client)))
	ctx := context.Background()

	if k, _ := s.Classify("karpathy/stories260k"); k != KindHub {
		t.Fatalf("classified as %v, want a Hub id", k)
	}
	m, err := s.Resolve(ctx, "hf.co/karpathy/stories260k")
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "karpathy/stories260k" || m.Origin != FromHub || m.Revision != repo.Commit {
		t.Errorf("stored %+v", m)
	}
	cfg, err := symb.ReadConfig(m.Dir)
	if err != nil || cfg.Quantization.Weights != "int4" {
		t.Errorf("not the default recipe: %+v %v", cfg, err)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--karpathy--stories260k")); err != nil {
		t.Errorf("source not in the Hugging Face cache: %v", err)
	}
	srv.ResetLog()
	if k, key := s.Classify("karpathy/stories260k"); k != KindStored || key != "karpathy/stories260k" {
		t.Errorf("after conversion: %v %q, want stored", k, key)
	}
	if again, err := s.Resolve(ctx, "karpathy/stories260k"); err != nil || again.Dir != m.Dir {
		t.Errorf("second resolve: %+v %v", again, err)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("resolving a stored Hub id made requests: %q", reqs)
	}

	_, err = s.Resolve(ctx, "karpathy/absent")
	if err == nil || !strings.Contains(err.Error(), "no such folder, not in the model store") {
		t.Errorf("unknown id: %v", err)
	}
}

func TestIngestRefusesABrokenFolder(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "m")
	if err := os.CopyFS(dir, os.DirFS(storiesFolder(t))); err != nil {
		t.Fatal(err)
	}
	// A tensor missing, and a manifest that agrees: only the check of the
	// folder against its config finds it.
	if err := os.Remove(symb.TensorPath(dir, symb.LayerTensor(0, symb.MLPUp))); err != nil {
		t.Fatal(err)
	}
	man, err := symb.BuildManifest(ctx, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteManifest(dir, man); err != nil {
		t.Fatal(err)
	}
	s := Open(t.TempDir())
	err = s.ingest(ctx, "broken", dir, &nameEntry{Origin: FromFolder})
	if err == nil || !strings.Contains(err.Error(), "integrity") || !strings.Contains(err.Error(), "mlp_up") {
		t.Errorf("ingest of a folder without a tensor: %v", err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("stored %+v", list)
	}
}

func TestClassify(t *testing.T) {
	s := Open(t.TempDir())
	existing := t.TempDir()
	for _, c := range []struct {
		arg  string
		kind Kind
		key  string
	}{
		{existing, KindFolder, existing},
		{"./out/model", KindFolder, "./out/model"},
		{"/no/such/model", KindFolder, "/no/such/model"},
		{"model", KindFolder, "model"},
		{"127.0.0.1:5099/eco/stories:int4", KindRegistry, "127.0.0.1:5099/eco/stories:int4"},
		{"localhost/m", KindRegistry, "localhost/m:latest"},
		{"ghcr.io/me/m@sha256:" + strings.Repeat("ab", 32), KindRegistry, "ghcr.io/me/m@sha256:" + strings.Repeat("ab", 32)},
		{"meta-llama/Llama-3.2-1B", KindHub, "meta-llama/Llama-3.2-1B"},
		{"hf.co/Qwen/Qwen3-0.6B", KindHub, "Qwen/Qwen3-0.6B"},
		{"hf.co/../x", KindFolder, "hf.co/../x"},
	} {
		if k, key := s.Classify(c.arg); k != c.kind || key != c.key {
			t.Errorf("Classify(%q) = %v %q, want %v %q", c.arg, k, key, c.kind, c.key)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		goos   string
		getenv func(string) string
		want   string
	}{
		{"linux", env(), filepath.Join("/home/u", ".local", "share", "symbc", "models")},
		{"linux", env("XDG_DATA_HOME", "/data"), filepath.Join("/data", "symbc", "models")},
		{"linux", env("XDG_DATA_HOME", "relative"), filepath.Join("/home/u", ".local", "share", "symbc", "models")},
		{"linux", env("SYMBC_MODELS", "/srv/models", "XDG_DATA_HOME", "/data"), "/srv/models"},
		{"darwin", env(), filepath.Join("/home/u", "Library", "Application Support", "symbc", "models")},
		{"windows", env("LOCALAPPDATA", `C:\Users\u\AppData\Local`), filepath.Join(`C:\Users\u\AppData\Local`, "symbc", "models")},
	} {
		got, err := defaultDir(c.goos, c.getenv, home)
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.goos, got, err, c.want)
		}
	}
	if _, err := defaultDir("linux", env(), func() (string, error) { return "", errors.New("no home") }); err == nil || !strings.Contains(err.Error(), EnvDir) {
		t.Errorf("no home and no %s: %v", EnvDir, err)
	}
}
