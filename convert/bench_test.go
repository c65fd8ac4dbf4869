package convert

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/convert/synth"
)

// BenchmarkConvert converts a synthetic bf16 checkpoint of the "small" shape
// (18M parameters, 36 MB) to INT4 g128; MB/s is input bytes. For full-size
// figures use tools/synth and `symbc convert` (see tools/synth/README.md).
func BenchmarkConvert(b *testing.B) {
	shape, err := synth.Lookup("small")
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(b.TempDir(), "src")
	if err := synth.Write(context.Background(), src, shape); err != nil {
		b.Fatal(err)
	}
	for _, method := range []string{"rtn", "mse"} {
		b.Run(method, func(b *testing.B) {
			policy, err := PolicyRequest{Quantize: "int4", Method: method}.Policy()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(shape.Bytes(synth.BF16))
			out := filepath.Join(b.TempDir(), "out")
			for b.Loop() {
				if _, err := Convert(context.Background(), src, out, WithPolicy(policy)); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(out)
				b.StartTimer()
			}
		})
	}
}
