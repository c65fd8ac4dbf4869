// Package synth writes synthetic Hugging Face Llama checkpoints: random
// weights with real model shapes, in the exact file layout transformers
// produces (config.json, model.safetensors or shards with
// model.safetensors.index.json). They exercise the converter at full size
// without downloading anything.
//
// Files are written streaming, a buffer at a time, so an 8B checkpoint
// (16 GB in bf16) needs a few megabytes of memory.
package synth

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Shape is the geometry of a Llama-family model.
type Shape struct {
	Name         string
	Hidden       int
	Intermediate int
	Layers       int
	Heads        int
	KVHeads      int
	Vocab        int
	Tied         bool
	Llama3Rope   bool // rope_theta 500000 with llama3 rope_scaling, as Llama 3.1/3.2
}

// Shapes lists the named shapes, smallest first.
func Shapes() []Shape {
	return []Shape{
		{Name: "tiny", Hidden: 64, Intermediate: 192, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 256, Tied: false, Llama3Rope: true},
		{Name: "small", Hidden: 512, Intermediate: 1536, Layers: 4, Heads: 8, KVHeads: 4, Vocab: 8192, Tied: true, Llama3Rope: true},
		{Name: "llama-3.2-1b", Hidden: 2048, Intermediate: 8192, Layers: 16, Heads: 32, KVHeads: 8, Vocab: 128256, Tied: true, Llama3Rope: true},
		{Name: "llama-3.1-8b", Hidden: 4096, Intermediate: 14336, Layers: 32, Heads: 32, KVHeads: 8, Vocab: 128256, Tied: false, Llama3Rope: true},
	}
}

// Lookup finds a named shape.
func Lookup(name string) (Shape, error) {
	var names []string
	for _, s := range Shapes() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Shape{}, fmt.Errorf("unknown shape %q (known: %s)", name, strings.Join(names, ", "))
}

// DType is the storage type of the generated weights.
type DType string

// Storage types.
const (
	BF16 DType = "BF16"
	F16  DType = "F16"
	F32  DType = "F32"
)

func (d DType) size() int {
	if d == F32 {
		return 4
	}
	return 2
}

func (d DType) torch() string {
	switch d {
	case F16:
		return "float16"
	case F32:
		return "float32"
	}
	return "bfloat16"
}

// DefaultShardBytes is where transformers' save_pretrained cuts shards
// (max_shard_size "5GB").
const DefaultShardBytes = 5_000_000_000

type options struct {
	seed       uint64
	dtype      DType
	shardBytes int64
}

// Option configures Write; an option given a value it cannot take makes
// Write fail before anything is written.
type Option func(*options) error

// WithSeed sets the random seed (default 1).
func WithSeed(seed uint64) Option { return func(o *options) error { o.seed = seed; return nil } }

// WithDType sets the storage type (default BF16): BF16, F16 or F32.
func WithDType(d DType) Option {
	return func(o *options) error {
		if d != BF16 && d != F16 && d != F32 {
			return fmt.Errorf("synth: dtype %q (want BF16, F16 or F32)", d)
		}
		o.dtype = d
		return nil
	}
}

// WithShardBytes sets the shard size limit (default DefaultShardBytes),
// which must be positive. A checkpoint that fits in one shard is written
// as model.safetensors.
func WithShardBytes(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("synth: shard size %d bytes, want a positive size", n)
		}
		o.shardBytes = n
		return nil
	}
}

// tensor is one weight to generate.
type tensor struct {
	name  string
	shape []int
	norm  bool // values around 1 instead of around 0
}

func (t tensor) elems() int64 {
	n := int64(1)
	for _, d := range t.shape {
		n *= int64(d)
	}
	return n
}

