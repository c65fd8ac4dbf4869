package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/symbc/symbc/internal/testmodel"
)

func TestPullByDigest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := writeModel(t, testmodel.Tiny)
	reg := newTestRegistry(t)
	res, err := Push(ctx, src, reg.host+"/m:v1", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	for i, ref := range []string{reg.host + "/m@" + res.Digest, reg.host + "/m:v1@" + res.Digest} {
		out := filepath.Join(t.TempDir(), "out"+strconv.Itoa(i))
		pr, err := Pull(ctx, ref, out, fast()...)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if pr.Ref != reg.host+"/m" || pr.Digest != res.Digest {
			t.Errorf("%s: Pull says %s@%s", ref, pr.Ref, pr.Digest)
		}
		sameTree(t, src, out)
	}
	wrong := reg.host + "/m@sha256:" + strings.Repeat("ab", 32)
	if _, err := Pull(ctx, wrong, filepath.Join(t.TempDir(), "x"), fast()...); err == nil {
		t.Error("pulled an unknown digest")
	}
	if _, err := Push(ctx, src, reg.host+"/m@"+res.Digest, fast()...); err == nil || !strings.Contains(err.Error(), "tag") {
		t.Errorf("push to a digest: %v", err)
	}
}

func TestPullExistingDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := writeModel(t, testmodel.Tiny)
	reg := newTestRegistry(t)
	ref := reg.host + "/m:v1"
	if _, err := Push(ctx, src, ref, fast()...); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// An empty folder is fine.
	if _, err := Pull(ctx, ref, out, fast()...); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(out, "stale.txt")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, ref, out, fast()...); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("pull over a folder: %v", err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("refused pull touched the folder: %v", err)
	}
	if _, err := Pull(ctx, ref, out, fast(WithForce(true))...); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
	noLeftovers(t, parent, "out")
}

func TestPullNotAModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newTestRegistry(t)
	// A plain container image: an OCI manifest with an image config.
	img := v1.Manifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Size: 2, Digest: putBlob(t, reg, "img", []byte("{}"))}}
	putManifest(t, reg, "img:v1", img)
	out := filepath.Join(t.TempDir(), "out")
	_, err := Pull(ctx, reg.host+"/img:v1", out, fast()...)
	if !errors.Is(err, ErrNotModel) || !strings.Contains(err.Error(), "artifactType") {
		t.Errorf("pulling an image: %v", err)
	}
	if _, err := Inspect(ctx, reg.host+"/img:v1", fast()...); !errors.Is(err, ErrNotModel) {
		t.Errorf("inspecting an image: %v", err)
	}

	// A ModelPack artifact of another format.
	cfg := []byte(`{"descriptor":{},"config":{"format":"gguf"},"modelfs":{"type":"layers","diffIds":[]}}`)
	other := v1.Manifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: ArtifactType,
		Config: v1.Descriptor{MediaType: MediaTypeConfig, Size: int64(len(cfg)), Digest: putBlob(t, reg, "gguf", cfg)}}
	putManifest(t, reg, "gguf:v1", other)
	if _, err := Pull(ctx, reg.host+"/gguf:v1", out, fast()...); !errors.Is(err, ErrNotModel) || !strings.Contains(err.Error(), "gguf") {
		t.Errorf("pulling a gguf model: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("failed pulls created %s", out)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := writeModel(t, testmodel.Tiny)
	reg := newTestRegistry(t)
	var mu sync.Mutex
	failed, patches := 0, 0
	// Every other blob upload fails with 503: each blob fails once, then goes through.
	reg.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPatch {
			return false
		}
		if patches++; patches%2 == 1 {
			failed++
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	var retries atomic.Int32
	progress := func(ev Event) {
		if ev.Kind == EventRetry {
			retries.Add(1)
		}
	}
	if _, err := Push(ctx, src, reg.host+"/m:v1", fast(WithJobs(1), WithProgress(progress))...); err != nil {
		t.Fatal(err)
	}
	if failed < 3 || retries.Load() != int32(failed) {
		t.Fatalf("%d uploads failed once, %d retries reported", failed, retries.Load())
	}
	// Each blob download is cut short once: the connection closes mid-body.
	cut := map[string]bool{}
	reg.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || cut[r.URL.Path] {
			return false
		}
		cut[r.URL.Path] = true
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("short"))
		panic(http.ErrAbortHandler)
	})
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Pull(ctx, reg.host+"/m:v1", out, fast(WithJobs(1))...); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
	if len(cut) < 3 {
		t.Errorf("only %d downloads were cut", len(cut))
	}

	// Each blob download first gets a 503.
	busy := map[string]bool{}
	reg.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || busy[r.URL.Path] {
			return false
		}
		busy[r.URL.Path] = true
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	out2 := filepath.Join(t.TempDir(), "out")
	if _, err := Pull(ctx, reg.host+"/m:v1", out2, fast()...); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out2)
}

func putBlob(t *testing.T, reg *testRegistry, repo string, b []byte) v1.Hash {
	t.Helper()
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	r, _ := name.NewRepository(reg.host + "/" + repo)
	l := &blobLayer{desc: v1.Descriptor{Digest: h, Size: int64(len(b)), MediaType: "application/octet-stream"},
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, o: defaultOptions(t)}
	if err := remote.WriteLayer(r, l); err != nil {
		t.Fatal(err)
	}
	return h
}

func putManifest(t *testing.T, reg *testRegistry, ref string, m v1.Manifest) {
	t.Helper()
	b, _ := json.Marshal(m)
	tag, _ := name.NewTag(reg.host + "/" + ref)
	if err := remote.Put(tag, rawManifest(b)); err != nil {
		t.Fatal(err)
	}
}

func TestPullCancelled(t *testing.T) {
	t.Parallel()
	src := writeModel(t, testmodel.Tiny)
	reg := newTestRegistry(t)
	if _, err := Push(context.Background(), src, reg.host+"/m:v1", fast()...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := func(ev Event) {
		if ev.Kind == EventDone && ev.Name == "embeddings.symb" {
			cancel()
		}
	}
	parent := t.TempDir()
	_, err := Pull(ctx, reg.host+"/m:v1", filepath.Join(parent, "out"), fast(WithProgress(stop), WithJobs(1))...)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled pull: %v", err)
	}
	noLeftovers(t, parent)
}
