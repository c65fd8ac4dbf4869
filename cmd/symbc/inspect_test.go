package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

// inspectFolder writes a config and three tensors: 40·32 f16 + 32 f32 +
// 32·64 int4 = 3360 parameters.
func inspectFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := &symb.Config{
		Architecture: "llama",
		Model: symb.ModelConfig{VocabSize: 40, HiddenSize: 32, IntermediateSize: 64, NumLayers: 1, NumHeads: 4, NumKVHeads: 2, HeadDim: 8,
			Norm: "rmsnorm", Activation: "silu", RopeTheta: 1e4, TieEmbeddings: true},
		Quantization: symb.Quantization{Weights: "int4", Scheme: "sym", GroupSize: 32, Method: "rtn", Embeddings: "f16", Norms: "f32"},
		Source:       symb.Source{ID: "org/tiny"},
	}
	if err := symb.WriteConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]symb.Info{
		symb.Embeddings:                 {DType: symb.F16, Shape: []int{40, 32}},
		symb.FinalNorm:                  {DType: symb.F32, Shape: []int{32}},
		symb.LayerTensor(0, symb.MLPUp): {DType: symb.INT4, Scheme: symb.SchemeSym, GroupSize: 32, Shape: []int{64, 32}},
	} {
		d, s, m, err := in.SectionSizes()
		if err != nil {
			t.Fatal(err)
		}
		tn := &symb.Tensor{Info: in, Data: make([]byte, d)}
		if s > 0 {
			tn.Scales = make([]byte, s)
		}
		if m > 0 {
			tn.Mins = make([]byte, m)
		}
		p := symb.TensorPath(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := symb.WriteFile(p, tn); err != nil {
			t.Fatal(err)
		}
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
		"architecture:", "llama", "org/tiny", "3.36K (3360)",
		"quantization:     weights int4 sym g32 rtn, embeddings f16, norms f32",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rows := regexp.MustCompile(`(?m)^(\S+)\s+(\S+)\s+(\[[^\]]*\])\s+(\S+)\s+(\S+)\s+(\d+)$`).FindAllStringSubmatch(out, -1)
	if len(rows) != 3 {
		t.Fatalf("want 3 table rows:\n%s", out)
	}
	if r := rows[2]; r[1] != "layers/layer_00/mlp_up" || r[2] != "int4" || r[3] != "[64, 32]" || r[4] != "sym" || r[5] != "32" {
		t.Errorf("int4 row %q", r[0])
	}
	if r := rows[1]; r[1] != "final_norm" || r[4] != "-" || r[5] != "-" {
		t.Errorf("f32 row %q", r[0])
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
	if s.Params != 3360 || len(s.Tensors) != 3 || s.BitsPerWeight <= 0 || s.Architecture != "llama" {
		t.Errorf("summary %+v", s)
	}
	if want := 8 * float64(s.TensorBytes) / 3360; s.BitsPerWeight != want {
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
