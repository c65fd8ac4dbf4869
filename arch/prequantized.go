package arch

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// ScaleSuffix turns a weight's checkpoint name into the name of its block
// factors in a fine-grained FP8 checkpoint ("….weight" →
// "….weight_scale_inv").
const ScaleSuffix = "_scale_inv"

// maxBlock bounds weight_block_size; real checkpoints use 128.
const maxBlock = 1 << 20

// Prequantized reads config.json's quantization_config. A float checkpoint
// (no quantization_config) gives nil. quant_method "fp8" (fine-grained FP8:
// DeepSeek-V3's release, Qwen3-*-FP8 and others) gives the block layout of
// the weight_scale_inv factors, which the converter multiplies back in, so
// the family's adapter needs to know nothing about it. Any other method
// (gptq, awq, bitsandbytes, ...) stores integer codes whose layout this
// converter does not decode, and is refused naming the method.
func Prequantized(hf *HFConfig) (*BlockScale, error) {
	if !hf.Has("quantization_config") {
		return nil, nil
	}
	var q struct {
		Method     *string `json:"quant_method"`
		Activation *string `json:"activation_scheme"`
		Fmt        *string `json:"fmt"`
	}
	var keys map[string]json.RawMessage // to tell an absent key from null
	if err := hf.obj("quantization_config", &q); err != nil {
		return nil, err
	}
	if err := hf.obj("quantization_config", &keys); err != nil {
		return nil, err
	}
	if q.Method == nil {
		return nil, hf.configError("quantization_config has no quant_method")
	}
	if m := strings.ToLower(*q.Method); m != "fp8" {
		return nil, hf.unsupported("quantization_config: quant_method %q: pre-quantized checkpoints are read only for fp8 (block-scaled); convert the float (BF16/F16/F32) release", *q.Method)
	}
	// transformers accepts only dynamic activation scaling for fp8; a
	// static scheme ships input scales this converter has no use for.
	if q.Activation != nil && strings.ToLower(*q.Activation) != "dynamic" {
		return nil, hf.unsupported("quantization_config: fp8 activation_scheme %q (only dynamic is supported)", *q.Activation)
	}
	// fmt is informative (the tensors' dtype decides the decoding), but a
	// format other than the two FP8 ones would be a different scheme.
	if q.Fmt != nil && *q.Fmt != "e4m3" && *q.Fmt != "e5m2" {
		return nil, hf.unsupported("quantization_config: fp8 fmt %q (want e4m3 or e5m2)", *q.Fmt)
	}
	// FineGrainedFP8Config defaults weight_block_size to (128, 128).
	block := []int{128, 128}
	if raw, ok := keys["weight_block_size"]; ok {
		if strings.TrimSpace(string(raw)) == "null" {
			return nil, hf.unsupported("quantization_config: fp8 with weight_block_size null (one scale per tensor) is not supported; only block-scaled fp8 is")
		}
		block = nil
		if err := json.Unmarshal(raw, &block); err != nil {
			return nil, hf.configError("quantization_config: weight_block_size: %v", err)
		}
	}
	if len(block) != 2 || slices.ContainsFunc(block, func(b int) bool { return b < 1 || b > maxBlock }) {
		return nil, hf.configError("quantization_config: weight_block_size is %v, want two block sizes in 1..%d", block, maxBlock)
	}
	return &BlockScale{Rows: block[0], Cols: block[1]}, nil
}

// checkQuantization is the adapters' guard: the hyperparameters do not
// depend on the weights' storage, but an unreadable one must fail before
// any weight is fetched.
func checkQuantization(hf *HFConfig) error {
	_, err := Prequantized(hf)
	return err
}

// DequantizeFP8 rewrites a mapping list for a fine-grained FP8 checkpoint
// with block layout b. Every source for which scaled reports a sibling
// name+ScaleSuffix tensor gets that tensor as an extra source (with the
// shape b implies) and is multiplied by it before the mapping's own
// transform runs, so the output is the dequantized weight and the factors
// count as used. Whether a weight is scaled is read from the checkpoint, as
// transformers does: norms, embeddings, lm_head and routers stay float and
// have no factors, and modules_to_not_convert need no special case.
func DequantizeFP8(ms []Mapping, b BlockScale, scaled func(source string) bool) []Mapping {
	out := make([]Mapping, len(ms))
	for i, m := range ms {
		flags := make([]bool, len(m.Sources))
		var srcs []Source
		hit := false
		for j, s := range m.Sources {
			srcs = append(srcs, s)
			if !scaled(s.Name) {
				continue
			}
			flags[j], hit = true, true
			shape := b.ScaleShape(s.Shape)
			if shape == nil {
				// Not a matrix: let BlockScale.Apply report it against
				// the checkpoint's actual shapes.
				shape = slices.Clone(s.Shape)
			}
			srcs = append(srcs, Source{Name: s.Name + ScaleSuffix, Shape: shape})
		}
		if !hit {
			out[i] = m
			continue
		}
		m.Sources = srcs
		m.Transform = Dequantized{Scale: b, Scaled: flags, Then: m.Transform}
		out[i] = m
	}
	return out
}

// Dequantized multiplies the sources marked in Scaled by their block factors
// (each marked source is followed by its factors in the source list), then
// applies Then to the results (nil: the single result as it is).
type Dequantized struct {
	Scale  BlockScale
	Scaled []bool // one per source of the original mapping
	Then   Transform
}

func (t Dequantized) String() string {
	if t.Then == nil {
		return t.Scale.String()
	}
	return t.Scale.String() + " → " + t.Then.String()
}

// Apply implements Transform.
func (t Dequantized) Apply(src []Reader) (Reader, error) {
	want := len(t.Scaled)
	for _, s := range t.Scaled {
		if s {
			want++
		}
	}
	if len(src) != want {
		return nil, fmt.Errorf("%s takes %d sources, got %d", t, want, len(src))
	}
	in := make([]Reader, 0, len(t.Scaled))
	k := 0
	for _, s := range t.Scaled {
		if !s {
			in = append(in, src[k])
			k++
			continue
		}
		r, err := t.Scale.Apply(src[k : k+2])
		if err != nil {
			return nil, err
		}
		in = append(in, r)
		k += 2
	}
	if t.Then == nil {
		if len(in) != 1 {
			return nil, fmt.Errorf("%s without a transform takes 1 weight, got %d", t, len(in))
		}
		return in[0], nil
	}
	return t.Then.Apply(in)
}
