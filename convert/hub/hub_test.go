package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbc/symbc/convert/hub/hubtest"
)

const (
	testRepo   = "acme/tiny-llm"
	testCommit = "0123456789abcdef0123456789abcdef01234567"
	testToken  = "hf_TopSecretTokenValue123"
)

func pseudoRandom(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func tinyRepo() hubtest.Repo {
	return hubtest.Repo{
		Commit: testCommit,
		Files: map[string][]byte{
			"config.json":                      []byte(`{"architectures":["LlamaForCausalLM"]}`),
			"sub/tokenizer_config.json":        []byte(`{"bos_token":"<s>"}`),
			"README.md":                        []byte("# tiny\n"),
			"model-00001-of-00002.safetensors": pseudoRandom(700_000, 1),
			"model-00002-of-00002.safetensors": pseudoRandom(300_000, 2),
			"empty.safetensors":                {},
		},
		LFS: map[string]bool{
			"model-00001-of-00002.safetensors": true,
			"model-00002-of-00002.safetensors": true,
			"empty.safetensors":                true,
		},
	}
}

func notReadme(name string) bool { return name != "README.md" }

// noNetwork fails any request: for checks that the cache alone answers.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("unexpected request %s %s", r.Method, r.URL)
	return nil, errors.New("network disabled in this test")
}

func newClient(t testing.TB, f *hubtest.Server, cache string, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithEndpoint(f.URL()), WithCacheDir(cache), WithJobs(4)}
	c := mustNew(t, append(base, opts...)...)
	c.stallTimeout = 5 * time.Second
	return c
}

