package convert_test

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/convert/hub"
	"github.com/symbc/symbc/convert/hub/hubtest"
	"github.com/symbc/symbc/symb"
)

// End-to-end tests of Convert with Hub ids, against the fake Hub of hubtest:
// the real download client, cache and converter, only the server is fake.

const (
	storiesID     = "karpathy/stories260k"
	storiesCommit = "5ad0c1e2f7b3a4d69e8c0b1a2f3e4d5c6b7a8f90"
	e2eToken      = "hf_EndToEndSecretToken0123456789"
	storiesDir    = "../testdata/models/stories260k"
)

// neededFiles are what converting stories260k takes from the repo: the
// model card travels with the model (as a licence would).
var neededFiles = []string{"README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}

// unneededFiles are served alongside and must never be requested: the
// converter reads safetensors only, and documents only at the top.
var unneededFiles = []string{"pytorch_model.bin", "original/consolidated.pth", "original/README.md", "reference.safetensors"}

func noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, ^seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// storiesRepo is the bundled stories260k model as the Hub would hold it,
// with large files in LFS.
func storiesRepo(t *testing.T) hubtest.Repo {
	t.Helper()
	r := hubtest.Repo{Commit: storiesCommit, Files: map[string][]byte{}, LFS: map[string]bool{}}
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md", "reference.safetensors"} {
		b, err := os.ReadFile(filepath.Join(storiesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		r.Files[name] = b
	}
	r.Files["pytorch_model.bin"] = noise(2<<20, 1)
	r.Files["original/consolidated.pth"] = noise(1<<20, 2)
	r.Files["original/README.md"] = []byte("# not at the top: not copied\n")
	for _, n := range []string{"model.safetensors", "reference.safetensors", "pytorch_model.bin", "original/consolidated.pth"} {
		r.LFS[n] = true
	}
	return r
}

func newHubClient(t testing.TB, srv *hubtest.Server, cache string, opts ...hub.Option) *hub.Client {
	t.Helper()
	c, err := hub.New(append([]hub.Option{hub.WithEndpoint(srv.URL()), hub.WithCacheDir(cache), hub.WithToken(e2eToken)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertNoOutput checks that a failed conversion left neither the output
// folder nor its temporary sibling behind.
func assertNoOutput(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed conversion", out)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+filepath.Base(out)) {
			t.Errorf("temporary folder %s left behind", e.Name())
		}
	}
}

func assertNoToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), e2eToken) {
		t.Errorf("error reveals the token: %s", err)
	}
}

// checkOutput asserts that out is a complete model folder converted from
// the Hub commit, and returns its manifest.
func checkOutput(t *testing.T, out string) *symb.Manifest {
	t.Helper()
	m, err := symb.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	probs, err := m.Check(context.Background(), out, 2)
	if err != nil || len(probs) != 0 {
		t.Fatalf("manifest check of %s: %v %v", out, err, probs)
	}
	c, err := symb.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.ID != storiesID || c.Source.Revision != storiesCommit || c.Source.Path != "" {
		t.Fatalf("source record %+v, want id %s at commit %s", c.Source, storiesID, storiesCommit)
	}
	if c.Architecture == "" || c.Model.NumLayers != 5 {
		t.Fatalf("config.symb.json: architecture %q, %d layers", c.Architecture, c.Model.NumLayers)
	}
	return m
}

// resolvedFiles lists the repository files named by /resolve/ requests.
func resolvedFiles(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if _, rest, ok := strings.Cut(r, "/resolve/"); ok {
			_, file, _ := strings.Cut(rest, "/")
			// A file cut by the cancellation is resumed: one file still.
			file, _, _ = strings.Cut(file, " bytes=")
			if !slices.Contains(out, file) {
				out = append(out, file)
			}
		}
	}
	slices.Sort(out)
	return out
}

// listTree returns the sorted slash paths of everything but folders under
// dir (snapshot entries are symlinks).
func listTree(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	slices.Sort(out)
	return out, err
}