// Tensors lists the checkpoint's tensors in the order transformers'
// state_dict has them.
func (s Shape) tensors() []tensor {
	hd := s.Hidden / s.Heads
	q, kv := s.Heads*hd, s.KVHeads*hd
	ts := []tensor{{name: "model.embed_tokens.weight", shape: []int{s.Vocab, s.Hidden}}}
	for i := range s.Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		ts = append(ts,
			tensor{name: p + "self_attn.q_proj.weight", shape: []int{q, s.Hidden}},
			tensor{name: p + "self_attn.k_proj.weight", shape: []int{kv, s.Hidden}},
			tensor{name: p + "self_attn.v_proj.weight", shape: []int{kv, s.Hidden}},
			tensor{name: p + "self_attn.o_proj.weight", shape: []int{s.Hidden, q}},
			tensor{name: p + "mlp.gate_proj.weight", shape: []int{s.Intermediate, s.Hidden}},
			tensor{name: p + "mlp.up_proj.weight", shape: []int{s.Intermediate, s.Hidden}},
			tensor{name: p + "mlp.down_proj.weight", shape: []int{s.Hidden, s.Intermediate}},
			tensor{name: p + "input_layernorm.weight", shape: []int{s.Hidden}, norm: true},
			tensor{name: p + "post_attention_layernorm.weight", shape: []int{s.Hidden}, norm: true},
		)
	}
	ts = append(ts, tensor{name: "model.norm.weight", shape: []int{s.Hidden}, norm: true})
	if !s.Tied {
		ts = append(ts, tensor{name: "lm_head.weight", shape: []int{s.Vocab, s.Hidden}})
	}
	return ts
}

// Bytes is the size of the weights in dtype d.
func (s Shape) Bytes(d DType) int64 {
	var n int64
	for _, t := range s.tensors() {
		n += t.elems() * int64(d.size())
	}
	return n
}

// Write creates dir (which must not exist yet) holding a checkpoint of
// shape s: config.json, and model.safetensors or shards with an index.
func Write(ctx context.Context, dir string, s Shape, opts ...Option) error {
	o := options{seed: 1, dtype: BF16, shardBytes: DefaultShardBytes}
	for _, f := range opts {
		if err := f(&o); err != nil {
			return err
		}
	}
	if s.Heads <= 0 || s.Hidden%s.Heads != 0 || s.KVHeads <= 0 || s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("synth: shape %s: heads %d / kv heads %d do not divide hidden %d", s.Name, s.Heads, s.KVHeads, s.Hidden)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := writeConfig(dir, s, o.dtype); err != nil {
		return err
	}
	// Cut shards the way save_pretrained does: add tensors in order while
	// the shard stays under the limit; a tensor larger than the limit gets
	// a shard of its own.
	ts := s.tensors()
	var shards [][]tensor
	var cur []tensor
	var size int64
	for _, t := range ts {
		b := t.elems() * int64(o.dtype.size())
		if len(cur) > 0 && size+b > o.shardBytes {
			shards = append(shards, cur)
			cur, size = nil, 0
		}
		cur = append(cur, t)
		size += b
	}
	shards = append(shards, cur)

	weightMap := map[string]string{}
	var total int64
	for i, sh := range shards {
		name := "model.safetensors"
		if len(shards) > 1 {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		}
		n, err := writeShard(ctx, filepath.Join(dir, name), sh, o)
		if err != nil {
			return err
		}
		total += n
		for _, t := range sh {
			weightMap[t.name] = name
		}
	}
	if len(shards) == 1 {
		return nil
	}
	idx := map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), append(b, '\n'), 0o644)
}

