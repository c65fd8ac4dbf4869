package arch

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/symbc/symbc/internal/sttest"
	"github.com/symbc/symbc/symb"
)

const fixtures = "../testdata/models"

func TestLlamaFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"llama3", "stories260k"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(fixtures, name)
			hf, err := ReadHFConfig(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := Detect(hf)
			if err != nil {
				t.Fatal(err)
			}
			if a.Name() != "llama" {
				t.Fatalf("adapter %s", a.Name())
			}
			cfg, err := a.Config(hf)
			if err != nil {
				t.Fatal(err)
			}

			// Compare with config.json decoded independently.
			var raw map[string]any
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			num := func(k string) float64 { return raw[k].(float64) }
			for _, c := range []struct {
				field string
				got   float64
				key   string
			}{
				{"vocab", float64(cfg.VocabSize), "vocab_size"},
				{"hidden", float64(cfg.HiddenSize), "hidden_size"},
				{"intermediate", float64(cfg.IntermediateSize), "intermediate_size"},
				{"layers", float64(cfg.NumLayers), "num_hidden_layers"},
				{"heads", float64(cfg.NumHeads), "num_attention_heads"},
				{"kv heads", float64(cfg.NumKVHeads), "num_key_value_heads"},
				{"head dim", float64(cfg.HeadDim), "head_dim"},
				{"max positions", float64(cfg.MaxPositions), "max_position_embeddings"},
				{"eps", cfg.NormEps, "rms_norm_eps"},
				{"theta", cfg.RopeTheta, "rope_theta"},
				{"bos", float64(*cfg.BOSTokenID), "bos_token_id"},
			} {
				if c.got != num(c.key) {
					t.Errorf("%s = %v, config.json %s = %v", c.field, c.got, c.key, num(c.key))
				}
			}
			if !slices.Equal(cfg.EOSTokenIDs, []int{int(num("eos_token_id"))}) {
				t.Errorf("eos = %v", cfg.EOSTokenIDs)
			}
			if cfg.TieEmbeddings != raw["tie_word_embeddings"].(bool) || cfg.Norm != "rmsnorm" || cfg.Activation != "silu" {
				t.Errorf("tie %v norm %q act %q", cfg.TieEmbeddings, cfg.Norm, cfg.Activation)
			}
			if rs, ok := raw["rope_scaling"].(map[string]any); ok {
				r := cfg.RopeScaling
				if r == nil || r.Type != rs["rope_type"] || r.Factor != rs["factor"] || r.LowFreqFactor != rs["low_freq_factor"] ||
					r.HighFreqFactor != rs["high_freq_factor"] || float64(r.OriginalMaxPositionEmbeddings) != rs["original_max_position_embeddings"] {
					t.Errorf("rope_scaling %+v, config.json %v", r, rs)
				}
			} else if cfg.RopeScaling != nil {
				t.Errorf("rope_scaling %+v for a config without one", cfg.RopeScaling)
			}

			ms, err := a.Tensors(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(ms); err != nil {
				t.Fatal(err)
			}
			checkSources(t, ms, filepath.Join(dir, "model.safetensors"))
			if want := 2 + 9*cfg.NumLayers; len(ms) != want {
				t.Errorf("%d mappings, want %d", len(ms), want)
			}
			matchTable(t, cfg, ms)
		})
	}
}

// checkSources checks that every source of ms exists in the checkpoint at
// path with the same shape, and that every checkpoint tensor is used.
func checkSources(t *testing.T, ms []Mapping, path string) {
	t.Helper()
	st := readHeaders(t, path)
	used := map[string]bool{}
	for _, m := range ms {
		for _, s := range m.Sources {
			shape, ok := st[s.Name]
			if !ok {
				t.Fatalf("%s: source %s not in the checkpoint", m.Name, s.Name)
			}
			if !slices.Equal(shape, s.Shape) {
				t.Fatalf("%s: source %s shape %v, checkpoint %v", m.Name, s.Name, s.Shape, shape)
			}
			used[s.Name] = true
		}
	}
	for n := range st {
		if !used[n] {
			t.Errorf("checkpoint tensor %s unused", n)
		}
	}
}

func readHeaders(t *testing.T, path string) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, nt := range sttest.Read(t, path).Tensors() {
		var s []int
		for _, d := range nt.TensorView.Shape() {
			s = append(s, int(d))
		}
		out[nt.Name] = s
	}
	return out
}