func mustNew(t testing.TB, opts ...Option) *Client {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSnapshotCacheLayout(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	cache := t.TempDir()
	c := newClient(t, f, cache, WithToken(testToken))

	dir, err := c.Snapshot(context.Background(), testRepo, "", notReadme)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(cache, "models--acme--tiny-llm")
	if want := filepath.Join(repoDir, "snapshots", testCommit); dir != want {
		t.Fatalf("snapshot dir = %s, want %s", dir, want)
	}
	if got := string(readFile(t, filepath.Join(repoDir, "refs", "main"))); got != testCommit {
		t.Fatalf("refs/main = %q, want %q", got, testCommit)
	}

	var wantBlobs []string
	for name, data := range repo.Files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if name == "README.md" {
			if _, err := os.Lstat(p); !os.IsNotExist(err) {
				t.Errorf("README.md was downloaded though not requested")
			}
			continue
		}
		etag := repo.ETag(name)
		wantBlobs = append(wantBlobs, etag)
		target, err := os.Readlink(p)
		switch {
		case err == nil:
			wantTarget := strings.Repeat("../", 2+strings.Count(name, "/")) + "blobs/" + etag
			if filepath.ToSlash(target) != wantTarget {
				t.Errorf("%s -> %s, want %s", name, target, wantTarget)
			}
		case runtime.GOOS == "windows":
			// Without the symlink privilege the file is a plain copy.
		default:
			t.Fatalf("%s is not a symlink: %v", name, err)
		}
		if got := readFile(t, p); !bytes.Equal(got, data) {
			t.Errorf("%s content differs (%d bytes, want %d)", name, len(got), len(data))
		}
	}
	entries, err := os.ReadDir(filepath.Join(repoDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var gotBlobs []string
	for _, e := range entries {
		if runtime.GOOS == "windows" {
			break // new blobs are moved into the snapshot there
		}
		gotBlobs = append(gotBlobs, e.Name())
	}
	slices.Sort(gotBlobs)
	slices.Sort(wantBlobs)
	if runtime.GOOS != "windows" && !slices.Equal(gotBlobs, wantBlobs) {
		t.Errorf("blobs = %v, want exactly the etags %v", gotBlobs, wantBlobs)
	}
	for _, etag := range wantBlobs {
		if _, err := os.Stat(filepath.Join(cache, ".locks", "models--acme--tiny-llm", etag+".lock")); err != nil {
			t.Errorf("lock file for %s: %v", etag, err)
		}
	}

	var tree treeFile
	if err := json.Unmarshal(readFile(t, filepath.Join(repoDir, "trees", testCommit+".json")), &tree); err != nil {
		t.Fatal(err)
	}
	if tree.FormatVersion != 1 || len(tree.Files) != len(repo.Files) {
		t.Errorf("tree file: version %d with %d files, want 1 with %d", tree.FormatVersion, len(tree.Files), len(repo.Files))
	}
	shard := "model-00001-of-00002.safetensors"
	if e := tree.Files[shard]; e.LFSSHA256 != repo.ETag(shard) || e.Size != int64(len(repo.Files[shard])) {
		t.Errorf("tree entry of %s = %+v", shard, e)
	}

	hubAuth, cdnAuth := f.AuthorizedRequests()
	if cdnAuth != 0 {
		t.Errorf("the token was sent to the CDN host %d time(s)", cdnAuth)
	}
	if hubAuth == 0 {
		t.Errorf("the token was never sent to the Hub")
	}
	for _, ua := range f.UserAgents() {
		if !strings.HasPrefix(ua, "symbc/") {
			t.Errorf("User-Agent %q does not name symbc", ua)
		}
	}
	// An empty LFS file needs no GET; the two shards need one each.
	if gets := f.CDNGets(repo.ETag(shard)); gets != 1 {
		t.Errorf("shard fetched %d times from the CDN, want 1", gets)
	}
}

func TestCachedRunMakesNoRequests(t *testing.T) {
	f := hubtest.New(t)
	f.AddRepo(testRepo, tinyRepo())
	cache := t.TempDir()
	ctx := context.Background()
	c := newClient(t, f, cache)
	if _, err := c.File(ctx, testRepo, "main", "config.json"); err != nil {
		t.Fatal(err)
	}
	want, err := c.Snapshot(ctx, testRepo, "main", notReadme)
	if err != nil {
		t.Fatal(err)
	}
	f.ResetLog()

	cached := newClient(t, f, cache, WithHTTPClient(&http.Client{Transport: noNetwork{t}}))
	p, err := cached.File(ctx, testRepo, "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readFile(t, p)), "LlamaForCausalLM") {
		t.Errorf("cached config.json has wrong content")
	}
	got, err := cached.Snapshot(ctx, testRepo, "main", notReadme)
	if err != nil || got != want {
		t.Fatalf("cached Snapshot = %q, %v; want %q", got, err, want)
	}
	// A commit id is used as is, without refs.
	if _, err := cached.File(ctx, testRepo, testCommit, "sub/tokenizer_config.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := cached.Snapshot(ctx, testRepo, testCommit, notReadme); err != nil {
		t.Fatal(err)
	}
	if reqs := f.Requests(); len(reqs) != 0 {
		t.Fatalf("cached runs made %d request(s): %v", len(reqs), reqs)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--acme--tiny-llm", "refs", testCommit)); !os.IsNotExist(err) {
		t.Errorf("a ref was written for a commit id")
	}
}

func TestResumeAfterDroppedConnection(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00001-of-00002.safetensors"
	sha := repo.ETag(shard)
	f.CutAt(testRepo, shard, 250_000)
	c := newClient(t, f, t.TempDir())

	p, err := c.File(context.Background(), testRepo, "main", shard)
	if err != nil {
		t.Fatal(err)
	}
	if got := hubtest.SHA256(readFile(t, p)); got != sha {
		t.Fatalf("SHA-256 after resume = %s, want %s", got, sha)
	}
	var gets []string
	for _, r := range f.Requests() {
		if strings.HasPrefix(r, "GET /cdn/") {
			gets = append(gets, r)
		}
	}
	want := []string{"GET /cdn/" + sha, "GET /cdn/" + sha + " bytes=250000-"}
	if !slices.Equal(gets, want) {
		t.Fatalf("CDN requests = %q, want %q", gets, want)
	}
}

func TestResumeAfterCancel(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00001-of-00002.safetensors"
	sha := repo.ETag(shard)
	const half = 350_000
	reached := f.BlockAt(testRepo, shard, half)
	cache := t.TempDir()
	blobs := filepath.Join(cache, "models--acme--tiny-llm", "blobs")

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var firstDone []int64
	progress := func(file string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		firstDone = append(firstDone, done)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := newClient(t, f, cache, WithProgress(progress)).File(ctx, testRepo, "main", shard)
		errc <- err
	}()
	<-reached
	// The client must have written what arrived before it is stopped.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.Stat(filepath.Join(blobs, sha+".incomplete"))
		if err == nil && st.Size() == half {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partial file never reached %d bytes", half)
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled download returned %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancellation took %s", d)
	}
	if _, err := os.Stat(filepath.Join(blobs, sha)); !os.IsNotExist(err) {
		t.Errorf("a blob exists after an interrupted download")
	}
	if _, err := os.Lstat(filepath.Join(cache, "models--acme--tiny-llm", "snapshots", testCommit, shard)); !os.IsNotExist(err) {
		t.Errorf("a snapshot entry exists after an interrupted download")
	}

	mu.Lock()
	firstDone = nil
	mu.Unlock()
	f.ResetLog()
	p, err := newClient(t, f, cache, WithProgress(progress)).File(context.Background(), testRepo, "main", shard)
	if err != nil {
		t.Fatal(err)
	}
	if got := hubtest.SHA256(readFile(t, p)); got != sha {
		t.Fatalf("SHA-256 after resume = %s, want %s", got, sha)
	}
	if !slices.Contains(f.Requests(), fmt.Sprintf("GET /cdn/%s bytes=%d-", sha, half)) {
		t.Errorf("second run did not resume with a Range request: %v", f.Requests())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(firstDone) == 0 || firstDone[0] != half || firstDone[len(firstDone)-1] != int64(len(repo.Files[shard])) {
		t.Errorf("progress of the resumed run = %v, want from %d to %d", firstDone, half, len(repo.Files[shard]))
	}
}

func TestServerIgnoringRangeRestarts(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00002-of-00002.safetensors"
	sha := repo.ETag(shard)
	f.CutAt(testRepo, shard, 100_000)
	f.IgnoreRange(true)
	p, err := newClient(t, f, t.TempDir()).File(context.Background(), testRepo, "main", shard)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); !bytes.Equal(got, repo.Files[shard]) {
		t.Fatalf("content differs after a restart (%d bytes)", len(got))
	}
	// The cut transfer and the whole-file answer to the ranged retry.
	if n := f.CDNGets(sha); n != 2 {
		t.Errorf("%d GETs of the shard, want 2: %v", n, f.Requests())
	}
}

func TestChecksumMismatch(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00002-of-00002.safetensors"
	sha := repo.ETag(shard)
	f.Corrupt(testRepo, shard, true)
	cache := t.TempDir()
	c := newClient(t, f, cache)

	_, err := c.File(context.Background(), testRepo, "main", shard)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), shard) {
		t.Fatalf("corrupted download returned %v, want ErrChecksum naming %s", err, shard)
	}
	blobs := filepath.Join(cache, "models--acme--tiny-llm", "blobs")
	for _, name := range []string{sha, sha + ".incomplete"} {
		if _, err := os.Stat(filepath.Join(blobs, name)); !os.IsNotExist(err) {
			t.Errorf("%s kept after a checksum failure", name)
		}
	}
	if _, err := os.Lstat(filepath.Join(cache, "models--acme--tiny-llm", "snapshots", testCommit, shard)); !os.IsNotExist(err) {
		t.Errorf("snapshot entry created for a corrupted file")
	}
	f.Corrupt(testRepo, shard, false)
	p, err := c.File(context.Background(), testRepo, "main", shard)
	if err != nil {
		t.Fatal(err)
	}
	if hubtest.SHA256(readFile(t, p)) != sha {
		t.Fatal("second download has the wrong SHA-256")
	}
}

