package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/symbc/symbc/internal/testmodel"
	"github.com/symbc/symbc/symb"
)

// tinySpec is a one-layer tied model: embeddings 40·32 f16, final_norm 32,
// per layer two norms of 32, attn_q and attn_o 32·32, attn_k and attn_v
// 16·32, mlp_gate and mlp_up 64·32, mlp_down 32·64 (int4 g32): 10592
// parameters.
var tinySpec = testmodel.Spec{Layers: 1, Hidden: 32, Intermediate: 64, Vocab: 40, Heads: 4, KVHeads: 2,
	Weights: symb.INT4, Embeddings: symb.F16, GroupSize: 32, Seed: 1}

// inspectFolder writes a complete model folder of tinySpec.
func inspectFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(context.Background(), dir, tinySpec); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runInspect(args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"inspect"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestInspectText(t *testing.T) {
	dir := inspectFolder(t)
	out, err := runInspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"architecture:", "llama", "symbc-test/random-llama", "10.59K (10592)",
		"quantization:     weights int4 sym g32 rtn, embeddings f16, norms f32",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rows := regexp.MustCompile(`(?m)^(\S+)\s+(\S+)\s+(\[[^\]]*\])\s+(\S+)\s+(\S+)\s+(\d+)$`).FindAllStringSubmatch(out, -1)
	if len(rows) != 11 {
		t.Fatalf("want 11 table rows:\n%s", out)
	}
	byName := map[string][]string{}
	for _, r := range rows {
		byName[r[1]] = r
	}
	if r := byName["layers/layer_00/mlp_up"]; r == nil || r[2] != "int4" || r[3] != "[64, 32]" || r[4] != "sym" || r[5] != "32" {
		t.Errorf("int4 row %q", r)
	}
	if r := byName["final_norm"]; r == nil || r[4] != "-" || r[5] != "-" {
		t.Errorf("f32 row %q", r)
	}
}

func TestInspectJSON(t *testing.T) {
	dir := inspectFolder(t)
	out, err := runInspect(dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s symb.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if s.Params != 10592 || len(s.Tensors) != 11 || s.BitsPerWeight <= 0 || s.Architecture != "llama" {
		t.Errorf("summary %+v", s)
	}
	if want := 8 * float64(s.TensorBytes) / 10592; s.BitsPerWeight != want {
		t.Errorf("bits per weight %g, want %g", s.BitsPerWeight, want)
	}
}

func TestInspectNotAModelFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := runInspect(dir)
	if err == nil || !strings.Contains(err.Error(), dir+" is not a .symb model folder") {
		t.Errorf("error %v", err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		t.Error("a folder without config is not a usage error")
	}
	if _, err := runInspect(); !errors.As(err, &ue) {
		t.Errorf("missing argument: %v, want a usage error", err)
	}
}

// TestLoadingChecksStructure: inspect and run refuse a folder whose config
// names an unknown architecture, whose config disagrees with its files, or
// that has no manifest (only verify used to notice).
func TestLoadingChecksStructure(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dir string)
		want string
	}{
		{"unknown architecture", func(t *testing.T, dir string) {
			cfg, err := symb.ReadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Architecture = "banana"
			if err := symb.WriteConfig(dir, cfg); err != nil {
				t.Fatal(err)
			}
		}, `"banana"`},
		{"more layers than the config", func(t *testing.T, dir string) {
			cfg, err := symb.ReadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Model.NumLayers = 2
			if err := symb.WriteConfig(dir, cfg); err != nil {
				t.Fatal(err)
			}
		}, "layers/layer_01/"},
		{"no manifest", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, symb.ManifestFile)); err != nil {
				t.Fatal(err)
			}
		}, "no manifest.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := inspectFolder(t)
			c.edit(t, dir)
			if _, err := runInspect(dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("inspect: %v, want an error naming %s", err, c.want)
			}
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs([]string{"run", dir, "--prompt", "hi", "--max-tokens", "1"})
			if err := root.Execute(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("run: %v, want an error naming %s", err, c.want)
			}
		})
	}
}
