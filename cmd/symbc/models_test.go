package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/convert/hub/hubtest"
	"github.com/symbc/symbc/internal/regtest"
	"github.com/symbc/symbc/store"
)

func TestRunByReferenceAndHubIDThroughTheStore(t *testing.T) {
	models := filepath.Join(t.TempDir(), "models")
	t.Setenv(store.EnvDir, models)
	srv := hubtest.New(t)
	srv.AddRepo("karpathy/stories260k", storiesHubRepo(t))
	hubEnv(t, srv)
	bc := regtest.New(t)
	folder, _ := convertStories(t)
	ref := bc.Host + "/eco/stories:int4"
	if msg, err := runCLI(t, "push", folder, ref); err != nil {
		t.Fatalf("push: %v\n%s", err, msg)
	}
	bc.Counts(true)

	gen := []string{"--prompt", "Once upon a time", "--max-tokens", "12", "--temperature", "0"}
	want, stderr, code := symbcRun(t, append([]string{"run", folder}, gen...)...)
	if code != 0 {
		t.Fatalf("run on the folder: exit %d: %s", code, stderr)
	}
	got, stderr, code := symbcRun(t, append([]string{"run", ref}, gen...)...)
	if code != 0 || got != want {
		t.Fatalf("run %s: exit %d, %q; the folder gives %q\n%s", ref, code, got, want, stderr)
	}
	if _, blobs := bc.Counts(true); blobs == 0 {
		t.Error("the first run of a reference fetched no blob")
	}
	got, stderr, code = symbcRun(t, append([]string{"run", ref}, gen...)...)
	if code != 0 || got != want {
		t.Fatalf("second run: exit %d, %q\n%s", code, got, stderr)
	}
	if all, blobs := bc.Counts(true); blobs != 0 || all != 0 {
		t.Errorf("the second run of a stored reference made %d requests, %d of them for blobs", all, blobs)
	}

	// A Hub id is converted into the store with the default recipe (INT4,
	// as the folder above): the same text.
	got, stderr, code = symbcRun(t, append([]string{"run", "karpathy/stories260k"}, gen...)...)
	if code != 0 || got != want {
		t.Fatalf("run karpathy/stories260k: exit %d, %q, want %q\n%s", code, got, want, stderr)
	}
	srv.ResetLog()
	if _, stderr, code := symbcRun(t, append([]string{"run", "karpathy/stories260k"}, gen...)...); code != 0 {
		t.Fatalf("second run of the Hub id: %s", stderr)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("the second run of a stored Hub id asked the Hub: %q", reqs)
	}

	// The pushed folder and the Hub conversion differ in their source
	// record, so they are two models.
	out, stderr, code := symbcRun(t, "list")
	if code != 0 {
		t.Fatalf("list: %s", stderr)
	}
	for _, w := range []string{"NAME", ref, "karpathy/stories260k", "integrity ok", "bits/w"} {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(w)) {
			t.Errorf("list lacks %q:\n%s", w, out)
		}
	}
	out, _, _ = symbcRun(t, "list", "--json")
	var list []store.Model
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	for _, m := range list {
		if !strings.HasPrefix(m.Digest, "sha256:") || !strings.Contains(out, m.Digest[7:19]) || m.BitsPerWeight < 4 || m.BitsPerWeight > 16 || m.Size <= 0 {
			t.Errorf("list entry %+v", m)
		}
		if !strings.HasPrefix(m.Dir, models) {
			t.Errorf("%s stored outside %s=%s: %s", m.Name, store.EnvDir, models, m.Dir)
		}
	}

	// Every command that loads a model takes a stored name.
	for _, args := range [][]string{
		{"inspect", ref}, {"tokenize", ref, "--text", "Once"}, {"bench", ref, "-p", "4", "-n", "2", "-r", "1"},
		{"verify", "karpathy/stories260k", "--max-kld", "5", "--min-top1", "0"},
	} {
		if out, stderr, code := symbcRun(t, args...); code != 0 {
			t.Errorf("%s: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	if all, _ := bc.Counts(true); all != 0 {
		t.Errorf("commands on stored names made %d registry requests", all)
	}

	out, stderr, code = symbcRun(t, "rm", ref)
	if code != 0 || !strings.Contains(out, "removed "+ref) {
		t.Fatalf("rm: exit %d, %q %s", code, out, stderr)
	}
	if out, _, _ := symbcRun(t, "list"); strings.Contains(out, ref) {
		t.Errorf("list after rm still shows %s:\n%s", ref, out)
	}
	if _, stderr, code := symbcRun(t, "rm", ref); code != 1 || !strings.Contains(stderr, "not in the model store") {
		t.Errorf("rm of an absent name: exit %d, %s", code, stderr)
	}

	// pull REF without DIR stores it.
	out, stderr, code = symbcRun(t, "pull", ref)
	if code != 0 || !strings.Contains(out, ref+" -> sha256:") {
		t.Fatalf("pull into the store: exit %d, %q %s", code, out, stderr)
	}
	if _, blobs := bc.Counts(true); blobs == 0 {
		t.Error("pull after rm fetched no blob")
	}
	if _, stderr, code := symbcRun(t, "pull", ref); code != 0 {
		t.Fatal(stderr)
	}
	if all, blobs := bc.Counts(true); blobs != 0 || all == 0 {
		t.Errorf("pull of a stored reference: %d requests, %d blobs; want the manifest checked and no blob", all, blobs)
	}
	if _, stderr, code := symbcRun(t, "pull", "not a ref"); code != 2 {
		t.Errorf("pull of a non-reference: exit %d, %s", code, stderr)
	}
	ents, err := os.ReadDir(filepath.Join(models, "tmp"))
	if err == nil && len(ents) != 0 {
		t.Errorf("the store's tmp/ keeps %d entries", len(ents))
	}
}
