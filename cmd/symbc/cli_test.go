package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symbcRunStdin is symbcRun with stdin as standard input.
func symbcRunStdin(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return symbcExec(t, context.Background(), stdin, args...)
}

// symbcExec is symbcRun with a context and standard input.
func symbcExec(t *testing.T, ctx context.Context, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(ctx)
	if err != nil {
		code = 1
		var ue usageError
		if errors.As(err, &ue) {
			code = 2
		}
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

// TestBadCountsExitTwo: a bad --threads, --jobs, --group-size or the like
// is bad usage (exit status 2) on every command that has the flag, refused
// before any work (convert writes nothing).
func TestBadCountsExitTwo(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	out := filepath.Join(dir, "out")
	for _, args := range [][]string{
		{"convert", src, out, "--threads", "-1"},
		{"convert", src, out, "--group-size", "0"},
		{"convert", src, out, "-t", "-3"},
		{"verify", dir, "--jobs", "-1"},
		{"verify", dir, "-t", "-1"},
		{"run", dir, "--prompt", "x", "-t", "-1"},
		{"run", dir, "--prompt", "x", "--max-context", "-5"},
		{"bench", dir, "--threads", "-2"},
		{"serve", dir, "-t", "-1"},
		{"serve", dir, "--parallel", "0"},
		{"serve", dir, "--kv-cache-size", "lots"},
		{"push", dir, "localhost:1/m:v1", "-j", "-1"},
		{"pull", "localhost:1/m:v1", out, "--jobs", "-1"},
		{"inspect", "localhost:1/m:v1", "--threads", "1"}, // no such flag
		{"run", dir, "--prompt", "x", "--kv-type", "int3"},
		{"run", dir, "--prompt", "x", "--kernels", "sse"},
		{"bench", dir, "--kv-type", "bf16"},
		{"bench", dir, "--roofline", "-n", "0"},
		{"bench", dir, "--engine", "symbiotic", "--parallel", "2"},
		{"bench", dir, "--engine", "symbiotic", "--chat-turn", "100"},
		{"serve", dir, "--kernels", "mmx"},
		{"serve", dir, "--kv-type", "f8"},
		{"verify", dir, "--kernels", "none"},
		{"verify", dir, "--kv-type", "int4"},
	} {
		_, stderr, code := symbcRun(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused command left %s: %v", out, err)
	}
	// 0 means all CPUs, as in the libraries: accepted, so these fail later,
	// on the empty folder, and not as bad usage.
	for _, args := range [][]string{
		{"verify", dir, "--jobs", "0", "--threads", "0"},
		{"push", dir, "localhost:1/m:v1", "--jobs", "0"},
		{"pull", "localhost:1/m:v1", filepath.Join(dir, "nothing", "x"), "-j", "0"},
	} {
		_, stderr, code := symbcRun(t, args...)
		if code == 2 || strings.Contains(stderr, "--jobs") || strings.Contains(stderr, "--threads") {
			t.Errorf("%v: exit %d, want 0 accepted (%s)", args, code, stderr)
		}
	}
}

// TestSameFlagsEverywhere: compute threads are -t/--threads, parallel files
// -j/--jobs, and every command that prints progress has --quiet and --json.
func TestSameFlagsEverywhere(t *testing.T) {
	root := newRootCmd()
	has := map[string][]string{
		"convert": {"threads", "quiet", "json"},
		"run":     {"threads", "quiet", "json"},
		"bench":   {"threads", "json"},
		"serve":   {"threads"},
		"verify":  {"threads", "jobs", "json"},
		"push":    {"jobs", "quiet", "json"},
		"pull":    {"jobs", "quiet", "json"},
	}
	short := map[string]string{"threads": "t", "jobs": "j", "quiet": "q"}
	for name, flags := range has {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flags {
			fl := cmd.Flags().Lookup(f)
			if fl == nil {
				t.Errorf("%s has no --%s", name, f)
				continue
			}
			if s := short[f]; fl.Shorthand != s {
				t.Errorf("%s --%s has shorthand %q, want %q", name, f, fl.Shorthand, s)
			}
		}
	}
}

func TestVersionFlag(t *testing.T) {
	a, _, code := symbcRun(t, "version")
	b, _, code2 := symbcRun(t, "--version")
	if code != 0 || code2 != 0 || a != b || !strings.HasPrefix(a, "symbc ") {
		t.Errorf("version: %q (exit %d); --version: %q (exit %d)", a, code, b, code2)
	}
}

// TestQuietRun: --quiet drops the speed line.
func TestQuietRun(t *testing.T) {
	dir := storiesFolder(t)
	stdout, stderr, code := symbcRun(t, "run", dir, "--prompt", "Once upon a time", "--max-tokens", "4", "--quiet")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "Once upon a time,") {
		t.Errorf("run --quiet: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestStdinDash: "-" reads standard input wherever a file is read.
func TestStdinDash(t *testing.T) {
	dir := storiesFolder(t)
	ref := filepath.Join("..", "..", "testdata", "models", "stories260k", "reference.safetensors")
	refBytes, err := os.ReadFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := symbcRunStdin(t, string(refBytes), "verify", dir, "--reference", "-")
	if code != 0 || !strings.Contains(stdout, "PASS") {
		t.Errorf("verify --reference -: exit %d: %s %s", code, stdout, stderr)
	}
	_, stderr, code = symbcRunStdin(t, "", "verify", dir, "--reference", "-", "--prompts", "-")
	if code != 2 {
		t.Errorf("reading stdin twice: exit %d (%s), want 2", code, stderr)
	}

	// Give the model a chat template so --messages can be used.
	cfgPath := filepath.Join(dir, "tokenizer", "tokenizer_config.json")
	var cfg map[string]any
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["chat_template"] = testChatTemplate
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	msgs := `[{"role": "user", "content": "Once upon a time"}]`
	file := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(file, []byte(msgs), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile, stderr, code := symbcRun(t, "run", dir, "--messages", file, "--max-tokens", "5", "--quiet")
	if code != 0 {
		t.Fatalf("run --messages FILE: %s", stderr)
	}
	fromStdin, stderr, code := symbcRunStdin(t, msgs, "run", dir, "--messages", "-", "--max-tokens", "5", "--quiet")
	if code != 0 || fromStdin != fromFile {
		t.Errorf("run --messages -: exit %d, %q (stderr %q), want %q", code, fromStdin, stderr, fromFile)
	}

}
