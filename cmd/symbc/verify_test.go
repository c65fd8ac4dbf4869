package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

// runCLI runs the root command with args and returns everything printed.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// convertStories converts the bundled stories260k model with extra flags.
func convertStories(t *testing.T, flags ...string) (out, ref string) {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	out = filepath.Join(t.TempDir(), "stories")
	if msg, err := runCLI(t, append([]string{"convert", src, out, "--quiet"}, flags...)...); err != nil {
		t.Fatalf("convert: %v\n%s", err, msg)
	}
	return out, filepath.Join(src, "reference.safetensors")
}

func TestVerifyCommandPassesAndSaves(t *testing.T) {
	out, ref := convertStories(t, "--quantize", "f32")
	msg, err := runCLI(t, "verify", out, "--reference", ref, "--json", "--save")
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, msg)
	}
	var rep struct {
		Pass    bool `json:"pass"`
		Overall struct {
			MeanKLD    float64 `json:"mean_kld"`
			Top1       float64 `json:"top1_agreement"`
			MaxAbsDiff float64 `json:"max_abs_diff"`
		} `json:"overall"`
		Numerics struct {
			Cases []struct {
				GreedyMatched int `json:"greedy_matched"`
				GreedyTotal   int `json:"greedy_total"`
			} `json:"cases"`
		} `json:"numerics"`
	}
	if err := json.Unmarshal([]byte(msg), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, msg)
	}
	if !rep.Pass || rep.Overall.Top1 != 1 || rep.Overall.MaxAbsDiff > 1e-3 {
		t.Fatalf("lossless verify: %s", msg)
	}
	if c := rep.Numerics.Cases[0]; c.GreedyTotal == 0 || c.GreedyMatched != c.GreedyTotal {
		t.Fatalf("greedy %d/%d", c.GreedyMatched, c.GreedyTotal)
	}
	saved, err := os.ReadFile(filepath.Join(out, symb.ReportFile))
	if err != nil || !bytes.Contains(saved, []byte(`"mean_kld"`)) {
		t.Fatalf("verify.json: %v", err)
	}
	// verify.json lies outside the manifest: the folder still verifies.
	if msg, err := runCLI(t, "verify", out, "--reference", ref); err != nil || !strings.Contains(msg, "result     PASS") {
		t.Fatalf("re-verify with verify.json present: %v\n%s", err, msg)
	}
}

func TestVerifyCommandFailures(t *testing.T) {
	out, ref := convertStories(t)
	cases := []struct {
		name   string
		damage func(t *testing.T)
		want   string
	}{
		{"flipped byte", func(t *testing.T) {
			p := symb.TensorPath(out, symb.LayerTensor(2, symb.MLPUp))
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 0x40
			os.WriteFile(p, b, 0o644)
		}, "layers/layer_02/mlp_up.symb"},
		{"truncated", func(t *testing.T) {
			p := symb.TensorPath(out, symb.LayerTensor(1, symb.AttnQ))
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "layers/layer_01/attn_q.symb"},
		{"missing layer", func(t *testing.T) {
			os.RemoveAll(filepath.Join(out, "layers", "layer_04"))
		}, "layers/layer_04"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, ref = convertStories(t)
			c.damage(t)
			msg, err := runCLI(t, "verify", out, "--reference", ref)
			if !errors.Is(err, errChecksFailed) || exitCode(err) != 1 {
				t.Fatalf("damaged folder: err %v\n%s", err, msg)
			}
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, "integrity  FAIL") {
				t.Fatalf("report does not name %s:\n%s", c.want, msg)
			}
		})
	}
	t.Run("swapped tensors", func(t *testing.T) {
		out, ref := convertStories(t)
		a, b := symb.TensorPath(out, symb.LayerTensor(0, symb.AttnK)), symb.TensorPath(out, symb.LayerTensor(0, symb.AttnV))
		tmp := a + ".x"
		os.Rename(a, tmp)
		os.Rename(b, a)
		os.Rename(tmp, b)
		msg, err := runCLI(t, "verify", out, "--reference", ref)
		// The two files differ in content, and in size when the recipe gave
		// them different group sizes.
		if err == nil || !strings.Contains(msg, "layers/layer_00/attn_k.symb") || !(strings.Contains(msg, "sha256") || strings.Contains(msg, "size")) {
			t.Fatalf("swapped attn_k/attn_v: %v\n%s", err, msg)
		}
	})
	t.Run("wrong reference", func(t *testing.T) {
		out, _ := convertStories(t)
		other := filepath.Join("..", "..", "testdata", "models", "llama3", "reference.safetensors")
		if _, err := os.Stat(other); err != nil {
			t.Skip("testdata/models/llama3 not present")
		}
		_, err := runCLI(t, "verify", out, "--reference", other)
		if err == nil || !strings.Contains(err.Error(), "another model") {
			t.Fatalf("reference of another model: %v", err)
		}
	})
	t.Run("bad usage", func(t *testing.T) {
		_, err := runCLI(t, "verify", out, "--min-top1", "3")
		if exitCode(err) != 2 {
			t.Fatalf("--min-top1 3: exit %d (%v)", exitCode(err), err)
		}
	})
}
