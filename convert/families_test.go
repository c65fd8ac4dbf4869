package convert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/internal/sttest"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/symb"
)

// These tests convert each architecture's test checkpoint losslessly (f32)
// and check (1) that the folder holds exactly the .symb tensors the format
// prescribes, each equal to its source after the split, transpose or row
// reordering the family needs, worked out here independently of package
// arch, and (2) that the runtime reproduces the transformers reference
// logits and greedy tokens, from the converted folder and from the
// unconverted checkpoint through OpenSource.

const familyFixtures = "../testdata/models"

// ftensor is a float32 tensor.
type ftensor struct {
	shape []int
	v     []float32
}

func (t ftensor) cols() int { return t.shape[len(t.shape)-1] }

// rows returns rows [a, b) of a 2-D tensor.
func (t ftensor) rows(a, b int) ftensor {
	c := t.cols()
	return ftensor{shape: []int{b - a, c}, v: t.v[a*c : b*c]}
}

func (t ftensor) transpose() ftensor {
	r, c := t.shape[0], t.shape[1]
	out := ftensor{shape: []int{c, r}, v: make([]float32, r*c)}
	for i := range r {
		for j := range c {
			out.v[j*r+i] = t.v[i*c+j]
		}
	}
	return out
}

// ropeHalves reorders rows as transformers' rope_interleave does before
// rotate-half RoPE: in every block of stride rows, the dim rows from off
// are viewed as [dim/2][2] and transposed to [2][dim/2].
func (t ftensor) ropeHalves(stride, off, dim int) ftensor {
	c := t.cols()
	out := ftensor{shape: slices.Clone(t.shape), v: slices.Clone(t.v)}
	for b := 0; b < t.shape[0]; b += stride {
		for pair := range dim / 2 {
			for half := range 2 {
				src := b + off + 2*pair + half
				dst := b + off + half*(dim/2) + pair
				copy(out.v[dst*c:(dst+1)*c], t.v[src*c:(src+1)*c])
			}
		}
	}
	return out
}

// readFloats decodes every tensor of a safetensors file to float32.
func readFloats(t *testing.T, path string) map[string]ftensor {
	t.Helper()
	out := map[string]ftensor{}
	for name, x := range sttest.ReadAll(t, path) {
		switch x.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16:
			out[name] = ftensor{shape: x.Shape, v: x.F32}
		} // the reference's I64 ids are read by readRef
	}
	return out
}

// hfConfig reads the integer sizes of a config.json the expectations need.
func hfConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func num(m map[string]any, key string) int { return int(m[key].(float64)) }

// llamaNames maps the per-layer checkpoint names of the Llama layout to
// .symb names.
func llamaNames() map[string]string {
	return map[string]string{
		"input_layernorm.weight": "norm_attn", "post_attention_layernorm.weight": "norm_mlp",
		"self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k", "self_attn.v_proj.weight": "attn_v",
		"self_attn.o_proj.weight": "attn_o", "self_attn.q_proj.bias": "attn_q_bias", "self_attn.k_proj.bias": "attn_k_bias",
		"self_attn.v_proj.bias": "attn_v_bias", "self_attn.q_norm.weight": "attn_q_norm", "self_attn.k_norm.weight": "attn_k_norm",
		"mlp.gate_proj.weight": "mlp_gate", "mlp.up_proj.weight": "mlp_up", "mlp.down_proj.weight": "mlp_down",
	}
}

var (
	layerRe  = regexp.MustCompile(`^(?:model\.layers|transformer\.blocks)\.(\d+)\.(.+)$`)
	expertRe = regexp.MustCompile(`^(?:block_sparse_moe|mlp)\.experts\.(\d+)\.(w1|w2|w3|gate_proj|up_proj|down_proj)\.weight$`)
)