func TestHubConvertEndToEnd(t *testing.T) {
	srv := hubtest.New(t)
	repo := storiesRepo(t)
	srv.AddRepo(storiesID, repo)
	srv.AddRepo("karpathy/uncached", repo)
	cache := t.TempDir()
	outs := t.TempDir()
	out := filepath.Join(outs, "stories")
	client := newHubClient(t, srv, cache)
	weightSHA := repo.ETag("model.safetensors")
	repoDir := filepath.Join(cache, "models--karpathy--stories260k")

	// 1. The weight download is interrupted mid-body.
	const half = 400_000
	reached := srv.BlockAt(storiesID, "model.safetensors", half)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := convert.Convert(ctx, storiesID, out, convert.WithHub(client), convert.WithJobs(2))
		errc <- err
	}()
	select {
	case <-reached:
	case err := <-errc:
		t.Fatalf("conversion ended before the weights were half sent: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the weight download never started")
	}
	partial := filepath.Join(repoDir, "blobs", weightSHA+".incomplete")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, err := os.Stat(partial); err == nil && st.Size() == half {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held the %d bytes sent", partial, half)
		}
	}
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted conversion returned %v, want context.Canceled", err)
	}
	assertNoToken(t, err)
	assertNoOutput(t, out)

	// 2. The next run resumes the weights where they stopped.
	sum, err := convert.Convert(context.Background(), storiesID, out, convert.WithHub(client), convert.WithJobs(2))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Source != storiesID+"@"+storiesCommit {
		t.Errorf("summary source %q", sum.Source)
	}
	m := checkOutput(t, out)
	reqs := srv.Requests()
	var weightGets []string
	for _, r := range reqs {
		if strings.HasPrefix(r, "GET /cdn/"+weightSHA) {
			weightGets = append(weightGets, r)
		}
	}
	if want := []string{"GET /cdn/" + weightSHA, "GET /cdn/" + weightSHA + " bytes=400000-"}; !slices.Equal(weightGets, want) {
		t.Errorf("weight transfers %q, want the first and its resumption %q", weightGets, want)
	}
	// Only what the converter needs was asked for: the probe for a shard
	// index (absent) and the needed files.
	wantResolved := append([]string{"model.safetensors.index.json"}, neededFiles...)
	slices.Sort(wantResolved)
	if got := resolvedFiles(reqs); !slices.Equal(got, wantResolved) {
		t.Errorf("files requested %q, want %q", got, wantResolved)
	}
	for _, n := range unneededFiles {
		for _, r := range reqs {
			if strings.Contains(r, n) {
				t.Errorf("unneeded %s was requested: %s", n, r)
			}
		}
		if repo.LFS[n] && srv.CDNGets(repo.ETag(n)) != 0 {
			t.Errorf("unneeded %s was downloaded", n)
		}
	}
	if _, cdnAuth := srv.AuthorizedRequests(); cdnAuth != 0 {
		t.Errorf("the token was sent to the CDN %d time(s)", cdnAuth)
	}

	// The cache is laid out as the Hub's own clients lay it out.
	if b, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err != nil || string(b) != storiesCommit {
		t.Errorf("refs/main = %q, %v; want %s", b, err, storiesCommit)
	}
	snap := filepath.Join(repoDir, "snapshots", storiesCommit)
	var wantBlobs []string
	for _, n := range neededFiles {
		p := filepath.Join(snap, n)
		b, err := os.ReadFile(p)
		if err != nil || !slices.Equal(b, repo.Files[n]) {
			t.Errorf("snapshot %s: %d bytes, %v; want the served %d bytes", n, len(b), err, len(repo.Files[n]))
		}
		wantBlobs = append(wantBlobs, repo.ETag(n))
		if runtime.GOOS != "windows" {
			if target, err := os.Readlink(p); err != nil || filepath.ToSlash(target) != "../../blobs/"+repo.ETag(n) {
				t.Errorf("snapshot %s -> %q, %v; want a link to its blob", n, target, err)
			}
		}
	}
	if snapFiles, err := listTree(snap); err != nil || !slices.Equal(snapFiles, neededFiles) {
		t.Errorf("snapshot holds %q, %v; want exactly %q", snapFiles, err, neededFiles)
	}
	if runtime.GOOS != "windows" { // without symlinks, new blobs move into the snapshot
		var blobs []string
		ents, _ := os.ReadDir(filepath.Join(repoDir, "blobs"))
		for _, e := range ents {
			blobs = append(blobs, e.Name())
		}
		slices.Sort(blobs)
		slices.Sort(wantBlobs)
		if !slices.Equal(blobs, wantBlobs) || !slices.Contains(blobs, weightSHA) {
			t.Errorf("blobs %q, want exactly %q (the weights under their SHA-256)", blobs, wantBlobs)
		}
	}

	// The tensors are exactly those of a conversion of the local folder.
	local := filepath.Join(outs, "local")
	if _, err := convert.Convert(context.Background(), storiesDir, local, convert.WithJobs(2)); err != nil {
		t.Fatal(err)
	}
	lm, err := symb.ReadManifest(local)
	if err != nil {
		t.Fatal(err)
	}
	if len(lm.Files) != len(m.Files) {
		t.Fatalf("%d files from the Hub, %d from the folder", len(m.Files), len(lm.Files))
	}
	for i, e := range m.Files {
		if e.Path != symb.ConfigFile && e != lm.Files[i] {
			t.Errorf("%s differs from the local conversion: %+v vs %+v", e.Path, e, lm.Files[i])
		}
	}

	// 3. A third conversion is served from the cache alone.
	srv.ResetLog()
	if _, err := convert.Convert(context.Background(), storiesID, filepath.Join(outs, "again"), convert.WithHub(client)); err != nil {
		t.Fatal(err)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("cached conversion made %d request(s): %q", len(reqs), reqs)
	}
	checkOutput(t, filepath.Join(outs, "again"))

	// 4. Offline mode, as HF_HUB_OFFLINE sets it: the cache answers, and an
	// uncached model fails saying why, with no request made.
	t.Setenv("HF_HUB_OFFLINE", "1")
	offline, err := hub.NewFromEnv(hub.WithEndpoint(srv.URL()), hub.WithCacheDir(cache), hub.WithToken(e2eToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := convert.Convert(context.Background(), storiesID, filepath.Join(outs, "offline"), convert.WithHub(offline)); err != nil {
		t.Fatalf("offline conversion from the cache: %v", err)
	}
	checkOutput(t, filepath.Join(outs, "offline"))
	missing := filepath.Join(outs, "uncached")
	_, err = convert.Convert(context.Background(), "karpathy/uncached", missing, convert.WithHub(offline))
	if !errors.Is(err, hub.ErrOffline) || !strings.Contains(err.Error(), "karpathy/uncached") || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline conversion of an uncached model: %v; want ErrOffline naming the model and HF_HUB_OFFLINE", err)
	}
	assertNoToken(t, err)
	assertNoOutput(t, missing)
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("offline conversions made %d request(s): %q", len(reqs), reqs)
	}
}

