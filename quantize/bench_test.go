package quantize

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// Benchmark shape: 1024 rows of 4096 (a 4M-element matrix, 16 MB as f32).
const benchRows, benchCols = 1024, 4096

func benchData() ([]float32, []uint16) {
	r := rand.New(rand.NewPCG(7, 7))
	f := make([]float32, benchRows*benchCols)
	h := make([]uint16, len(f))
	for i := range f {
		h[i] = F32ToBF16(float32(r.NormFloat64() * 0.02))
		f[i] = BF16ToF32(h[i])
	}
	return f, h
}

// runRows quantizes rows [r0, r1) into the matching slices of the outputs,
// the way a converter splits a tensor across goroutines.
func runRows(b *testing.B, spec Spec, f32 []float32, bf16 []uint16, r0, r1 int, data, scales, mins []byte) {
	db, sb, mb, err := spec.Layout(1, benchCols)
	if err != nil {
		b.Fatal(err)
	}
	d, s, m := data[r0*db:r1*db], scales[r0*sb:r1*sb], mins[r0*mb:r1*mb]
	if f32 != nil {
		err = QuantizeRows(spec, f32[r0*benchCols:r1*benchCols], benchCols, d, s, m)
	} else {
		err = QuantizeRowsBF16(spec, bf16[r0*benchCols:r1*benchCols], benchCols, d, s, m)
	}
	if err != nil {
		b.Error(err)
	}
}

func BenchmarkQuantizeRows(b *testing.B) {
	f32, bf16 := benchData()
	for _, spec := range []Spec{
		{Type: INT4, Scheme: Symmetric, Method: RTN, GroupSize: 128},
		{Type: INT4, Scheme: Symmetric, Method: MSE, GroupSize: 128},
		{Type: INT4, Scheme: Asymmetric, Method: RTN, GroupSize: 128},
		{Type: INT4, Scheme: Asymmetric, Method: MSE, GroupSize: 128},
		{Type: INT8, Scheme: Symmetric, Method: RTN, GroupSize: 128},
	} {
		for _, in := range []string{"f32", "bf16"} {
			for _, par := range []bool{false, true} {
				name := spec.String() + "/" + in + "/serial"
				if par {
					name = spec.String() + "/" + in + "/parallel"
				}
				b.Run(name, func(b *testing.B) {
					db, sb, mb, _ := spec.Layout(benchRows, benchCols)
					data, scales, mins := make([]byte, db), make([]byte, sb), make([]byte, mb)
					src32, src16 := f32, []uint16(nil)
					if in == "bf16" {
						src32, src16 = nil, bf16
						b.SetBytes(int64(len(bf16) * 2))
					} else {
						b.SetBytes(int64(len(f32) * 4))
					}
					workers := 1
					if par {
						workers = runtime.GOMAXPROCS(0)
					}
					b.ResetTimer()
					for b.Loop() {
						var wg sync.WaitGroup
						per := (benchRows + workers - 1) / workers
						for r0 := 0; r0 < benchRows; r0 += per {
							r1 := min(r0+per, benchRows)
							wg.Go(func() { runRows(b, spec, src32, src16, r0, r1, data, scales, mins) })
						}
						wg.Wait()
					}
				})
			}
		}
	}
}

func BenchmarkDequantizeRow(b *testing.B) {
	f32, _ := benchData()
	spec := Spec{Type: INT4, Scheme: Symmetric, Method: RTN, GroupSize: 128}
	db, sb, _, _ := spec.Layout(benchRows, benchCols)
	data, scales := make([]byte, db), make([]byte, sb)
	if err := QuantizeRows(spec, f32, benchCols, data, scales, nil); err != nil {
		b.Fatal(err)
	}
	rdb, rsb, _, _ := spec.Layout(1, benchCols)
	dst := make([]float32, benchCols)
	b.SetBytes(int64(benchCols * 4)) // output bytes per row
	i := 0
	for b.Loop() {
		r := i % benchRows
		if err := DequantizeRow(spec, data[r*rdb:(r+1)*rdb], scales[r*rsb:(r+1)*rsb], nil, dst); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