// expectedTensors lists every .symb tensor a case converts to, computed
// from the checkpoint by the rules of each family's transformers code.
func expectedTensors(t *testing.T, family, dir string, src map[string]ftensor) map[string]ftensor {
	t.Helper()
	cfg := hfConfig(t, dir)
	names := llamaNames()
	switch family {
	case "gemma2":
		names["post_attention_layernorm.weight"] = "norm_attn_post"
		names["pre_feedforward_layernorm.weight"] = "norm_mlp"
		names["post_feedforward_layernorm.weight"] = "norm_mlp_post"
	case "mixtral":
		names["block_sparse_moe.gate.weight"] = "moe_router"
	case "deepseek":
		for hf, s := range map[string]string{
			"self_attn.q_a_proj.weight": "attn_q_a", "self_attn.q_a_layernorm.weight": "attn_q_a_norm",
			"self_attn.kv_a_layernorm.weight": "attn_kv_a_norm", "self_attn.kv_b_proj.weight": "attn_kv_b",
			"mlp.gate.weight": "moe_router", "mlp.gate.e_score_correction_bias": "moe_router_bias",
			"mlp.shared_experts.gate_proj.weight": "shared_mlp_gate", "mlp.shared_experts.up_proj.weight": "shared_mlp_up",
			"mlp.shared_experts.down_proj.weight": "shared_mlp_down",
		} {
			names[hf] = s
		}
	case "dbrx":
		names = map[string]string{
			"norm_attn_norm.norm_1.weight": "norm_attn", "norm_attn_norm.norm_2.weight": "norm_mlp",
			"norm_attn_norm.attn.out_proj.weight": "attn_o", "ffn.router.layer.weight": "moe_router",
		}
	}
	expertNames := map[string]string{"w1": "mlp_gate", "w3": "mlp_up", "w2": "mlp_down",
		"gate_proj": "mlp_gate", "up_proj": "mlp_up", "down_proj": "mlp_down"}
	out := map[string]ftensor{}
	put := func(name string, x ftensor) {
		if _, dup := out[name]; dup {
			t.Fatalf("expectation %s twice", name)
		}
		out[name] = x
	}
	for name, x := range src {
		switch name {
		case "model.embed_tokens.weight", "transformer.wte.weight":
			put("embeddings", x)
			continue
		case "model.norm.weight", "transformer.norm_f.weight":
			put("final_norm", x)
			continue
		case "lm_head.weight":
			put("lm_head", x)
			continue
		}
		m := layerRe.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("%s: unexpected checkpoint tensor %s", family, name)
		}
		i, _ := strconv.Atoi(m[1])
		layer := func(s string) string { return fmt.Sprintf("layers/layer_%02d/%s", i, s) }
		if s, ok := names[m[2]]; ok {
			put(layer(s), x)
			continue
		}
		if e := expertRe.FindStringSubmatch(m[2]); e != nil {
			n, _ := strconv.Atoi(e[1])
			put(layer(fmt.Sprintf("experts/expert_%03d/%s", n, expertNames[e[2]])), x)
			continue
		}
		switch {
		case family == "phi3" && m[2] == "self_attn.qkv_proj.weight",
			family == "dbrx" && m[2] == "norm_attn_norm.attn.Wqkv.weight":
			heads, kvHeads, hidden := 0, 0, 0
			if family == "dbrx" {
				attn := cfg["attn_config"].(map[string]any)
				heads, kvHeads, hidden = num(cfg, "n_heads"), num(attn, "kv_n_heads"), num(cfg, "d_model")
			} else {
				heads, kvHeads, hidden = num(cfg, "num_attention_heads"), num(cfg, "num_key_value_heads"), num(cfg, "hidden_size")
			}
			q, kv := hidden, kvHeads*hidden/heads
			put(layer("attn_q"), x.rows(0, q))
			put(layer("attn_k"), x.rows(q, q+kv))
			put(layer("attn_v"), x.rows(q+kv, q+2*kv))
		case family == "phi3" && m[2] == "mlp.gate_up_proj.weight":
			f := num(cfg, "intermediate_size")
			put(layer("mlp_gate"), x.rows(0, f))
			put(layer("mlp_up"), x.rows(f, 2*f))
		case family == "dbrx" && strings.HasPrefix(m[2], "ffn.experts.mlp."):
			ffn := cfg["ffn_config"].(map[string]any)
			f, n := num(ffn, "ffn_hidden_size"), num(ffn, "moe_num_experts")
			which := strings.TrimPrefix(m[2], "ffn.experts.mlp.")
			for e := range n {
				part := x.rows(e*f, (e+1)*f)
				s := map[string]string{"w1": "mlp_gate", "v1": "mlp_up", "w2": "mlp_down"}[which]
				if which == "w2" {
					part = part.transpose() // applied as h·W: [F, d] becomes [d, F]
				}
				put(layer(fmt.Sprintf("experts/expert_%03d/%s", e, s)), part)
			}
		case family == "deepseek" && m[2] == "self_attn.q_b_proj.weight":
			nope, rope := num(cfg, "qk_nope_head_dim"), num(cfg, "qk_rope_head_dim")
			put(layer("attn_q_b"), x.ropeHalves(nope+rope, nope, rope))
		case family == "deepseek" && m[2] == "self_attn.kv_a_proj_with_mqa.weight":
			lora, rope := num(cfg, "kv_lora_rank"), num(cfg, "qk_rope_head_dim")
			put(layer("attn_kv_a"), x.ropeHalves(lora+rope, lora, rope))
		default:
			t.Fatalf("%s: no expectation for checkpoint tensor %s", family, name)
		}
	}
	return out
}

