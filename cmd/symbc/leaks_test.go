package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// wrappedRegistry is an in-memory registry behind before, which sees every
// request first; no credentials come from the machine's Docker config.
func wrappedRegistry(t *testing.T, before func(r *http.Request)) string {
	t.Helper()
	h := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before(r)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return strings.TrimPrefix(srv.URL, "http://")
}

// recordingRegistry is an in-memory registry that keeps every request
// body it receives.
func recordingRegistry(t *testing.T) (host string, seen func() string) {
	t.Helper()
	var mu sync.Mutex
	var all strings.Builder
	host = wrappedRegistry(t, func(r *http.Request) {
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			mu.Lock()
			all.Write(b)
			mu.Unlock()
		}
	})
	return host, func() string {
		mu.Lock()
		defer mu.Unlock()
		return all.String()
	}
}

// TestPushedArtifactHasNoAbsolutePaths: a folder converted from a local
// checkpoint records only the checkpoint's name in config.symb.json (the
// absolute path stays in local.json, which is never pushed), so nothing
// pushed (layers, manifest, annotations, ModelPack config, verify.json)
// carries a local absolute path, neither the source's nor the model
// folder's; the pulled folder equals the pushed one and verify still finds
// the source of the local folder.
func TestPushedArtifactHasNoAbsolutePaths(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models", "stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stories")
	if _, stderr, code := symbcRun(t, "convert", src, out, "--quiet", "--quantize", "int8"); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	localCfg, err := os.ReadFile(filepath.Join(out, "config.symb.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(localCfg), src) || !strings.Contains(string(localCfg), `"path": "stories260k"`) {
		t.Errorf("config.symb.json must name the source folder only:\n%s", localCfg)
	}
	if local, err := os.ReadFile(filepath.Join(out, "local.json")); err != nil || !strings.Contains(string(local), src) {
		t.Errorf("local.json must keep the source path on this machine: %q %v", local, err)
	}
	if _, stderr, code := symbcRun(t, "verify", out, "--reference", filepath.Join(src, "reference.safetensors"), "--save"); code != 0 {
		t.Fatalf("verify --reference: %s", stderr)
	}
	host, seen := recordingRegistry(t)
	if _, stderr, err := registryCLI("", "push", out, host+"/m:v1", "--quiet"); err != nil {
		t.Fatalf("push: %v %s", err, stderr)
	}
	sent := seen()
	for _, p := range []string{src, out, filepath.Dir(out), os.TempDir() + "/"} {
		if strings.Contains(sent, p) {
			i := strings.Index(sent, p)
			t.Errorf("the push sent the local path %s: ...%s...", p, sent[max(0, i-80):min(len(sent), i+len(p)+40)])
		}
	}
	if !strings.Contains(sent, `"path": "stories260k"`) {
		t.Error("the pushed config.symb.json does not name its source folder")
	}
	pulled := filepath.Join(t.TempDir(), "pulled")
	if _, stderr, err := registryCLI("", "pull", host+"/m:v1", pulled, "--quiet"); err != nil {
		t.Fatalf("pull: %v %s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(pulled, "local.json")); err == nil {
		t.Error("local.json travelled through push and pull")
	}
	if got, err := os.ReadFile(filepath.Join(pulled, "config.symb.json")); err != nil || string(got) != string(localCfg) {
		t.Errorf("the pulled config.symb.json differs from the pushed one (%v)", err)
	}
	if stdout, stderr, code := symbcRun(t, "verify", pulled, "--reference", filepath.Join(src, "reference.safetensors")); code != 0 {
		t.Errorf("verify of the pulled folder: %s %s", stdout, stderr)
	}
	// The pulled copy names its source, which is not on this machine under
	// that name: verify says so instead of guessing.
	if stdout, _, _ := symbcRun(t, "verify", pulled); !strings.Contains(stdout, "stories260k is not available on this machine") {
		t.Errorf("verify of the pulled folder without a reference: %s", stdout)
	}
	// Locally, verify still finds the source through local.json.
	if stdout, stderr, code := symbcRun(t, "verify", out); code != 0 || !strings.Contains(stdout, "source stories260k") {
		t.Errorf("verify with the recorded source: %s %s", stdout, stderr)
	}
}

// TestPushChecksAccessFirst: wrong credentials are reported before the
// model is hashed, in words.
func TestPushChecksAccessFirst(t *testing.T) {
	dir := registryFolder(t)
	host := authRegistry(t)
	_, stderr, err := registryCLI("wrong-pw\n", "push", dir, host+"/org/tiny:v1", "-u", "u", "--password-stdin")
	if err == nil {
		t.Fatal("push with a wrong password succeeded")
	}
	if want := "authentication failed for " + host + " (check"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if strings.Contains(stderr, "hashing") {
		t.Errorf("push hashed the model before checking access: %q", stderr)
	}
	_, _, err = registryCLI("wrong-pw\n", "pull", host+"/org/tiny:v1", filepath.Join(t.TempDir(), "x"), "-u", "u", "--password-stdin")
	if err == nil || !strings.Contains(err.Error(), "authentication failed for "+host) {
		t.Errorf("pull with a wrong password: %v", err)
	}
}
