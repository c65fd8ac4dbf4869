package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// benchWeight fills a tensor of the given layout with random codes and
// plausible scales; unlike makeWeight it keeps no reference copy, so that
// model-sized weights are cheap to build.
func benchWeight(b *testing.B, dt symb.DType, sc symb.Scheme, g, rows, cols int) *symb.Tensor {
	b.Helper()
	info := symb.Info{DType: dt, Scheme: sc, GroupSize: g, Shape: []int{rows, cols}}
	dn, sn, mn, err := info.SectionSizes()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
	w := &symb.Tensor{Name: "bench", Info: info, Data: make([]byte, dn), Scales: make([]byte, sn), Mins: make([]byte, mn)}
	le := binary.LittleEndian
	switch dt {
	case symb.F32:
		for i := 0; i < len(w.Data); i += 4 {
			le.PutUint32(w.Data[i:], math.Float32bits(float32(rng.NormFloat64()*0.02)))
		}
	case symb.F16:
		for i := 0; i < len(w.Data); i += 2 {
			le.PutUint16(w.Data[i:], floatToHalf(rng.NormFloat64()*0.02))
		}
	case symb.BF16:
		for i := 0; i < len(w.Data); i += 2 {
			le.PutUint16(w.Data[i:], uint16(math.Float32bits(float32(rng.NormFloat64()*0.02))>>16))
		}
	default:
		for i := 0; i < len(w.Data); i += 8 {
			le.PutUint64(w.Data[i:], rng.Uint64())
		}
		for i := 0; i < len(w.Scales); i += 2 {
			le.PutUint16(w.Scales[i:], floatToHalf(0.001+rng.Float64()*0.01))
		}
		for i := 0; i < len(w.Mins); i += 2 {
			le.PutUint16(w.Mins[i:], floatToHalf(rng.Float64()*0.02-0.01))
		}
	}
	return w
}

type benchKind struct {
	name string
	dt   symb.DType
	sc   symb.Scheme
	g    int
}

var benchKinds = []benchKind{
	{"int4g128", symb.INT4, symb.SchemeSym, 128},
	{"int4asym", symb.INT4, symb.SchemeAsym, 128},
	{"int8", symb.INT8, symb.SchemeSym, 128},
	{"f16", symb.F16, symb.SchemeNone, 0},
	{"bf16", symb.BF16, symb.SchemeNone, 0},
	{"f32", symb.F32, symb.SchemeNone, 0},
}

// benchShapes are the two MLP projections of Llama-3.2-1B as rows×cols.
var benchShapes = [][2]int{{8192, 2048}, {2048, 8192}}

func benchPools() []struct {
	name string
	p    *Pool
} {
	var out []struct {
		name string
		p    *Pool
	}
	for _, k := range Available() {
		for _, t := range []int{1, 2} {
			out = append(out, struct {
				name string
				p    *Pool
			}{fmt.Sprintf("%s_t%d", k, t), newPool(t, k)})
		}
	}
	return out
}

func weightBytes(w *symb.Tensor) int64 { return int64(len(w.Data) + len(w.Scales) + len(w.Mins)) }

// BenchmarkMatVec reports weight bytes read per second (the decode bound).
func BenchmarkMatVec(b *testing.B) {
	for _, k := range benchKinds {
		for _, sh := range benchShapes {
			var w *symb.Tensor
			for _, bp := range benchPools() {
				b.Run(fmt.Sprintf("%s_%dx%d/%s", k.name, sh[0], sh[1], bp.name), func(b *testing.B) {
					if w == nil {
						w = benchWeight(b, k.dt, k.sc, k.g, sh[0], sh[1])
					}
					x := randVec(rand.New(rand.NewPCG(1, 1)), sh[1])
					y := make([]float32, sh[0])
					b.SetBytes(weightBytes(w))
					c0 := cpuTime()
					for b.Loop() {
						bp.p.MatVec(y, x, w)
					}
					if c := cpuTime() - c0; c > 0 {
						b.ReportMetric(float64(weightBytes(w))*float64(b.N)/c.Seconds()/1e9, "GB/s/core")
					}
				})
			}
		}
	}
}