// symbTensors reads every .symb file of a model folder as float32.
func symbTensors(t *testing.T, dir string) map[string]ftensor {
	t.Helper()
	out := map[string]ftensor{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, symb.Ext) {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := strings.TrimSuffix(filepath.ToSlash(rel), symb.Ext)
		f, err := symb.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		x := f.Tensor()
		if x.DType != symb.F32 {
			return fmt.Errorf("%s: dtype %s after an f32 conversion", name, x.DType)
		}
		v, err := x.Float32s()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out[name] = ftensor{shape: slices.Clone(x.Shape), v: slices.Clone(v)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reference is a case's reference.safetensors.
type reference struct {
	input, prompt, greedy []int
	logits                []float32
}

func readRef(t *testing.T, dir string) reference {
	t.Helper()
	r := sttest.ReadReference(t, dir)
	return reference{input: r.Input, prompt: r.Prompt, greedy: r.Greedy, logits: r.Logits}
}

// numerics runs m over the reference input and greedy prompt. It returns
// the largest |logit − reference| relative to the largest |reference
// logit|, and how many greedy steps matched before the first difference.
func numerics(t *testing.T, m *runtime.Model, ref reference) (rel float64, matched int) {
	t.Helper()
	ctx := context.Background()
	logits, err := m.NewSession().Forward(ctx, ref.input)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != len(ref.logits) {
		t.Fatalf("%d logits, reference has %d", len(logits), len(ref.logits))
	}
	var diff, peak float64
	for i, r := range ref.logits {
		diff = max(diff, math.Abs(float64(logits[i])-float64(r)))
		peak = max(peak, math.Abs(float64(r)))
	}
	s := m.NewSession()
	out, err := s.Forward(ctx, ref.prompt)
	if err != nil {
		t.Fatal(err)
	}
	vocab := len(ref.logits) / len(ref.input)
	last := out[len(out)-vocab:]
	for _, want := range ref.greedy {
		next := 0
		for j, v := range last {
			if v > last[next] {
				next = j
			}
		}
		if next != want {
			break
		}
		matched++
		if last, err = s.Forward(ctx, []int{next}); err != nil {
			t.Fatal(err)
		}
	}
	return diff / peak, matched
}

// familyCases are the test checkpoints and the adapter each must select.
var familyCases = []struct{ dir, adapter string }{
	{"qwen2", "qwen2"}, {"qwen3", "qwen3"}, {"mistral", "mistral"}, {"phi3", "phi3"}, {"gemma", "gemma"},
	{"gemma2", "gemma2"}, {"mixtral", "mixtral"}, {"deepseek", "deepseek_v3"}, {"dbrx", "dbrx"},
}

func TestConvertFamilies(t *testing.T) {
	policy, err := convert.PolicyRequest{Quantize: "f32"}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range familyCases {
		t.Run(c.dir, func(t *testing.T) {
			src := filepath.Join(familyFixtures, c.dir)
			out := filepath.Join(t.TempDir(), c.dir+".symb")
			sum, err := convert.Convert(context.Background(), src, out, convert.WithPolicy(policy), convert.WithJobs(2))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := symb.ReadConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Architecture != c.adapter || sum.Architecture != c.adapter {
				t.Errorf("architecture %q (summary %q), want %q", cfg.Architecture, sum.Architecture, c.adapter)
			}
			if cfg.Quantization.Weights != "f32" || cfg.Source.DType != "bf16" {
				t.Errorf("quantization %+v, source dtype %q", cfg.Quantization, cfg.Source.DType)
			}

			want := expectedTensors(t, c.dir, src, readFloats(t, filepath.Join(src, "model.safetensors")))
			got := symbTensors(t, out)
			if sum.Tensors != len(want) {
				t.Errorf("summary counts %d tensors, want %d", sum.Tensors, len(want))
			}
			var missing, extra []string
			for n := range want {
				if _, ok := got[n]; !ok {
					missing = append(missing, n)
				}
			}
			for n := range got {
				if _, ok := want[n]; !ok {
					extra = append(extra, n)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing)+len(extra) > 0 {
				t.Fatalf("missing tensors %v, unexpected tensors %v", missing, extra)
			}
			for n, w := range want {
				g := got[n]
				if !slices.Equal(g.shape, w.shape) {
					t.Errorf("%s: shape %v, want %v", n, g.shape, w.shape)
					continue
				}
				for i := range w.v {
					if math.Float32bits(g.v[i]) != math.Float32bits(w.v[i]) {
						t.Errorf("%s: element %d is %g, want %g", n, i, g.v[i], w.v[i])
						break
					}
				}
			}

			ref := readRef(t, src)
			m, err := runtime.Load(out, runtime.WithThreads(2))
			if errors.Is(err, runtime.ErrUnsupported) {
				t.Skipf("layout and values checked; the runtime cannot run this model yet: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			rel, matched := numerics(t, m, ref)
			t.Logf("%s converted: max |Δlogit| / max |logit| = %.3g, greedy %d/%d", c.dir, rel, matched, len(ref.greedy))
			if rel > 1e-4 {
				t.Errorf("max |Δlogit| is %.3g of the largest logit, want ≤ 1e-4", rel)
			}
			if matched != len(ref.greedy) {
				t.Errorf("greedy decoding matched %d of %d steps", matched, len(ref.greedy))
			}
		})
	}
}

// TestOpenSourceFamilies runs each checkpoint unconverted, through the
// tensors OpenSource serves, against the same reference.
func TestOpenSourceFamilies(t *testing.T) {
	for _, c := range familyCases {
		t.Run(c.dir, func(t *testing.T) {
			src := filepath.Join(familyFixtures, c.dir)
			cfg, w, err := convert.OpenSource(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if cfg.Architecture != c.adapter {
				t.Errorf("architecture %q, want %q", cfg.Architecture, c.adapter)
			}
			// The served tensors are the same expectations as a conversion.
			want := expectedTensors(t, c.dir, src, readFloats(t, filepath.Join(src, "model.safetensors")))
			if names := w.Names(); len(names) != len(want) {
				t.Errorf("OpenSource serves %d tensors, want %d", len(names), len(want))
			}
			for n, x := range want {
				st, err := w.Tensor(n)
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				if !slices.Equal(st.Shape, x.shape) {
					t.Fatalf("%s: shape %v, want %v", n, st.Shape, x.shape)
				}
				var v []float32
				switch st.DType {
				case symb.F32:
					v, err = st.Float32s()
				case symb.BF16:
					var u []uint16
					u, err = st.Uint16s()
					for _, b := range u {
						v = append(v, math.Float32frombits(uint32(b)<<16))
					}
				default:
					t.Fatalf("%s: dtype %s from a BF16 checkpoint", n, st.DType)
				}
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				if !slices.Equal(v, x.v) {
					t.Errorf("%s: values differ from the checkpoint's", n)
				}
			}
			m, err := runtime.New(cfg, w, runtime.WithThreads(2))
			if errors.Is(err, runtime.ErrUnsupported) {
				t.Skipf("tensors checked; the runtime cannot run this model yet: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ref := readRef(t, src)
			rel, matched := numerics(t, m, ref)
			t.Logf("%s unconverted: max |Δlogit| / max |logit| = %.3g, greedy %d/%d", c.dir, rel, matched, len(ref.greedy))
			if rel > 1e-4 || matched != len(ref.greedy) {
				t.Errorf("relative logit error %.3g (want ≤ 1e-4), greedy %d/%d", rel, matched, len(ref.greedy))
			}
		})
	}
}