func TestHubConvertGatedModel(t *testing.T) {
	srv := hubtest.New(t)
	repo := storiesRepo(t)
	repo.Gated = true
	const id = "meta-llama/stories-gated"
	srv.AddRepo(id, repo)
	cache := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")

	for _, token := range []string{"", e2eToken} {
		client := newHubClient(t, srv, cache, hub.WithToken(token))
		_, err := convert.Convert(context.Background(), id, out, convert.WithHub(client))
		if !errors.Is(err, hub.ErrGated) {
			t.Fatalf("token %v: %v, want ErrGated", token != "", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "accept its license at "+srv.URL()+"/"+id) || strings.Contains(msg, "\n") {
			t.Errorf("token %v: the message should name where to accept the license, on one line: %q", token != "", msg)
		}
		assertNoToken(t, err)
		assertNoOutput(t, out)
	}
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "GET /cdn/") || strings.Contains(r, "model.safetensors") {
			t.Errorf("a gated model's weights were requested: %s", r)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "models--meta-llama--stories-gated", "blobs")); len(ents) != 0 {
		t.Errorf("%d blob(s) cached from a gated model", len(ents))
	}

	// Once the license is accepted the same call succeeds.
	srv.Grant(e2eToken)
	if _, err := convert.Convert(context.Background(), id, out, convert.WithHub(newHubClient(t, srv, cache))); err != nil {
		t.Fatalf("after accepting the license: %v", err)
	}
}