func TestGatedModel(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	repo.Gated = true
	f.AddRepo("meta-llama/Llama-3.2-1B", repo)
	ctx := context.Background()

	for _, token := range []string{"", testToken} {
		c := newClient(t, f, t.TempDir(), WithToken(token))
		_, err := c.File(ctx, "meta-llama/Llama-3.2-1B", "main", "config.json")
		if !errors.Is(err, ErrGated) {
			t.Fatalf("token %v: got %v, want ErrGated", token != "", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "accept its license at "+f.URL()+"/meta-llama/Llama-3.2-1B") {
			t.Errorf("message lacks the license URL: %s", msg)
		}
		if token == "" && !strings.Contains(msg, "HF_TOKEN") {
			t.Errorf("message lacks the login hint: %s", msg)
		}
		if strings.Contains(msg, testToken) || strings.Contains(msg, "\n") {
			t.Errorf("message leaks the token or spans lines: %q", msg)
		}
		// Snapshot reaches the same error through the file requests.
		if _, err := c.Snapshot(ctx, "meta-llama/Llama-3.2-1B", "main", nil); !errors.Is(err, ErrGated) {
			t.Errorf("Snapshot: got %v, want ErrGated", err)
		}
	}
	f.Grant(testToken)
	if _, err := newClient(t, f, t.TempDir(), WithToken(testToken)).File(ctx, "meta-llama/Llama-3.2-1B", "main", "config.json"); err != nil {
		t.Fatalf("with an accepted license: %v", err)
	}
}

func TestNotFoundErrors(t *testing.T) {
	f := hubtest.New(t)
	f.AddRepo(testRepo, tinyRepo())
	ctx := context.Background()
	cache := t.TempDir()

	for _, token := range []string{"", testToken} {
		c := newClient(t, f, cache, WithToken(token))
		_, err := c.Snapshot(ctx, "acme/missing", "main", nil)
		if !errors.Is(err, ErrRepoNotFound) || !strings.Contains(err.Error(), "acme/missing") {
			t.Errorf("missing repo (token %v): %v", token != "", err)
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("message leaks the token: %s", err)
		}
		if _, err := c.File(ctx, "acme/missing", "main", "config.json"); !errors.Is(err, ErrRepoNotFound) {
			t.Errorf("File on a missing repo: %v", err)
		}
	}
	c := newClient(t, f, cache)
	if _, err := c.Snapshot(ctx, testRepo, "v9", nil); !errors.Is(err, ErrRevisionNotFound) {
		t.Errorf("missing revision: %v", err)
	}
	_, err := c.File(ctx, testRepo, "main", "generation_config.json")
	if !errors.Is(err, ErrEntryNotFound) || errors.Is(err, ErrRepoNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	// The absence is remembered: asking again needs no request.
	f.ResetLog()
	if _, err := c.File(ctx, testRepo, "main", "generation_config.json"); !errors.Is(err, ErrEntryNotFound) {
		t.Fatalf("missing file, second time: %v", err)
	}
	if reqs := f.Requests(); len(reqs) != 0 {
		t.Errorf("known-missing file made requests: %v", reqs)
	}
	if _, err := c.Snapshot(ctx, testRepo, "main", func(string) bool { return false }); !errors.Is(err, ErrEntryNotFound) {
		t.Errorf("empty selection: %v", err)
	}
}

func TestNetworkErrorIsOneLine(t *testing.T) {
	f := hubtest.New(t)
	url := f.URL()
	f.Close()
	c := mustNew(t, WithEndpoint(url), WithCacheDir(t.TempDir()), WithToken(testToken))
	_, err := c.File(context.Background(), testRepo, "main", "config.json")
	if !errors.Is(err, ErrNetwork) {
		t.Fatalf("got %v, want ErrNetwork", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, testToken) || !strings.Contains(msg, url) {
		t.Errorf("network error should be one line naming %s without the token: %q", url, msg)
	}
}

func TestOfflineMode(t *testing.T) {
	f := hubtest.New(t)
	f.AddRepo(testRepo, tinyRepo())
	ctx := context.Background()
	cache := t.TempDir()
	if _, err := newClient(t, f, cache).Snapshot(ctx, testRepo, "main", func(n string) bool { return strings.HasSuffix(n, ".json") }); err != nil {
		t.Fatal(err)
	}

	off := newClient(t, f, cache, WithOffline(true), WithHTTPClient(&http.Client{Transport: noNetwork{t}}))
	if _, err := off.File(ctx, testRepo, "main", "config.json"); err != nil {
		t.Errorf("offline File from cache: %v", err)
	}
	if _, err := off.Snapshot(ctx, testRepo, "main", func(n string) bool { return strings.HasSuffix(n, ".json") }); err != nil {
		t.Errorf("offline Snapshot from cache: %v", err)
	}
	_, err := off.Snapshot(ctx, testRepo, "main", nil)
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "model-00001-of-00002.safetensors") {
		t.Errorf("offline Snapshot of an incomplete cache: %v", err)
	}
	_, err = off.File(ctx, testRepo, "main", "model-00002-of-00002.safetensors")
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "offline mode is on") {
		t.Errorf("offline File not in cache: %v", err)
	}
	empty := newClient(t, f, t.TempDir(), WithOffline(true), WithHTTPClient(&http.Client{Transport: noNetwork{t}}))
	if _, err := empty.Snapshot(ctx, testRepo, "main", nil); !errors.Is(err, ErrOffline) {
		t.Errorf("offline Snapshot with an empty cache: %v", err)
	}
}

func TestHostileNames(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../x", `..\x`, "C:/Windows/x"} {
		t.Run(bad, func(t *testing.T) {
			f := hubtest.New(t)
			f.AddRepo(testRepo, tinyRepo())
			f.OverrideListing([]string{"config.json", bad})
			root := t.TempDir()
			cache := filepath.Join(root, "cache")
			_, err := newClient(t, f, cache).Snapshot(ctx, testRepo, "main", nil)
			if !errors.Is(err, ErrUnsafeName) {
				t.Fatalf("listing with %q: %v, want ErrUnsafeName", bad, err)
			}
			if _, err := os.Stat(filepath.Join(root, "x")); !os.IsNotExist(err) {
				t.Errorf("a file was written outside the cache")
			}
			f.ResetLog()
			if _, err := newClient(t, f, cache).File(ctx, testRepo, "main", bad); !errors.Is(err, ErrUnsafeName) {
				t.Errorf("File(%q): %v", bad, err)
			}
			if reqs := f.Requests(); len(reqs) != 0 {
				t.Errorf("hostile File name reached the network: %v", reqs)
			}
		})
	}
	t.Run("etag", func(t *testing.T) {
		f := hubtest.New(t)
		f.AddRepo(testRepo, tinyRepo())
		f.OverrideETag("../../../evil")
		_, err := newClient(t, f, t.TempDir()).File(ctx, testRepo, "main", "config.json")
		if !errors.Is(err, ErrUnsafeName) {
			t.Fatalf("hostile etag: %v", err)
		}
	})
	t.Run("repo", func(t *testing.T) {
		for _, id := range []string{"../etc", "a/b/c", "/abs", "org--x/y"} {
			if _, err := mustNew(t, WithCacheDir(t.TempDir())).File(ctx, id, "main", "config.json"); !errors.Is(err, ErrInvalidRepoID) {
				t.Errorf("repo %q: %v", id, err)
			}
		}
		if _, err := mustNew(t, WithCacheDir(t.TempDir())).File(ctx, testRepo, "../../x", "config.json"); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("revision ../../x: %v", err)
		}
	})
}

