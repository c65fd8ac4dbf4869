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

// symbcRun executes the root command with args and returns stdout, stderr
// and the exit status main would use.
func symbcRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	code = 0
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

// storiesFolder converts testdata's stories260k to a .symb folder (f32, so
// its greedy output is the reference's).
func storiesFolder(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	out := filepath.Join(t.TempDir(), "stories260k.symb")
	if _, stderr, code := symbcRun(t, "convert", src, out, "--quantize", "f32", "--quiet"); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	return out
}

// greedyText is the reference continuation of "Once upon a time" (64
// tokens), from testdata/models/stories260k/README.md.
const greedyText = ", there was a little girl named Lily. She loved to play outside in the park. " +
	"One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said"

func TestRunCommand(t *testing.T) {
	dir := storiesFolder(t)

	stdout, stderr, code := symbcRun(t, "run", dir, "--prompt", "Once upon a time", "--max-tokens", "64", "-t", "2")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	// A text prompt is echoed before its continuation.
	if want := "Once upon a time" + greedyText + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if !strings.Contains(stderr, "generated: 64 tokens") || !strings.Contains(stderr, "tokens/s") {
		t.Errorf("stderr %q lacks the speed line", stderr)
	}

	stdout, stderr, code = symbcRun(t, "run", dir, "--prompt-ids", "1, 403,407,261,378", "--max-tokens", "8", "--json")
	if code != 0 {
		t.Fatalf("run --json: exit %d: %s", code, stderr)
	}
	var res struct {
		Text             string  `json:"text"`
		IDs              []int   `json:"ids"`
		PromptTokens     int     `json:"prompt_tokens"`
		CompletionTokens int     `json:"completion_tokens"`
		Prefill          float64 `json:"prefill_tokens_per_second"`
		Decode           float64 `json:"decode_tokens_per_second"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if res.PromptTokens != 5 || res.CompletionTokens != 8 || len(res.IDs) != 8 || !strings.HasPrefix(greedyText, res.Text) ||
		res.Text == "" || res.Prefill <= 0 || res.Decode <= 0 {
		t.Errorf("--json result %+v", res)
	}

	stdout, _, code = symbcRun(t, "run", dir, "--prompt", "Once upon a time", "--stop", "Lily", "--stop", "ball")
	if want := "Once upon a time" + greedyText[:strings.Index(greedyText, "Lily")] + "\n"; code != 0 || stdout != want {
		t.Errorf("--stop: exit %d, stdout %q, want %q", code, stdout, want)
	}

	msgs := filepath.Join(t.TempDir(), "messages.json")
	if err := os.WriteFile(msgs, []byte(`[{"role": "user", "content": "hi"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", dir}, 2, "standard input is empty"},
		{[]string{"run", dir, "--prompt", "a", "--prompt-ids", "1"}, 2, "at most one of"},
		{[]string{"run", dir, "--prompt-ids", "1,x"}, 2, `"x" is not a token id`},
		{[]string{"run", dir, "--prompt", "a", "--engine", "fast"}, 2, "unknown engine"},
		{[]string{"run", dir, "--prompt", "a", "--temperature", "-1"}, 2, "temperature"},
		{[]string{"run", dir, "--messages", msgs}, 1, "chat template"},
		{[]string{"run", dir, "--prompt-ids", "600"}, 1, "outside the vocabulary"},
		{[]string{"run", filepath.Join(dir, "nope"), "--prompt", "a"}, 1, "not a .symb model folder"},
	} {
		_, stderr, code := symbcRun(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tc.args[2:], code, stderr, tc.code, tc.want)
		}
	}
}

func TestBenchCommand(t *testing.T) {
	dir := storiesFolder(t)
	stdout, stderr, code := symbcRun(t, "bench", dir, "-p", "8", "-n", "4", "-r", "2", "-t", "2")
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "| pp8  |") || !strings.Contains(stdout, "| tg4  |") || !strings.Contains(stdout, "±") {
		t.Errorf("table:\n%s", stdout)
	}
	stdout, stderr, code = symbcRun(t, "bench", dir, "-p", "8", "-n", "0", "-r", "1", "--json")
	if code != 0 {
		t.Fatalf("bench --json: exit %d: %s", code, stderr)
	}
	var res struct {
		Params int64 `json:"params"`
		Tests  []struct {
			Test string  `json:"test"`
			Mean float64 `json:"mean_tokens_per_second"`
		} `json:"tests"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Params != 260032 || len(res.Tests) != 1 || res.Tests[0].Test != "pp8" || res.Tests[0].Mean <= 0 {
		t.Errorf("bench --json: %s", stdout)
	}
	if _, _, code := symbcRun(t, "bench", dir, "-r", "0"); code != 2 {
		t.Errorf("-r 0: exit %d, want 2", code)
	}
}

// TestUsageExitCodes checks that mistakes on the command line exit with 2
// and are caught before any model is loaded (the folder does not exist).
func TestUsageExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent")
	for _, args := range [][]string{
		{"no-such-command"},
		{"run", missing, "--prompt", "x", "--temperature", "-1"},
		{"run", missing, "--prompt", "x", "--temperature", "NaN"},
		{"run", missing, "--prompt", "x", "--top-p", "2"},
		{"run", missing, "--prompt", "x", "--max-tokens", "-1"},
		{"run", missing, "--prompt", "x", "--max-context", "-5"},
		{"serve", missing, "--threads", "-1"},
		{"bench", missing, "-t", "-1"},
		{"verify", missing, "--max-kld", "-1"},
		{"verify", missing, "--min-top1", "NaN"},
	} {
		stdout, stderr, code := symbcRun(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: wrote %q to stdout before refusing", args, stdout)
		}
	}
	// A missing folder is a failure of the operation, not bad usage.
	if _, _, code := symbcRun(t, "run", missing, "--prompt", "x"); code != 1 {
		t.Errorf("run on a missing folder: exit %d, want 1", code)
	}
	// The bare command prints help and succeeds.
	if stdout, _, code := symbcRun(t); code != 0 || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("symbc with no arguments: exit %d, stdout %q", code, stdout)
	}
}

// TestRunKeepsLeadingSpace: the first generated token continues the
// prompt, so its leading space is kept (the stream decoder once decoded it
// as the start of a text: "Once upon atime").
func TestRunKeepsLeadingSpace(t *testing.T) {
	dir := storiesFolder(t)
	stdout, stderr, code := symbcRun(t, "run", dir, "--prompt", "Once upon a", "--max-tokens", "3", "--temperature", "0")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if want := "Once upon a time, there\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	stdout, stderr, code = symbcRun(t, "run", dir, "--prompt", "Once upon a", "--max-tokens", "3", "--temperature", "0", "--json")
	if code != 0 {
		t.Fatalf("run --json: exit %d: %s", code, stderr)
	}
	var res struct{ Text string }
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Text != " time, there" {
		t.Errorf("--json text %q, want %q", res.Text, " time, there")
	}
}
