// Package sttest reads safetensors files in tests through the
// nlpodyssey/safetensors library, an implementation independent of the
// converter's own reader, so that a test compares symbc against someone
// else's decoding. Failures end the calling test.
package sttest

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/symbc/symbc/quantize"
)

// Read parses the safetensors file at path.
func Read(t testing.TB, path string) safetensors.SafeTensors {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Deserialize(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st
}

// Tensor is one tensor of a file: its dtype, shape and bytes, and for the
// float dtypes (F32, F16, BF16) its values as float32.
type Tensor struct {
	DType safetensors.DType
	Shape []int
	Raw   []byte
	F32   []float32
}

// ReadAll decodes every tensor of the file at path, by name.
func ReadAll(t testing.TB, path string) map[string]*Tensor {
	t.Helper()
	out := map[string]*Tensor{}
	for _, nt := range Read(t, path).Tensors() {
		out[nt.Name] = Decode(nt.TensorView)
	}
	return out
}

// Decode copies a view (whose data may be unaligned) into a Tensor.
func Decode(v safetensors.TensorView) *Tensor {
	x := &Tensor{DType: v.DType(), Raw: append([]byte(nil), v.Data()...)}
	for _, d := range v.Shape() {
		x.Shape = append(x.Shape, int(d))
	}
	raw := x.Raw
	switch v.DType() {
	case safetensors.F32:
		for i := 0; i+3 < len(raw); i += 4 {
			x.F32 = append(x.F32, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
		}
	case safetensors.BF16:
		for i := 0; i+1 < len(raw); i += 2 {
			x.F32 = append(x.F32, quantize.BF16ToF32(binary.LittleEndian.Uint16(raw[i:])))
		}
	case safetensors.F16:
		for i := 0; i+1 < len(raw); i += 2 {
			x.F32 = append(x.F32, quantize.F16ToF32(binary.LittleEndian.Uint16(raw[i:])))
		}
	}
	return x
}

// Reference is a fixture's reference.safetensors, written by HF
// transformers: the input ids, their float32 logits, and a greedy
// continuation (greedy_ids) of a prompt (prompt_ids).
type Reference struct {
	Input, Prompt, Greedy []int
	Logits                []float32
}

// ReadReference reads dir/reference.safetensors.
func ReadReference(t testing.TB, dir string) Reference {
	t.Helper()
	p := filepath.Join(dir, "reference.safetensors")
	ts := ReadAll(t, p)
	ids := func(name string) []int {
		x := ts[name]
		if x == nil || x.DType != safetensors.I64 {
			t.Fatalf("%s: no I64 tensor %s", p, name)
		}
		out := make([]int, 0, len(x.Raw)/8)
		for d := x.Raw; len(d) >= 8; d = d[8:] {
			out = append(out, int(int64(binary.LittleEndian.Uint64(d))))
		}
		return out
	}
	lg := ts["logits"]
	if lg == nil || lg.DType != safetensors.F32 {
		t.Fatalf("%s: no F32 logits", p)
	}
	return Reference{Input: ids("input_ids"), Prompt: ids("prompt_ids"), Greedy: ids("greedy_ids"), Logits: lg.F32}
}