// BenchmarkMatMul reports GFLOP/s for a 128-token prefill step.
func BenchmarkMatMul(b *testing.B) {
	const n = 128
	for _, k := range []benchKind{benchKinds[0], benchKinds[3]} {
		for _, sh := range benchShapes {
			var w *symb.Tensor
			for _, bp := range benchPools() {
				b.Run(fmt.Sprintf("%s_n%d_%dx%d/%s", k.name, n, sh[0], sh[1], bp.name), func(b *testing.B) {
					if w == nil {
						w = benchWeight(b, k.dt, k.sc, k.g, sh[0], sh[1])
					}
					X := randVec(rand.New(rand.NewPCG(1, 1)), n*sh[1])
					Y := make([]float32, n*sh[0])
					b.SetBytes(weightBytes(w))
					c0 := cpuTime()
					for b.Loop() {
						bp.p.MatMul(Y, X, n, w)
					}
					flops := 2 * float64(n) * float64(sh[0]) * float64(sh[1]) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					if c := cpuTime() - c0; c > 0 {
						b.ReportMetric(flops/c.Seconds()/1e9, "GFLOP/s/core")
					}
				})
			}
		}
	}
}

// BenchmarkGemm4 measures the inner kernel alone: a 4×512 panel against 128
// packed inputs, everything in cache.
func BenchmarkGemm4(b *testing.B) {
	const k, nx, xs = 512, 126, 512 + xPad
	rng := rand.New(rand.NewPCG(1, 1))
	w, x := randVec(rng, 4*k), randVec(rng, nx*xs)
	y := make([]float32, nx*4)
	for _, set := range []Set{Generic, simdSet} {
		if set == simdSet && !haveSIMD {
			continue
		}
		p := newPool(1, set)
		b.Run(string(set), func(b *testing.B) {
			c0 := cpuTime()
			for b.Loop() {
				p.gemm4(w, k, x, xs, nx, k, y, 4)
			}
			b.ReportMetric(2*4*k*nx*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if c := cpuTime() - c0; c > 0 {
				b.ReportMetric(2*4*k*nx*float64(b.N)/c.Seconds()/1e9, "GFLOP/s/core")
			}
		})
	}
}

// BenchmarkExp compares Exp with math.Exp through float64.
func BenchmarkExp(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(1, 1)), 4096)
	b.Run("Exp", func(b *testing.B) {
		var s float32
		for b.Loop() {
			for _, v := range x {
				s += Exp(v)
			}
		}
		_ = s
	})
	b.Run("math.Exp", func(b *testing.B) {
		var s float32
		for b.Loop() {
			for _, v := range x {
				s += float32(math.Exp(float64(v)))
			}
		}
		_ = s
	})
}

// BenchmarkSiLUMul measures the gated activation over one 8192-wide MLP row
// (Llama-3.2-1B's intermediate size): the vector kernel where there is one,
// and the portable loop.
func BenchmarkSiLUMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, up := randVec(rng, 8192), randVec(rng, 8192)
	g := make([]float32, len(x))
	for _, f := range []struct {
		name string
		fn   func(gate, up []float32)
	}{{"SiLUMul", SiLUMul}, {"siluMulGo", siluMulGo}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				copy(g, x)
				f.fn(g, up)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}

// BenchmarkF32ToF16 measures the conversion of one token's keys on the 1B
// shape (8 heads of 64) into the float16 KV cache: F32ToF16 and the scalar
// quantize.F32ToF16Slice it replaces there.
func BenchmarkF32ToF16(b *testing.B) {
	src := randVec(rand.New(rand.NewPCG(1, 2)), 512)
	dst := make([]uint16, len(src))
	b.Run("F32ToF16", func(b *testing.B) {
		for b.Loop() {
			F32ToF16(dst, src)
		}
	})
	b.Run("quantize.F32ToF16Slice", func(b *testing.B) {
		for b.Loop() {
			quantize.F32ToF16Slice(dst, src)
		}
	})
}