func parse(t *testing.T, js string) *HFConfig {
	t.Helper()
	hf, err := ParseHFConfig([]byte(js), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	return hf
}

const minimal = `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":96,
"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":100%s}`

func TestLlamaDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Llama{}.Config(parse(t, strings.Replace(minimal, "%s", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	// LlamaConfig defaults: kv heads = heads, head_dim = hidden/heads,
	// rope_theta 10000, eps 1e-6, untied, no rope scaling.
	if cfg.NumKVHeads != 4 || cfg.HeadDim != 16 || cfg.RopeTheta != 10000 || cfg.NormEps != 1e-6 ||
		cfg.TieEmbeddings || cfg.RopeScaling != nil || cfg.BOSTokenID != nil || cfg.EOSTokenIDs != nil {
		t.Fatalf("defaults: %+v", cfg)
	}
	ms, err := Llama{}.Tensors(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var head *Mapping
	for i := range ms {
		if ms[i].Name == symb.LMHead {
			head = &ms[i]
		}
	}
	if head == nil || head.Role != symb.RoleLMHead || head.Sources[0].Name != "lm_head.weight" || !slices.Equal(head.Shape, []int{100, 64}) {
		t.Fatalf("untied model: lm_head mapping %+v", head)
	}
}

func TestEOSForms(t *testing.T) {
	t.Parallel()
	for js, want := range map[string][]int{
		`,"eos_token_id":7`:       {7},
		`,"eos_token_id":[7,8,9]`: {7, 8, 9},
		`,"eos_token_id":null`:    nil,
		`,"eos_token_id":[]`:      {},
		`,"bos_token_id":null`:    nil,
	} {
		cfg, err := Llama{}.Config(parse(t, strings.Replace(minimal, "%s", js, 1)))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if !slices.Equal(cfg.EOSTokenIDs, want) {
			t.Errorf("%s: eos %v, want %v", js, cfg.EOSTokenIDs, want)
		}
	}
}

func TestAttentionBias(t *testing.T) {
	t.Parallel()
	cfg, err := Llama{}.Config(parse(t, strings.Replace(minimal, "%s", `,"attention_bias":true,"num_key_value_heads":2`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := Llama{}.Tensors(cfg)
	want := map[string][]int{
		symb.LayerTensor(0, symb.AttnQBias): {64}, symb.LayerTensor(0, symb.AttnKBias): {32},
		symb.LayerTensor(0, symb.AttnVBias): {32}, symb.LayerTensor(0, symb.AttnOBias): {64},
	}
	for _, m := range ms {
		if s, ok := want[m.Name]; ok {
			if m.Role != symb.RoleBias || !slices.Equal(m.Shape, s) || !strings.HasSuffix(m.Sources[0].Name, "_proj.bias") {
				t.Errorf("%s: %+v", m.Name, m)
			}
			delete(want, m.Name)
		}
	}
	if len(want) != 0 {
		t.Fatalf("missing bias mappings %v", want)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ extra, want string }{
		{`,"num_key_value_heads":3`, "num_key_value_heads"},
		{`,"hidden_act":"gelu"`, "hidden_act"},
		{`,"mlp_bias":true`, "mlp_bias"},
		{`,"rope_scaling":{"rope_type":"yarn","factor":4}`, `"yarn"`},
		{`,"rope_scaling":{"type":"llama3","factor":8}`, "low_freq_factor"},
		{`,"eos_token_id":100`, "eos_token_id 100"},
		{`,"rms_norm_eps":0`, "rms_norm_eps"},
		{`,"head_dim":7`, "head_dim"},
	} {
		_, err := Llama{}.Config(parse(t, strings.Replace(minimal, "%s", c.extra, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: error %v, want one naming config.json and %s", c.extra, err, c.want)
		}
	}
	_, err := Llama{}.Config(parse(t, `{"hidden_size":64,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10}`))
	if err == nil || !strings.Contains(err.Error(), "intermediate_size is missing") {
		t.Errorf("missing intermediate_size: %v", err)
	}
	// linear rope scaling is accepted and kept.
	cfg, err := Llama{}.Config(parse(t, strings.Replace(minimal, "%s", `,"rope_scaling":{"type":"linear","factor":2}`, 1)))
	if err != nil || cfg.RopeScaling == nil || cfg.RopeScaling.Type != "linear" || cfg.RopeScaling.Factor != 2 {
		t.Errorf("linear rope: %+v, %v", cfg.RopeScaling, err)
	}
}

func TestDetectAndLookup(t *testing.T) {
	t.Parallel()
	_, err := Detect(parse(t, `{"architectures":["FooForCausalLM"],"model_type":"foo"}`))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "FooForCausalLM") || !strings.Contains(err.Error(), "LlamaForCausalLM") {
		t.Fatalf("unknown architecture: %v", err)
	}
	// model_type is the fallback when the class name is unknown.
	a, err := Detect(parse(t, `{"architectures":["LlamaForSomethingNew"],"model_type":"llama"}`))
	if err != nil || a.Name() != "llama" {
		t.Fatalf("model_type fallback: %v, %v", a, err)
	}
	if _, err := Lookup("llama"); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup("gpt2"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Lookup(gpt2) = %v", err)
	}
	if s := Supported(); !slices.Contains(s, "LlamaForCausalLM") || slices.Contains(s, "llama") {
		t.Fatalf("Supported() = %v", s)
	}
}
