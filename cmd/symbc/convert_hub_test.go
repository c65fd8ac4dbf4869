package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/convert/hub/hubtest"
	"github.com/symbc/symbc/symb"
)

const hubTestToken = "hf_CommandLineSecretToken0123456789"

// hubEnv points the Hub client of the command at srv through the
// environment variables the Hub's own tools read, with an empty cache.
func hubEnv(t *testing.T, srv *hubtest.Server) (cache string) {
	t.Helper()
	home := t.TempDir()
	cache = filepath.Join(home, "hub")
	for k, v := range map[string]string{
		"HF_ENDPOINT": srv.URL(), "HF_HOME": home, "HF_HUB_CACHE": cache, "HF_TOKEN": hubTestToken,
		"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "", "HUGGING_FACE_HUB_TOKEN": "", "HF_TOKEN_PATH": "",
	} {
		t.Setenv(k, v)
	}
	return cache
}

// storiesHubRepo serves the bundled stories260k model with its weights in
// LFS.
func storiesHubRepo(t *testing.T) hubtest.Repo {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	r := hubtest.Repo{
		Commit: "c0ffee0123456789abcdef0123456789abcdef01",
		Files:  map[string][]byte{},
		LFS:    map[string]bool{"model.safetensors": true},
	}
	for _, n := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		r.Files[n] = b
	}
	return r
}

func TestConvertHubIDCommand(t *testing.T) {
	srv := hubtest.New(t)
	repo := storiesHubRepo(t)
	srv.AddRepo("karpathy/stories260k", repo)
	srv.AddRepo("karpathy/uncached", repo)
	gated := repo
	gated.Gated = true
	srv.AddRepo("meta-llama/gated", gated)
	cache := hubEnv(t, srv)
	outs := t.TempDir()

	out := filepath.Join(outs, "stories")
	if msg, err := runCLI(t, "convert", "karpathy/stories260k", out, "--quiet"); err != nil {
		t.Fatalf("convert: %v\n%s", err, msg)
	}
	c, err := symb.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.ID != "karpathy/stories260k" || c.Source.Revision != repo.Commit {
		t.Errorf("source record %+v", c.Source)
	}
	ref, err := os.ReadFile(filepath.Join(cache, "models--karpathy--stories260k", "refs", "main"))
	if err != nil || string(ref) != repo.Commit {
		t.Errorf("HF_HUB_CACHE was not used: refs/main %q, %v", ref, err)
	}
	if hubAuth, cdnAuth := srv.AuthorizedRequests(); hubAuth == 0 || cdnAuth != 0 {
		t.Errorf("HF_TOKEN sent %d time(s) to the Hub and %d to the CDN; want some and none", hubAuth, cdnAuth)
	}
	for _, ua := range srv.UserAgents() {
		if !strings.HasPrefix(ua, "symbc/") {
			t.Errorf("User-Agent %q", ua)
		}
	}

	_, err = runCLI(t, "convert", "meta-llama/gated", filepath.Join(outs, "gated"), "--quiet")
	if err == nil || !strings.Contains(err.Error(), "accept its license at "+srv.URL()+"/meta-llama/gated") ||
		strings.Contains(err.Error(), hubTestToken) || strings.Contains(err.Error(), "\n") {
		t.Errorf("gated model: %v; want one line naming where to accept the license, without the token", err)
	}
	if _, err := os.Lstat(filepath.Join(outs, "gated")); !os.IsNotExist(err) {
		t.Errorf("output folder written for a gated model")
	}

	t.Setenv("HF_HUB_OFFLINE", "1")
	srv.ResetLog()
	if msg, err := runCLI(t, "convert", "karpathy/stories260k", filepath.Join(outs, "offline"), "--quiet"); err != nil {
		t.Fatalf("offline convert from the cache: %v\n%s", err, msg)
	}
	_, err = runCLI(t, "convert", "karpathy/uncached", filepath.Join(outs, "uncached"), "--quiet")
	if err == nil || !strings.Contains(err.Error(), "offline mode is on") || !strings.Contains(err.Error(), "karpathy/uncached") {
		t.Errorf("offline convert of an uncached model: %v", err)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("HF_HUB_OFFLINE=1 runs made %d request(s): %q", len(reqs), reqs)
	}
}
