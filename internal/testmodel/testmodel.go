// Package testmodel writes .symb model folders of random weights with real
// headers, config and manifest: the shapes of a real model without the cost
// of converting one. Tests across the module and the registry benchmarks use
// it; the tensors come from the format's table (symb.ModelConfig.Tensors),
// so a folder is always complete for its config.
package testmodel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/symb"
)

// Spec describes the folder to write.
type Spec struct {
	Layers, Hidden, Intermediate, Vocab int
	Heads, KVHeads                      int
	Experts                             int // routed experts per layer; 0 for dense MLPs
	Weights                             symb.DType
	Embeddings                          symb.DType
	GroupSize                           int
	Seed                                uint64
	Verify                              string // verify.json content, when not empty
}

// Tiny is a two-layer model of a dozen files.
var Tiny = Spec{Layers: 2, Hidden: 64, Intermediate: 128, Vocab: 256, Heads: 4, KVHeads: 2,
	Weights: symb.INT4, Embeddings: symb.F16, GroupSize: 32, Seed: 1}

// MoE has more than 256 files: 2 layers of 48 experts.
var MoE = Spec{Layers: 2, Hidden: 64, Intermediate: 64, Vocab: 256, Heads: 4, KVHeads: 2, Experts: 48,
	Weights: symb.INT4, Embeddings: symb.F16, GroupSize: 32, Seed: 2}

// OneB has the tensor shapes of Llama 3.2 1B with INT4 weights and
// embeddings: 113 files, about 700 MB.
var OneB = Spec{Layers: 16, Hidden: 2048, Intermediate: 8192, Vocab: 128256, Heads: 32, KVHeads: 8,
	Weights: symb.INT4, Embeddings: symb.INT4, GroupSize: 32, Seed: 3}

// Write creates dir (which must not exist or be empty) and fills it: the
// config, every tensor file the format's table implies for it (linear
// weights and the LM head in Weights, embeddings in Embeddings, routers F16,
// norms and biases F32), a tokenizer stub and the manifest.
func Write(ctx context.Context, dir string, s Spec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewChaCha8(seed(s.Seed)))
	c := config(s)
	if err := symb.WriteConfig(dir, c); err != nil {
		return err
	}
	ts, err := c.Model.Tensors()
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := ctx.Err(); err != nil {
			return err
		}
		in := symb.Info{DType: symb.F32, Shape: t.Shape}
		switch t.Role {
		case symb.RoleLinear, symb.RoleLMHead:
			in.DType = s.Weights
		case symb.RoleEmbedding:
			in.DType = s.Embeddings
		case symb.RoleRouter:
			in.DType = symb.F16
		}
		if in.DType.Quantized() {
			in.Scheme, in.GroupSize = symb.SchemeSym, s.GroupSize
		}
		p := symb.TensorPath(dir, t.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := writeRandom(p, in, rng); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tokenizer"), 0o755); err != nil {
		return err
	}
	tok := fmt.Sprintf(`{"version":"1.0","model":{"type":"BPE","vocab_size":%d}}`+"\n", s.Vocab)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer", "tokenizer.json"), []byte(tok), 0o644); err != nil {
		return err
	}
	if s.Verify != "" {
		if err := os.WriteFile(filepath.Join(dir, symb.ReportFile), []byte(s.Verify), 0o644); err != nil {
			return err
		}
	}
	m, err := symb.BuildManifest(ctx, dir, 0)
	if err != nil {
		return err
	}
	return symb.WriteManifest(dir, m)
}

func seed(s uint64) (out [32]byte) {
	for i := range 8 {
		out[i] = byte(s >> (8 * i))
	}
	return out
}

// writeRandom fills a tensor's sections with random bytes, 4 MiB at a time.
func writeRandom(p string, in symb.Info, rng *rand.Rand) error {
	w, err := symb.Create(p, in)
	if err != nil {
		return err
	}
	h := w.Header()
	buf := make([]byte, 4<<20)
	for i, sec := range []struct {
		size  int64
		write func(int64, []byte) error
	}{{h.DataSize, w.WriteData}, {h.ScalesSize, w.WriteScales}, {h.MinsSize, w.WriteMins}} {
		for off := int64(0); off < sec.size; {
			n := min(int64(len(buf)), sec.size-off)
			fill(buf[:n], rng, i > 0)
			if err := sec.write(off, buf[:n]); err != nil {
				w.Abort()
				return err
			}
			off += n
		}
	}
	return w.Commit()
}

// fill writes random bytes; scales and mins get small positive float16
// values so the folder is also numerically sane.
func fill(b []byte, rng *rand.Rand, f16 bool) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		if f16 {
			v = v&0x03ff03ff03ff03ff | 0x2000200020002000
		}
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(rng.Uint32())
	}
}

// config is the config.symb.json of s: a tied Llama-layout model.
func config(s Spec) *symb.Config {
	headDim := s.Hidden / s.Heads
	bos := 1
	q := symb.Quantization{Weights: s.Weights.String(), Embeddings: s.Embeddings.String(), Norms: "f32"}
	if s.Weights.Quantized() {
		q.Scheme, q.GroupSize, q.Method = "sym", s.GroupSize, "rtn"
	}
	c := &symb.Config{
		Architecture: "llama",
		Model: symb.ModelConfig{
			VocabSize: s.Vocab, HiddenSize: s.Hidden, IntermediateSize: s.Intermediate,
			NumLayers: s.Layers, NumHeads: s.Heads, NumKVHeads: s.KVHeads, HeadDim: headDim,
			MaxPositions: 2048, Norm: "rmsnorm", NormEps: 1e-5, Activation: "silu",
			RopeTheta: 10000, TieEmbeddings: true, BOSTokenID: &bos, EOSTokenIDs: []int{2},
		},
		Quantization: q,
		Source:       symb.Source{ID: "symbc-test/random-llama", Revision: "0000000", Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama", DType: "bfloat16"},
		Tool:         symb.Tool{Name: "symbc-testmodel", Version: "1"},
	}
	if s.Experts > 0 {
		c.Model.MoE = &symb.MoE{NumExperts: s.Experts, TopK: 2, ExpertIntermediate: s.Intermediate, Router: "softmax_topk"}
	}
	return c
}
