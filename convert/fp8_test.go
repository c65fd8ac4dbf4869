package convert_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/symb"
)

// These tests build fine-grained FP8 checkpoints the way DeepSeek-V3's
// release is laid out (projection weights as F8_E4M3 with per-block F32
// weight_scale_inv, everything else BF16, quantization_config fp8) from the
// test models, and check the conversion against a dequantization done here.

// e4m3Value decodes an FP8 E4M3 byte from the format's definition.
func e4m3Value(b byte) float64 {
	sign := 1.0
	if b&0x80 != 0 {
		sign = -1
	}
	e, m := int(b>>3)&0xF, float64(b&7)
	switch {
	case e == 0xF && m == 7:
		return math.NaN()
	case e == 0:
		return sign * m * math.Pow(2, -9)
	}
	return sign * (1 + m/8) * math.Pow(2, float64(e-7))
}

// e4m3 encodes f as FP8 E4M3, rounding to nearest with ties to even.
// Magnitudes beyond 464 (halfway from 448, the largest value, to the next
// step) become NaN, as a non-saturating cast does.
func e4m3(f float32) byte {
	var sign byte
	if math.Signbit(float64(f)) {
		sign = 0x80
	}
	a := math.Abs(float64(f))
	if math.IsNaN(a) || a > 464 {
		return sign | 0x7F
	}
	// The step between neighbouring values: 2^-9 below the smallest
	// normal (2^-6), else 2^(exponent-3).
	step := math.Pow(2, -9)
	if a >= math.Pow(2, -6) {
		step = math.Pow(2, math.Floor(math.Log2(a))-3)
	}
	v := math.RoundToEven(a/step) * step // exact: a/step has few bits
	if v < math.Pow(2, -6) {
		return sign | byte(v/math.Pow(2, -9))
	}
	exp := math.Floor(math.Log2(v)) // v may have rounded up a binade
	man := v/math.Pow(2, exp)*8 - 8
	return sign | byte(exp+7)<<3 | byte(man)
}

func TestE4M3Encoder(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want byte
	}{
		{1, 0x38}, {2, 0x40}, {448, 0x7E}, {-448, 0xFE}, {float32(math.Pow(2, -9)), 0x01}, {float32(math.Copysign(0, -1)), 0x80},
		{0, 0x00}, {float32(math.NaN()), 0x7F},
		{1.0625, 0x38},           // tie between 1 (even) and 1.125
		{1.1875, 0x3A},           // tie between 1.125 and 1.25 (even)
		{464, 0x7E}, {465, 0x7F}, // tie to 448 (even); past it, NaN
		{float32(math.Pow(2, -10)), 0x00},      // half the smallest subnormal: to even zero
		{float32(3 * math.Pow(2, -10)), 0x02},  // tie between 2^-9 and 2^-8 (even)
		{float32(15 * math.Pow(2, -10)), 0x08}, // rounds up into the first normal binade
		{15.5, 0x58},                           // 15 and 16 tie to 16 (even mantissa 0)
	} {
		if got := e4m3(c.f); got != c.want {
			t.Errorf("e4m3(%g) = %#02x, want %#02x", c.f, got, c.want)
		}
	}
	for b := range 256 {
		v := e4m3Value(byte(b))
		if math.IsNaN(v) {
			continue
		}
		if got := e4m3(float32(v)); got != byte(b) {
			t.Errorf("e4m3(%g) = %#02x, want %#02x", v, got, b)
		}
	}
}

// stEntry is a tensor for writeSafetensors.
type stEntry struct {
	dtype string
	shape []int
	data  []byte
}

