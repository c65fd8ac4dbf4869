package arch

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

// deepseekFP8 is the quantization_config of DeepSeek-V3's official release.
const deepseekFP8 = `"quantization_config":{"activation_scheme":"dynamic","fmt":"e4m3","quant_method":"fp8","weight_block_size":[128,128]}`

func TestPrequantized(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		extra string
		want  *BlockScale
		is    error
		msg   string
	}{
		{extra: ``},
		{extra: `,"quantization_config":null`},
		{extra: `,` + deepseekFP8, want: &BlockScale{128, 128}},
		{extra: `,"quantization_config":{"quant_method":"fp8"}`, want: &BlockScale{128, 128}}, // transformers' default
		{extra: `,"quantization_config":{"quant_method":"fp8","weight_block_size":[64,32]}`, want: &BlockScale{64, 32}},
		{extra: `,"quantization_config":{"quant_method":"gptq","bits":4,"group_size":128}`, is: ErrUnsupported, msg: `"gptq"`},
		{extra: `,"quantization_config":{"quant_method":"awq","bits":4}`, is: ErrUnsupported, msg: `"awq"`},
		{extra: `,"quantization_config":{"quant_method":"bitsandbytes","load_in_4bit":true}`, is: ErrUnsupported, msg: `"bitsandbytes"`},
		{extra: `,"quantization_config":{"quant_method":"fp8","activation_scheme":"static"}`, is: ErrUnsupported, msg: `activation_scheme "static"`},
		{extra: `,"quantization_config":{"quant_method":"fp8","fmt":"e3m4"}`, is: ErrUnsupported, msg: `fmt "e3m4"`},
		{extra: `,"quantization_config":{"quant_method":"fp8","weight_block_size":null}`, is: ErrUnsupported, msg: "one scale per tensor"},
		{extra: `,"quantization_config":{"quant_method":"fp8","weight_block_size":[128]}`, is: ErrConfig, msg: "weight_block_size is [128]"},
		{extra: `,"quantization_config":{"quant_method":"fp8","weight_block_size":[0,128]}`, is: ErrConfig, msg: "weight_block_size is [0 128]"},
		{extra: `,"quantization_config":{"quant_method":"fp8","weight_block_size":"128"}`, is: ErrConfig, msg: "weight_block_size"},
		{extra: `,"quantization_config":{"bits":4}`, is: ErrConfig, msg: "no quant_method"},
		{extra: `,"quantization_config":[1]`, is: ErrConfig, msg: "quantization_config"},
	} {
		got, err := Prequantized(parse(t, strings.Replace(minimal, "%s", c.extra, 1)))
		if c.is == nil {
			if err != nil || !equalBlocks(got, c.want) {
				t.Errorf("%s: got %v, %v; want %v", c.extra, got, err, c.want)
			}
			continue
		}
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: error %v, want %v naming config.json and %s", c.extra, err, c.is, c.msg)
		}
	}
}

