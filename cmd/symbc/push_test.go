package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/symbc/symbc/internal/testmodel"
	"github.com/symbc/symbc/registry"
)

// registryFolder writes a small complete model folder: config, every tensor
// it implies, a tokenizer file and manifest.json.
func registryFolder(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := testmodel.Write(context.Background(), dir, tinySpec); err != nil {
		t.Fatal(err)
	}
	return dir
}

// authRegistry is an in-memory registry that wants user "u", password "s3cret-pw".
func authRegistry(t *testing.T) string {
	t.Helper()
	h := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "s3cret-pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// No credentials from the machine's Docker config.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return strings.TrimPrefix(srv.URL, "http://")
}

func registryCLI(stdin string, args ...string) (stdout, stderr string, err error) {
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestPushPullInspectCommands(t *testing.T) {
	dir := registryFolder(t)
	host := authRegistry(t)
	ref := host + "/org/tiny:v1"
	creds := []string{"-u", "u", "--password-stdin"}

	if _, _, err := registryCLI("", "push", dir, ref); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("push without credentials: %v", err)
	}
	_, stderr, err := registryCLI("wrong-pw\n", append([]string{"push", dir, ref}, creds...)...)
	if err == nil || strings.Contains(err.Error()+stderr, "wrong-pw") {
		t.Errorf("push with a wrong password: %v (the password must not be printed)", err)
	}

	out, stderr, err := registryCLI("s3cret-pw\n", append([]string{"push", dir, ref, "--json"}, creds...)...)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("push --json printed %q: %v", out, err)
	}
	digest, _ := res["digest"].(string)
	if res["ref"] != ref || !strings.HasPrefix(digest, "sha256:") || res["uploaded_bytes"].(float64) <= 0 || res["skipped_bytes"].(float64) != 0 {
		t.Errorf("push --json: %v", res)
	}
	if strings.Contains(out+stderr, "s3cret-pw") {
		t.Error("push printed the password")
	}

	out, _, err = registryCLI("s3cret-pw", append([]string{"push", dir, ref}, creds...)...)
	if err != nil || out != ref+"@"+digest+"\n" {
		t.Errorf("re-push printed %q (%v), want %q", out, err, ref+"@"+digest+"\n")
	}

	pulled := filepath.Join(t.TempDir(), "pulled")
	if _, _, err := registryCLI("s3cret-pw\n", append([]string{"pull", host + "/org/tiny@" + digest, pulled}, creds...)...); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.symb.json", "embeddings.symb", "layers/layer_00/mlp_up.symb", "tokenizer/tokenizer.json", "manifest.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, err := os.ReadFile(filepath.Join(pulled, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs after pull (%v)", f, err)
		}
	}
	if _, _, err := registryCLI("s3cret-pw\n", append([]string{"pull", ref, pulled}, creds...)...); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("pull over a folder: %v", err)
	}

	out, _, err = registryCLI("s3cret-pw\n", append([]string{"inspect", ref, "--json"}, creds...)...)
	if err != nil {
		t.Fatal(err)
	}
	var sum registry.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Digest != digest || sum.Architecture != "llama" || sum.Quality != nil {
		t.Errorf("inspect --json: %v %+v", err, sum)
	}
	out, _, err = registryCLI("s3cret-pw\n", append([]string{"inspect", ref}, creds...)...)
	for _, want := range []string{digest, "int4-sym-g32-rtn", "org/tiny", "no (pushed without verify.json)", "layers/layer_00/mlp_up.symb"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q (%v):\n%s", want, err, out)
		}
	}
	// A local folder is still a folder.
	if out, _, err := registryCLI("", "inspect", pulled); err != nil || !strings.Contains(out, "folder:") {
		t.Errorf("inspect of the pulled folder: %v\n%s", err, out)
	}
}

func TestRegistryUsageErrors(t *testing.T) {
	dir := registryFolder(t)
	for _, args := range [][]string{
		{"push", dir, "localhost:1/m:v1", "-u", "me"},
		{"push", dir, "localhost:1/m:v1", "--password-stdin"},
		{"pull", "localhost:1/m:v1", dir, "--jobs", "-2"},
		{"push", dir},
	} {
		_, _, err := registryCLI("pw\n", args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