// BenchmarkMatMulRows measures INT4 and INT8 MatMul over the row counts of
// batched decoding (2–16 streams) and of a prefill chunk (128), one thread,
// on the 8192×2048 projection of Llama-3.2-1B. GFLOP/s/core counts the
// thread's CPU time, which a busy machine disturbs less than wall time.
func BenchmarkMatMulRows(b *testing.B) {
	const rows, cols = 8192, 2048
	for _, k := range []benchKind{benchKinds[0], benchKinds[1], benchKinds[2]} {
		w := benchWeight(b, k.dt, k.sc, k.g, rows, cols)
		for _, set := range Available() {
			p := newPool(1, set)
			for _, n := range []int{1, -1, 2, 4, 8, 16, 128} {
				name := fmt.Sprintf("%s/%s/n%d", k.name, set, n)
				if n < 0 { // MatVec once the weight is packed (outside the timings), as every n ≥ 2 then
					p.Prepare(w)
					n, name = 1, fmt.Sprintf("%s/%s/n1packed", k.name, set)
				}
				b.Run(name, func(b *testing.B) {
					X := randVec(rand.New(rand.NewPCG(1, 1)), n*cols)
					Y := make([]float32, n*rows)
					c0 := cpuTime()
					for b.Loop() {
						p.MatMul(Y, X, n, w)
					}
					flops := 2 * float64(n) * rows * cols * float64(b.N)
					if c := cpuTime() - c0; c > 0 {
						b.ReportMetric(flops/c.Seconds()/1e9, "GFLOP/s/core")
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "us/row")
				})
			}
		}
	}
}

// BenchmarkPackQ4 measures repacking an INT4 weight for the GEMM kernels
// (once per weight and Pool), one thread.
func BenchmarkPackQ4(b *testing.B) {
	w := benchWeight(b, symb.INT4, symb.SchemeSym, 128, 8192, 2048)
	v := view(w)
	p := newPool(1, Generic)
	b.SetBytes(weightBytes(w))
	for b.Loop() {
		p.packQ4(&v)
	}
}

// benchLayer is one decoder layer of the Llama-3.2-1B shape (INT4 g128 sym):
// the q, k and v projections, o, gate and up, and down.
type benchLayer struct {
	qkv, gateUp []*symb.Tensor
	o, down     *symb.Tensor
}