func equalBlocks(a, b *BlockScale) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// Every family accepts fine-grained FP8 (the hyperparameters do not depend
// on the storage) and refuses other pre-quantized formats by name.
func TestFamiliesPrequantized(t *testing.T) {
	t.Parallel()
	for family := range familyJSON {
		extra := func(q string) string {
			if family == "dbrx" { // familyJSON's %s sits inside ffn_config
				return `},` + strings.TrimSuffix(q, "}")
			}
			return "," + q
		}
		if _, err := familyConfig(t, family, extra(deepseekFP8)); err != nil {
			t.Errorf("%s with fp8: %v", family, err)
		}
		_, err := familyConfig(t, family, extra(`"quantization_config":{"quant_method":"gptq","bits":4}`))
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"gptq"`) {
			t.Errorf("%s with gptq: error %v, want one naming gptq", family, err)
		}
	}
	_, err := Llama{}.Config(parse(t, strings.Replace(minimal, "%s", `,"quantization_config":{"quant_method":"gptq"}`, 1)))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "gptq") {
		t.Errorf("llama with gptq: %v", err)
	}
}

func TestDequantizeFP8(t *testing.T) {
	t.Parallel()
	cfg, err := familyConfig(t, "deepseek_v3", "")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DeepseekV3{}.Tensors(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The projections are FP8 in DeepSeek-V3's release; norms, embeddings,
	// lm_head and the router are not.
	fp8 := func(name string) bool {
		return strings.HasSuffix(name, "_proj.weight") || strings.HasSuffix(name, "_proj_with_mqa.weight")
	}
	b := BlockScale{Rows: 16, Cols: 24}
	out := DequantizeFP8(ms, b, fp8)
	if err := Check(out); err != nil {
		t.Fatal(err)
	}
	scaled := 0
	for i, m := range out {
		src := ms[i].Sources[0]
		if !fp8(src.Name) {
			if !reflect.DeepEqual(m, ms[i]) {
				t.Errorf("%s: float source rewritten to %v", m.Name, m.Sources)
			}
			continue
		}
		scaled++
		if m.Role != symb.RoleLinear {
			t.Errorf("%s: scaled tensor has role %v", m.Name, m.Role)
		}
		want := []Source{src, {Name: src.Name + ScaleSuffix, Shape: []int{(src.Shape[0] + 15) / 16, (src.Shape[1] + 23) / 24}}}
		if !slices.EqualFunc(m.Sources, want, func(a, b Source) bool { return a.Name == b.Name && slices.Equal(a.Shape, b.Shape) }) {
			t.Errorf("%s: sources %v, want %v", m.Name, m.Sources, want)
		}
		d, ok := m.Transform.(Dequantized)
		if !ok || d.Scale != b || !slices.Equal(d.Scaled, []bool{true}) || !reflect.DeepEqual(d.Then, ms[i].Transform) {
			t.Errorf("%s: transform %v", m.Name, m.Transform)
		}
	}
	// 2 layers: q_a, q_b, kv_a, kv_b, o each; dense MLP (3) in layer 0;
	// shared (3) and 4 experts × 3 in layer 1.
	if want := 2*5 + 3 + 3 + 4*3; scaled != want {
		t.Errorf("%d mappings scaled, want %d", scaled, want)
	}
}

func TestDequantizedApply(t *testing.T) {
	t.Parallel()
	w := counting(5, 7)
	// Blocks of 2 rows × 3 columns: factors [3, 3], factor (i, j) = 10i + j + 1.
	s := mem{shape: []int{3, 3}, v: []float32{1, 2, 3, 11, 12, 13, 21, 22, 23}}
	perm := []int{4, 0, 3, 1, 2}
	d := Dequantized{Scale: BlockScale{Rows: 2, Cols: 3}, Scaled: []bool{true}, Then: PermuteRows{Perm: perm}}
	r, err := d.Apply([]Reader{w, s})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	for i, p := range perm {
		for c := range 7 {
			want := w.v[p*7+c] * s.v[(p/2)*3+c/3]
			if got[i*7+c] != want {
				t.Fatalf("row %d col %d = %g, want %g (source row %d)", i, c, got[i*7+c], want, p)
			}
		}
	}
	// A window that starts inside a block row and a block column.
	win := make([]float32, 2*3)
	plain, err := Dequantized{Scale: d.Scale, Scaled: []bool{true}}.Apply([]Reader{w, s})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Read(win, 1, 3, 2, 5); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		for j := range 3 {
			r, c := 1+i, 2+j
			if want := w.v[r*7+c] * s.v[(r/2)*3+c/3]; win[i*3+j] != want {
				t.Fatalf("window (%d,%d) = %g, want %g", r, c, win[i*3+j], want)
			}
		}
	}
	if _, err := d.Apply([]Reader{w}); err == nil || !strings.Contains(err.Error(), "takes 2 sources") {
		t.Errorf("missing factors: %v", err)
	}
	bad := mem{shape: []int{2, 3}, v: make([]float32, 6)}
	if _, err := d.Apply([]Reader{w, bad}); err == nil || !strings.Contains(err.Error(), "needs [3 3]") {
		t.Errorf("factors of the wrong shape: %v", err)
	}
	if _, err := (BlockScale{Rows: 2, Cols: 3}).Apply([]Reader{mem{shape: []int{35}, v: w.v}, s}); err == nil {
		t.Error("1-D weight accepted")
	}
}