func TestHubConvertUnsupportedArchitecture(t *testing.T) {
	srv := hubtest.New(t)
	repo := storiesRepo(t)
	repo.Files["config.json"] = []byte(`{"architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2}`)
	const id = "state-spaces/mamba-tiny"
	srv.AddRepo(id, repo)
	out := filepath.Join(t.TempDir(), "out")

	_, err := convert.Convert(context.Background(), id, out, convert.WithHub(newHubClient(t, srv, t.TempDir())))
	if !errors.Is(err, arch.ErrUnsupported) || !strings.Contains(err.Error(), "MambaForCausalLM") {
		t.Fatalf("got %v, want ErrUnsupported naming MambaForCausalLM", err)
	}
	supported := arch.Supported()
	if len(supported) == 0 {
		t.Fatal("no supported architectures registered")
	}
	for _, a := range supported {
		if !strings.Contains(err.Error(), a) {
			t.Errorf("the error does not list the supported %s: %s", a, err)
		}
	}
	assertNoToken(t, err)
	assertNoOutput(t, out)
	// config.json alone decided: no listing, no weights, nothing else.
	reqs := srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the Hub")
	}
	for _, r := range reqs {
		if !strings.HasSuffix(r, "/resolve/main/config.json") {
			t.Errorf("request before the architecture was rejected: %s", r)
		}
	}
}

// TestHubConvertIncludeExclude: --include/--exclude patterns decide which
// of the files a conversion reads are fetched; optional ones are skipped,
// required ones are refused by name before any weight is fetched.
func TestHubConvertIncludeExclude(t *testing.T) {
	srv := hubtest.New(t)
	srv.AddRepo(storiesID, storiesRepo(t))
	cache := t.TempDir()
	client := newHubClient(t, srv, cache)
	ctx := context.Background()

	out := filepath.Join(t.TempDir(), "out")
	if _, err := convert.Convert(ctx, storiesID, out, convert.WithHub(client), convert.WithFiles([]string{"*.json", "*.safetensors"}, []string{"README*"})); err != nil {
		t.Fatal(err)
	}
	checkOutput(t, out)
	got := resolvedFiles(srv.Requests())
	// The index is asked for and absent; README.md is never asked for.
	if want := []string{"config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"}; !slices.Equal(got, want) {
		t.Errorf("fetched %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(out, "README.md")); err == nil {
		t.Error("the excluded model card was copied")
	}

	srv.ResetLog()
	out2 := filepath.Join(t.TempDir(), "out")
	_, err := convert.Convert(ctx, storiesID, out2, convert.WithHub(newHubClient(t, srv, t.TempDir())), convert.WithFiles(nil, []string{"model*.safetensors"}))
	if err == nil || !strings.Contains(err.Error(), "model.safetensors is needed") || !strings.Contains(err.Error(), "--exclude model*.safetensors") {
		t.Fatalf("excluding the weights: %v", err)
	}
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "GET /cdn/") {
			t.Errorf("weights fetched although refused: %s", r)
		}
	}
	assertNoOutput(t, out2)

	if _, err := convert.Convert(ctx, storiesDir, filepath.Join(t.TempDir(), "out"), convert.WithFiles([]string{"*"}, nil)); err == nil || !strings.Contains(err.Error(), "local folder") {
		t.Errorf("patterns on a local folder: %v", err)
	}
}