// BenchmarkGEMMStream measures the batched decode products of several layers
// of the Llama-3.2-1B shape, run in turn as the model runs them (q/k/v and
// gate/up fused by MatMuls), so that the weights (≈ 30 MB per layer packed)
// stream from memory rather than sitting in the last-level cache as in
// BenchmarkMatMulRows. GFLOP/s is wall time; GFLOP/s/core divides by the
// process's CPU time (steadier on a shared machine); GB/s is the packed
// weight bytes read per wall second. layers1 keeps one layer (in cache or
// close to it) for comparison.
func BenchmarkGEMMStream(b *testing.B) {
	const dim, kvDim, hidden = 2048, 512, 8192
	mk := func(i, rows, cols int) *symb.Tensor {
		return benchWeight(b, symb.INT4, symb.SchemeSym, 128, rows+i, cols) // +i: distinct random codes per layer
	}
	var layers []benchLayer
	for _, nl := range []int{1, 4} {
		for len(layers) < nl {
			i := len(layers) * 16 // row counts stay multiples of 16
			layers = append(layers, benchLayer{
				qkv:    []*symb.Tensor{mk(i, dim, dim), mk(i, kvDim, dim), mk(i, kvDim, dim)},
				o:      mk(i, dim, dim),
				gateUp: []*symb.Tensor{mk(i, hidden, dim), mk(i, hidden, dim)},
				down:   mk(i, dim, hidden),
			})
		}
		for _, t := range []int{1, 2} {
			for _, n := range []int{1, 8} {
				b.Run(fmt.Sprintf("layers%d/t%d/n%d", nl, t, n), func(b *testing.B) {
					p := newPool(t, AVX512)
					defer p.Close()
					if !slices.Contains(Available(), AVX512) {
						b.Skip("no AVX-512")
					}
					var flops, bytes float64
					for _, l := range layers[:nl] {
						ws := append(append(append([]*symb.Tensor{}, l.qkv...), l.gateUp...), l.o, l.down)
						p.Prepare(ws...)
						for _, w := range ws {
							flops += 2 * float64(n) * float64(w.Shape[0]) * float64(w.Shape[1])
							bytes += float64(weightBytes(w))
						}
					}
					rng := rand.New(rand.NewPCG(1, 1))
					x, xh := randVec(rng, n*dim), randVec(rng, n*hidden)
					ys := func(l benchLayer) [][]float32 {
						return [][]float32{make([]float32, n*l.qkv[0].Shape[0]), make([]float32, n*l.qkv[1].Shape[0]), make([]float32, n*l.qkv[2].Shape[0])}
					}
					qkv, gu := make([][][]float32, nl), make([][][]float32, nl)
					yo, yd := make([][]float32, nl), make([][]float32, nl)
					for i, l := range layers[:nl] {
						qkv[i] = ys(l)
						gu[i] = [][]float32{make([]float32, n*l.gateUp[0].Shape[0]), make([]float32, n*l.gateUp[1].Shape[0])}
						yo[i], yd[i] = make([]float32, n*l.o.Shape[0]), make([]float32, n*l.down.Shape[0])
					}
					c0 := cpuTime()
					for b.Loop() {
						for i, l := range layers[:nl] {
							p.MatMuls(qkv[i], x, n, l.qkv...)
							p.MatMul(yo[i], x[:n*dim], n, l.o)
							p.MatMuls(gu[i], x, n, l.gateUp...)
							p.MatMul(yd[i], xh, n, l.down)
						}
					}
					s := b.Elapsed().Seconds()
					b.ReportMetric(flops*float64(b.N)/s/1e9, "GFLOP/s")
					b.ReportMetric(bytes*float64(b.N)/s/1e9, "GB/s")
					if c := cpuTime() - c0; c > 0 {
						b.ReportMetric(flops*float64(b.N)/c.Seconds()/1e9, "GFLOP/s/core")
					}
				})
			}
		}
	}
}

// BenchmarkPoolRun measures the cost of one Pool.Run barrier with two
// threads, as a decode step pays it for every product and parallel
// element-wise pass: each of the two shares busy-waits for share (0: returns
// at once), and overhead/run is the call's time beyond that, i.e. starting
// the worker, its lateness and noticing its end. gap is a pause of the caller
// between calls (serial work of the step): 200 µs lets the worker park.
func BenchmarkPoolRun(b *testing.B) {
	for _, share := range []time.Duration{0, 20 * time.Microsecond} {
		for _, gap := range []time.Duration{0, 20 * time.Microsecond, 200 * time.Microsecond} {
			b.Run(fmt.Sprintf("share%s/gap%s", share, gap), func(b *testing.B) {
				p := newPool(2, Generic)
				defer p.Close()
				var sink [2][8]int
				fn := func(w, lo, hi int) {
					for t := time.Now(); time.Since(t) < share; {
					}
					sink[w][0] += hi - lo
				}
				p.Run(2, 1, 1<<20, fn)
				var spent time.Duration
				for b.Loop() {
					if gap > 0 {
						for t := time.Now(); time.Since(t) < gap; {
						}
					}
					t := time.Now()
					p.Run(2, 1, 1<<20, fn)
					spent += time.Since(t)
				}
				b.ReportMetric(float64((spent-time.Duration(b.N)*share).Nanoseconds())/float64(b.N), "overhead-ns/run")
			})
		}
	}
}
