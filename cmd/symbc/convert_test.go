package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runConvert(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var o, e bytes.Buffer
	root.SetOut(&o)
	root.SetErr(&e)
	root.SetArgs(append([]string{"convert"}, args...))
	// exitCode also prints the error line on the test's stderr.
	code = exitCode(root.ExecuteContext(context.Background()))
	return o.String(), e.String(), code
}

func TestConvertCommand(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	out := filepath.Join(t.TempDir(), "m")

	stdout, stderr, code := runConvert(t, "--json", "--quantize", "int8", src, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if sum["params"] != float64(260032) || sum["out"] == "" {
		t.Fatalf("summary %v", sum)
	}
	// Not a terminal: one plain line per tensor.
	if n := strings.Count(stderr, "\n"); n < 47 || !strings.Contains(stderr, "layers/layer_04/mlp_down int8") {
		t.Fatalf("progress lines:\n%s", stderr)
	}

	if _, _, code := runConvert(t, "--quiet", src, out); code != 1 {
		t.Fatalf("existing output: exit %d, want 1", code)
	}
	if stdout, stderr, code := runConvert(t, "--quiet", "--force", src, out); code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("--quiet --force: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, bad := range [][]string{
		{"--quantize", "int3", src, out + "2"},
		{"--group-size", "100", src, out + "2"},
		{src},
	} {
		if _, _, code := runConvert(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", bad, code)
		}
	}
}

// TestConvertRecipeFlags: the default int4 conversion records its measured
// per-tensor recipe and calibration; inspect shows them; --verify with a
// bound the conversion cannot meet removes OUT and exits 1; bad target
// flags are usage errors.
func TestConvertRecipeFlags(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	out := filepath.Join(t.TempDir(), "m")
	if _, stderr, code := runConvert(t, "--quiet", src, out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	text, err := runInspect(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recipe:           bits 4.5", "predicted mean KL", "calibration:      builtin text", "sensitivity measured", "gptq"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect lacks %q:\n%s", want, text)
		}
	}
	awq := filepath.Join(t.TempDir(), "awq")
	if _, stderr, code := runConvert(t, "--quiet", "--awq", src, awq); code != 0 {
		t.Fatalf("--awq: exit %d: %s", code, stderr)
	}
	if text, err := runInspect(awq); err != nil || !strings.Contains(text, "AWQ scales on") {
		t.Errorf("inspect of an --awq conversion does not show the scales (%v):\n%s", err, text)
	}
	bad := filepath.Join(t.TempDir(), "strict")
	if _, stderr, code := runConvert(t, "--quiet", "--bits", "8", "--verify", "--max-kld", "0.0001", src, bad); code != 2 {
		t.Errorf("--bits with --max-kld: exit %d (%s), want 2", code, stderr)
	}
	if _, _, code := runConvert(t, "--quiet", "--max-kld", "0.0001", "--verify", src, bad); code != 1 {
		t.Errorf("--max-kld 0.0001 --verify: exit %d, want 1", code)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a conversion that missed --verify's bound is left at %s (%v)", bad, err)
	}
	for _, args := range [][]string{
		{"--bits", "1"},
		{"--max-kld", "-1"},
		{"--bits", "5", "--group-size", "32"},
		{"--bits", "5", "--calibration", "none"},
		{"--awq", "--calibration", "none"},
	} {
		if _, _, code := runConvert(t, append(args, src, bad)...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
}