func writeConfig(dir string, s Shape, d DType) error {
	c := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"attention_bias":          false,
		"mlp_bias":                false,
		"hidden_act":              "silu",
		"hidden_size":             s.Hidden,
		"intermediate_size":       s.Intermediate,
		"num_hidden_layers":       s.Layers,
		"num_attention_heads":     s.Heads,
		"num_key_value_heads":     s.KVHeads,
		"head_dim":                s.Hidden / s.Heads,
		"vocab_size":              s.Vocab,
		"max_position_embeddings": 131072,
		"rms_norm_eps":            1e-5,
		"rope_theta":              10000.0,
		"tie_word_embeddings":     s.Tied,
		"torch_dtype":             d.torch(),
		"bos_token_id":            min(1, s.Vocab-1),
		"eos_token_id":            min(2, s.Vocab-1),
	}
	if s.Vocab > 128001 {
		c["bos_token_id"], c["eos_token_id"] = 128000, 128001
	}
	if s.Llama3Rope {
		c["rope_theta"] = 500000.0
		c["rope_scaling"] = map[string]any{
			"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
			"high_freq_factor": 4.0, "original_max_position_embeddings": 8192,
		}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}

// writeShard streams one safetensors file: 8-byte little-endian header
// length, JSON header padded with spaces to a multiple of 8, then the data
// of each tensor in header order. It returns the data bytes written.
func writeShard(ctx context.Context, path string, ts []tensor, o options) (int64, error) {
	type entry struct {
		DType       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	// Data in name order, as the safetensors writer lays it out for one dtype.
	sorted := append([]tensor(nil), ts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	hdr := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int64
	for _, t := range sorted {
		n := t.elems() * int64(o.dtype.size())
		hdr[t.name] = entry{DType: string(o.dtype), Shape: t.shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return 0, err
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hb)))
	w.Write(lenb[:])
	w.Write(hb)
	buf := make([]byte, 1<<20)
	for _, t := range sorted {
		if err := ctx.Err(); err != nil {
			f.Close()
			return 0, err
		}
		g := newGen(o.seed, t.name)
		scale, center := float32(0.02), float32(0)
		if t.norm {
			scale, center = 0.1, 1
		}
		for left := t.elems(); left > 0; {
			n := min(left, int64(len(buf)/o.dtype.size()))
			g.fill(buf[:n*int64(o.dtype.size())], o.dtype, scale, center)
			if _, err := w.Write(buf[:n*int64(o.dtype.size())]); err != nil {
				f.Close()
				return 0, fmt.Errorf("%s: %w", path, err)
			}
			left -= n
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return off, f.Close()
}

// gen is a wyrand generator: fast, and good enough for test weights.
type gen struct{ s uint64 }

func newGen(seed uint64, name string) *gen {
	h := seed ^ 0x9e3779b97f4a7c15
	for _, c := range []byte(name) {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	return &gen{s: h}
}

func (g *gen) next() uint64 {
	g.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(g.s, g.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// fill writes len(b)/size values of roughly normal shape (sum of four
// uniforms) with standard deviation scale around center.
func (g *gen) fill(b []byte, d DType, scale, center float32) {
	// Sum of four uniform 16-bit values: mean 2·65535, std ≈ 37837.
	k := scale / 37837
	for i := 0; i < len(b); i += d.size() {
		r := g.next()
		sum := float32(r&0xffff + r>>16&0xffff + r>>32&0xffff + r>>48)
		v := center + (sum-131070)*k
		switch d {
		case F32:
			binary.LittleEndian.PutUint32(b[i:], math.Float32bits(v))
		case F16:
			binary.LittleEndian.PutUint16(b[i:], f16(v))
		default:
			u := math.Float32bits(v)
			u += 0x7fff + (u>>16)&1 // round to nearest even
			binary.LittleEndian.PutUint16(b[i:], uint16(u>>16))
		}
	}
}

// f16 converts a small normal float32 (|v| < 65504, no NaN) to float16 by
// rounding to nearest; values below the normal range flush to zero, which is
// fine for test weights.
func f16(v float32) uint16 {
	u := math.Float32bits(v)
	sign := uint16(u>>16) & 0x8000
	e := int32(u>>23&0xff) - 127 + 15
	if e <= 0 {
		return sign
	}
	m := u & 0x7fffff
	h := uint32(e)<<10 | m>>13
	if rem := m & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