// writeSafetensors writes a safetensors file; the test's own writer,
// because the library cannot write F8 dtypes.
func writeSafetensors(t *testing.T, path string, ts map[string]stEntry) {
	t.Helper()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, n := range names {
		e := ts[n]
		header[n] = map[string]any{"dtype": e.dtype, "shape": e.shape, "data_offsets": []int{len(data), len(data) + len(e.data)}}
		data = append(data, e.data...)
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// isProjection picks the weights DeepSeek-V3's release stores as FP8: the
// linear projections. Norms, embeddings, lm_head and routers stay BF16.
func isProjection(name string) bool {
	return strings.HasSuffix(name, "_proj.weight") || strings.HasSuffix(name, "_proj_with_mqa.weight")
}

// fp8Case builds, from fixture family, an FP8 checkpoint (block rows ×
// cols) and an F32 checkpoint of the same weights dequantized here. It
// returns both folders and the dequantized tensors by checkpoint name.
func fp8Case(t *testing.T, family string, br, bc int) (fp8Dir, refDir string, deq map[string]ftensor) {
	t.Helper()
	src := filepath.Join(familyFixtures, family)
	floats := readFloats(t, filepath.Join(src, "model.safetensors"))
	fp8Dir, refDir = filepath.Join(t.TempDir(), "fp8"), filepath.Join(t.TempDir(), "ref")
	fp8, ref := map[string]stEntry{}, map[string]stEntry{}
	deq = map[string]ftensor{}
	quantized := 0
	for name, x := range floats {
		if !isProjection(name) {
			// Embeddings, norms and routers stay BF16, as in the release
			// (the fixtures are BF16, so this is exact).
			b := make([]byte, 0, 2*len(x.v))
			for _, v := range x.v {
				b = binary.LittleEndian.AppendUint16(b, uint16(math.Float32bits(v)>>16))
			}
			fp8[name] = stEntry{dtype: "BF16", shape: x.shape, data: b}
			ref[name] = stEntry{dtype: "F32", shape: x.shape, data: f32Bytes(x.v)}
			deq[name] = x
			continue
		}
		quantized++
		rows, cols := x.shape[0], x.shape[1]
		sr, sc := (rows+br-1)/br, (cols+bc-1)/bc
		scales := make([]float32, sr*sc)
		codes := make([]byte, rows*cols)
		d := ftensor{shape: x.shape, v: make([]float32, rows*cols)}
		for bi := range sr {
			for bj := range sc {
				var amax float32
				for r := bi * br; r < min((bi+1)*br, rows); r++ {
					for c := bj * bc; c < min((bj+1)*bc, cols); c++ {
						amax = max(amax, float32(math.Abs(float64(x.v[r*cols+c]))))
					}
				}
				s := amax / 448
				if s == 0 {
					s = 1
				}
				scales[bi*sc+bj] = s
				for r := bi * br; r < min((bi+1)*br, rows); r++ {
					for c := bj * bc; c < min((bj+1)*bc, cols); c++ {
						q := e4m3(x.v[r*cols+c] / s)
						codes[r*cols+c] = q
						d.v[r*cols+c] = float32(e4m3Value(q)) * s
					}
				}
			}
		}
		fp8[name] = stEntry{dtype: "F8_E4M3", shape: x.shape, data: codes}
		fp8[name+"_scale_inv"] = stEntry{dtype: "F32", shape: []int{sr, sc}, data: f32Bytes(scales)}
		ref[name] = stEntry{dtype: "F32", shape: x.shape, data: f32Bytes(d.v)}
		deq[name] = d
	}
	if quantized == 0 {
		t.Fatalf("%s: no projection weights to quantize", family)
	}
	for _, dir := range []string{fp8Dir, refDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeSafetensors(t, filepath.Join(fp8Dir, "model.safetensors"), fp8)
	writeSafetensors(t, filepath.Join(refDir, "model.safetensors"), ref)
	cfg := hfConfig(t, src)
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(refDir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg["quantization_config"] = map[string]any{"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": []int{br, bc}}
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(fp8Dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return fp8Dir, refDir, deq
}

func TestConvertFP8(t *testing.T) {
	f32, err := convert.PolicyRequest{Quantize: "f32"}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	bf16, err := convert.PolicyRequest{Quantize: "bf16"}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name, family string
		br, bc       int
	}{
		{"llama3 128x128", "llama3", 128, 128}, // the release's blocks: partial at every edge here
		{"llama3 32x48", "llama3", 32, 48},
		{"deepseek 16x24", "deepseek", 16, 24},
	} {
		t.Run(c.name, func(t *testing.T) {
			fp8Dir, refDir, deq := fp8Case(t, c.family, c.br, c.bc)
			out := filepath.Join(t.TempDir(), "fp8.symb")
			if _, err := convert.Convert(ctx, fp8Dir, out, convert.WithPolicy(f32), convert.WithJobs(2)); err != nil {
				t.Fatal(err)
			}
			cfg, err := symb.ReadConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Quantization.Weights != "f32" || cfg.Source.DType != "bf16+f8_e4m3" {
				t.Errorf("quantization %+v, source dtype %q", cfg.Quantization, cfg.Source.DType)
			}

			// Every tensor equals the dequantization done here, bit for bit.
			want := expectedTensors(t, c.family, fp8Dir, deq)
			got := symbTensors(t, out)
			if len(got) != len(want) {
				t.Errorf("%d tensors, want %d", len(got), len(want))
			}
			for n, w := range want {
				g, ok := got[n]
				if !ok || !slices.Equal(g.shape, w.shape) {
					t.Errorf("%s: missing or shape %v, want %v", n, g.shape, w.shape)
					continue
				}
				for i := range w.v {
					if math.Float32bits(g.v[i]) != math.Float32bits(w.v[i]) {
						t.Errorf("%s: element %d is %g, want %g", n, i, g.v[i], w.v[i])
						break
					}
				}
			}

			// OpenSource serves the same values, the FP8 ones as F32.
			scfg, sw, err := convert.OpenSource(ctx, fp8Dir)
			if err != nil {
				t.Fatal(err)
			}
			defer sw.Close()
			projections := map[string]ftensor{}
			for n, x := range deq {
				if isProjection(n) {
					projections[n] = x
				}
			}
			fromFP8 := expectedTensors(t, c.family, fp8Dir, projections)
			if names := sw.Names(); len(names) != len(want) {
				t.Errorf("OpenSource serves %d tensors, want %d", len(names), len(want))
			}
			for n, w := range want {
				st, err := sw.Tensor(n)
				if err != nil {
					t.Fatal(err)
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
				}
				if _, ok := fromFP8[n]; ok && st.DType != symb.F32 {
					t.Errorf("OpenSource %s: dtype %s for a dequantized FP8 weight, want f32", n, st.DType)
				}
				if err != nil || !slices.Equal(v, w.v) {
					t.Errorf("OpenSource %s (%s): values differ from the dequantization (%v)", n, st.DType, err)
				}
			}

			// bf16 storage rounds the dequantized values: the same files
			// as converting the F32 checkpoint of those values.
			outB, refB := filepath.Join(t.TempDir(), "fp8-bf16.symb"), filepath.Join(t.TempDir(), "ref-bf16.symb")
			for _, p := range [][2]string{{fp8Dir, outB}, {refDir, refB}} {
				if _, err := convert.Convert(ctx, p[0], p[1], convert.WithPolicy(bf16), convert.WithJobs(2)); err != nil {
					t.Fatal(err)
				}
			}
			for n := range want {
				a, b := tensorData(t, outB, n), tensorData(t, refB, n)
				if !bytes.Equal(a, b) {
					t.Errorf("bf16 %s differs from the conversion of the dequantized F32 checkpoint", n)
				}
			}

			// The converted model, and the FP8 checkpoint run unconverted,
			// compute what the dequantized F32 checkpoint computes.
			ref := readRef(t, filepath.Join(familyFixtures, c.family))
			rcfg, rw, err := convert.OpenSource(ctx, refDir)
			if err != nil {
				t.Fatal(err)
			}
			defer rw.Close()
			refModel, err := runtime.New(rcfg, rw, runtime.WithThreads(2))
			if errors.Is(err, runtime.ErrUnsupported) {
				t.Skipf("tensors checked; the runtime cannot run this model yet: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer refModel.Close()
			wantLogits, err := refModel.NewSession().Forward(ctx, ref.input)
			if err != nil {
				t.Fatal(err)
			}
			conv, err := runtime.Load(out, runtime.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			defer conv.Close()
			direct, err := runtime.New(scfg, sw, runtime.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			defer direct.Close()
			for _, m := range []struct {
				what string
				m    *runtime.Model
			}{{"converted", conv}, {"unconverted", direct}} {
				logits, err := m.m.NewSession().Forward(ctx, ref.input)
				if err != nil {
					t.Fatal(err)
				}
				if len(logits) != len(wantLogits) {
					t.Fatalf("%s: %d logits, want %d", m.what, len(logits), len(wantLogits))
				}
				var diff, peak float64
				for i, w := range wantLogits {
					diff = max(diff, math.Abs(float64(logits[i])-float64(w)))
					peak = max(peak, math.Abs(float64(w)))
				}
				t.Logf("%s FP8 model: max |Δlogit| = %.3g of max |logit| %.3g", m.what, diff, peak)
				if diff > 1e-5*peak {
					t.Errorf("%s FP8 model: max |Δlogit| %.3g exceeds 1e-5 × %.3g", m.what, diff, peak)
				}
			}
		})
	}
}

// tensorData reads the data section of one .symb tensor of a model folder.
func tensorData(t *testing.T, dir, name string) []byte {
	t.Helper()
	f, err := symb.Open(symb.TensorPath(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return slices.Clone(f.Tensor().Data)
}

func TestFP8CheckpointErrors(t *testing.T) {
	const w = "model.layers.1.mlp.up_proj.weight"
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dir string)
		is   error
		want []string
	}{
		{
			name: "gptq quantization_config",
			edit: func(t *testing.T, dir string) {
				editConfig(t, dir, func(m map[string]any) {
					m["quantization_config"] = map[string]any{"quant_method": "gptq", "bits": 4, "group_size": 128}
				})
			},
			is: arch.ErrUnsupported, want: []string{"config.json", `"gptq"`},
		},
		{
			name: "weight without its scales",
			edit: func(t *testing.T, dir string) {
				editTensors(t, dir, func(ts map[string]stEntry) { delete(ts, w+"_scale_inv") })
			},
			is: convert.ErrCheckpoint, want: []string{w, "F8_E4M3", w + "_scale_inv"},
		},
		{
			name: "NaN code",
			edit: func(t *testing.T, dir string) {
				editTensors(t, dir, func(ts map[string]stEntry) { ts[w].data[3*64+5] = 0xFF }) // [192, 64]
			},
			is: quantize.ErrNonFinite, want: []string{w, "row 3, column 5"},
		},
		{
			name: "no quantization_config",
			edit: func(t *testing.T, dir string) {
				editConfig(t, dir, func(m map[string]any) { delete(m, "quantization_config") })
			},
			is: convert.ErrCheckpoint, want: []string{"model.safetensors", "F8_E4M3", "_scale_inv"},
		},
		{
			name: "scales for another block size",
			edit: func(t *testing.T, dir string) {
				editConfig(t, dir, func(m map[string]any) {
					m["quantization_config"].(map[string]any)["weight_block_size"] = []int{64, 64}
				})
			},
			is: convert.ErrCheckpoint, want: []string{"model.layers.0.self_attn.q_proj.weight_scale_inv", "has shape [2 2]", "implies [1 1]"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			fp8Dir, _, _ := fp8Case(t, "llama3", 32, 48)
			c.edit(t, fp8Dir)
			out := filepath.Join(t.TempDir(), "out")
			_, err := convert.Convert(context.Background(), fp8Dir, out)
			if !errors.Is(err, c.is) {
				t.Fatalf("error %v, want %v", err, c.is)
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("%s written after a failed conversion", out)
			}
			if c.is == quantize.ErrNonFinite {
				return // found while streaming; OpenSource reads no data up front
			}
			if _, _, err := convert.OpenSource(context.Background(), fp8Dir); !errors.Is(err, c.is) {
				t.Errorf("OpenSource: %v, want %v", err, c.is)
			}
		})
	}
}

func editConfig(t *testing.T, dir string, fn func(map[string]any)) {
	t.Helper()
	m := hfConfig(t, dir)
	fn(m)
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editTensors rewrites dir/model.safetensors with its tensors passed
// through fn.
func editTensors(t *testing.T, dir string, fn func(ts map[string]stEntry)) {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	ts := map[string]stEntry{}
	for k, v := range h {
		if k == "__metadata__" {
			continue
		}
		var e struct {
			DType   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets []int  `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatal(err)
		}
		ts[k] = stEntry{dtype: e.DType, shape: e.Shape, data: slices.Clone(b[8+int(n)+e.Offsets[0] : 8+int(n)+e.Offsets[1]])}
	}
	fn(ts)
	writeSafetensors(t, p, ts)
}