func TestRenamedRepoFollowsRelativeRedirect(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	f.Rename("acme/old-name", testRepo)
	c := newClient(t, f, t.TempDir())
	for _, name := range []string{"config.json", "model-00002-of-00002.safetensors"} {
		p, err := c.File(context.Background(), "acme/old-name", "main", name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(readFile(t, p), repo.Files[name]) {
			t.Errorf("%s: wrong content through the redirect", name)
		}
	}
}

// Two clients sharing a cache download each blob once: the blob lock makes
// the second wait and then find the file done.
func TestConcurrentClientsShareBlobs(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	cache := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = newClient(t, f, cache).Snapshot(context.Background(), testRepo, "main", nil)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, shard := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		if n := f.CDNGets(repo.ETag(shard)); n != 1 {
			t.Errorf("%s fetched %d times, want 1", shard, n)
		}
	}
}

// A snapshot that failed part-way is completed at the same commit from the
// cached file list: no second API call, and only the missing file is fetched.
func TestSnapshotCompletesAtSameCommit(t *testing.T) {
	f := hubtest.New(t)
	repo := tinyRepo()
	f.AddRepo(testRepo, repo)
	shard := "model-00002-of-00002.safetensors"
	f.Corrupt(testRepo, shard, true)
	cache := t.TempDir()
	ctx := context.Background()
	// Everything but the shard first, so the failing run below has exactly
	// one file left to fetch and no parallel download it could interrupt.
	if _, err := newClient(t, f, cache).Snapshot(ctx, testRepo, "main", func(n string) bool { return n != shard }); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, f, cache).Snapshot(ctx, testRepo, "main", notReadme); !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupted run: %v, want ErrChecksum", err)
	}
	f.Corrupt(testRepo, shard, false)
	f.ResetLog()
	dir, err := newClient(t, f, cache).Snapshot(ctx, testRepo, "main", notReadme)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"HEAD /" + testRepo + "/resolve/" + testCommit + "/" + shard,
		"GET /cdn/" + repo.ETag(shard),
	}
	if got := f.Requests(); !slices.Equal(got, want) {
		t.Errorf("second run requests = %q, want %q", got, want)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, shard)), repo.Files[shard]) {
		t.Errorf("%s has the wrong content", shard)
	}
}
