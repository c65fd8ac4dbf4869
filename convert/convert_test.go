package convert

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// hfName maps each .symb tensor of a Llama folder to its Hugging Face
// source, written out here rather than taken from package arch so that the
// test checks the adapter instead of repeating it.
func hfName(layers int, tied bool) map[string]string {
	m := map[string]string{
		"embeddings": "model.embed_tokens.weight",
		"final_norm": "model.norm.weight",
	}
	if !tied {
		m["lm_head"] = "lm_head.weight"
	}
	for i := range layers {
		for symbName, hf := range map[string]string{
			"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
			"attn_o": "self_attn.o_proj", "mlp_gate": "mlp.gate_proj", "mlp_up": "mlp.up_proj",
			"mlp_down": "mlp.down_proj", "norm_attn": "input_layernorm", "norm_mlp": "post_attention_layernorm",
		} {
			m[fmt.Sprintf("layers/layer_%02d/%s", i, symbName)] = fmt.Sprintf("model.layers.%d.%s.weight", i, hf)
		}
	}
	return m
}

func isNorm(name string) bool {
	return name == "final_norm" || filepath.Base(name) == "norm_attn" || filepath.Base(name) == "norm_mlp"
}

func TestConvertFixtures(t *testing.T) {
	for _, model := range []string{"llama3", "stories260k"} {
		for _, q := range []string{"f32", "bf16", "int4"} {
			t.Run(model+"/"+q, func(t *testing.T) {
				src := filepath.Join(fixtures, model)
				policy, err := PolicyRequest{Quantize: q}.Policy()
				if err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(t.TempDir(), "out.symb")
				// Small work units and an odd worker count, so every tensor
				// is cut into many chunks written out of order.
				sum, err := Convert(context.Background(), src, out, WithPolicy(policy), WithJobs(3), withChunkElems(300), WithTool("test", "1"))
				if err != nil {
					t.Fatal(err)
				}
				checkFolder(t, src, out, q, sum)
			})
		}
	}
}

func checkFolder(t *testing.T, src, out, q string, sum *Summary) {
	t.Helper()
	hf, err := arch.ReadHFConfig(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := symb.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	layers, tied := hf.NumHiddenLayers, *hf.TieWordEmbeddings
	if c.Model.NumLayers != layers || c.Model.TieEmbeddings != tied || c.Architecture != "llama" ||
		c.Source.Path == "" || c.Tool != (symb.Tool{Name: "test", Version: "1"}) {
		t.Fatalf("config.symb.json: %+v", c)
	}
	if c.Quantization.Weights != q || c.Quantization.Embeddings != q {
		t.Errorf("quantization record %+v, want %s", c.Quantization, q)
	}
	names := hfName(layers, tied)

	// Layout: exactly the tensor files, the config, the tokenizer files
	// and the documents.
	var tok []string
	for _, f := range tokenizerFiles {
		if _, err := os.Stat(filepath.Join(src, f)); err == nil {
			tok = append(tok, "tokenizer/"+f)
		}
	}
	want := append([]string{symb.ConfigFile}, tok...)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if isDocFile(e.Name()) {
			want = append(want, e.Name()) // licence, notice, model card
		}
	}
	for n := range names {
		want = append(want, n+symb.Ext)
	}
	sort.Strings(want)
	got, err := symb.ListFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files:\n got %v\nwant %v", got, want)
	}
	for _, f := range tok {
		a, _ := os.ReadFile(filepath.Join(src, filepath.Base(f)))
		b, _ := os.ReadFile(filepath.Join(out, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s is not a verbatim copy", f)
		}
	}
	m, err := symb.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	probs, err := m.Check(context.Background(), out, 2)
	if err != nil || len(probs) != 0 {
		t.Fatalf("manifest check: %v %v", probs, err)
	}
	if len(m.Files) != len(want) || sum.Files != len(want)+1 || sum.Tensors != len(names) {
		t.Errorf("manifest has %d files, summary %d files %d tensors; want %d, %d", len(m.Files), sum.Files, sum.Tensors, len(want), len(names))
	}

	// Values.
	st := readST(t, filepath.Join(src, "model.safetensors"))
	model, err := symb.OpenModel(out)
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	var params int64
	for name, hfn := range names {
		s := st[hfn]
		tn, err := model.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tn.Shape, s.shape) {
			t.Fatalf("%s: shape %v, source %v", name, tn.Shape, s.shape)
		}
		params += int64(len(s.f32))
		checkValues(t, name, q, tn, s.f32)
	}
	if sum.Params != params || sum.BytesIn <= 0 || sum.BitsPerWeight <= 0 {
		t.Errorf("summary %+v, want %d params", sum, params)
	}
}

// checkValues compares a written tensor with its source values.
func checkValues(t *testing.T, name, q string, tn *symb.Tensor, src []float32) {
	t.Helper()
	switch {
	case q == "f32":
		// Lossless: bit-identical values.
		v, err := tn.Float32s()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range src {
			if math.Float32bits(v[i]) != math.Float32bits(src[i]) {
				t.Fatalf("%s[%d] = %v, source %v", name, i, v[i], src[i])
			}
		}
	case isNorm(name):
		// Norms stay float: F16 unless the policy is F32.
		if tn.DType != symb.F16 {
			t.Fatalf("%s: dtype %s, want f16", name, tn.DType)
		}
		w, _ := tn.Uint16s()
		for i := range src {
			if w[i] != quantize.F32ToF16(src[i]) {
				t.Fatalf("%s[%d] = %#x, want %#x", name, i, w[i], quantize.F32ToF16(src[i]))
			}
		}
	case q == "bf16":
		w, err := tn.Uint16s()
		if err != nil || tn.DType != symb.BF16 {
			t.Fatalf("%s: dtype %s (%v)", name, tn.DType, err)
		}
		for i := range src {
			if w[i] != quantize.F32ToBF16(src[i]) {
				t.Fatalf("%s[%d] = %#x, want %#x", name, i, w[i], quantize.F32ToBF16(src[i]))
			}
		}
	default:
		if tn.DType != symb.INT4 || tn.Scheme != symb.SchemeSym || tn.GroupSize != 128 {
			t.Fatalf("%s: %s %s g%d, want int4 sym g128", name, tn.DType, tn.Scheme, tn.GroupSize)
		}
		// The chunked, concurrent pipeline must write exactly what one
		// call over the whole tensor produces.
		spec := quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: 128}
		rows, cols := tn.Rows(), tn.Cols()
		d, s, m, err := spec.Layout(rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		data, scales, mins := make([]byte, d), make([]byte, s), make([]byte, m)
		if err := quantize.QuantizeRows(spec, src, cols, data, scales, mins); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tn.Data, data) || !bytes.Equal(tn.Scales, scales) || len(tn.Mins) != 0 {
			t.Fatalf("%s: packed bytes differ from a direct quantization", name)
		}
		// And the values are close to the source.
		deq := make([]float32, rows*cols)
		if err := quantize.Dequantize(spec, tn.Data, tn.Scales, tn.Mins, rows, cols, deq); err != nil {
			t.Fatal(err)
		}
		var e2, s2 float64
		for i := range src {
			e2 += float64(deq[i]-src[i]) * float64(deq[i]-src[i])
			s2 += float64(src[i]) * float64(src[i])
		}
		if rel := math.Sqrt(e2 / s2); rel > 0.2 || rel == 0 {
			t.Fatalf("%s: relative RMS error %.3f", name, rel)
		}
	}
}

// TestNegativeJobs: WithJobs(-1) is an error before anything is read (it
// used to be ignored), and 0 means one per CPU like everywhere else.
func TestNegativeJobs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	_, err := Convert(context.Background(), filepath.Join("..", "testdata", "models", "stories260k"), out, WithJobs(-1))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("jobs is -1")) {
		t.Errorf("WithJobs(-1): %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output written despite the bad option: %v", err)
	}
}
