package runtime

import (
	"context"
	"testing"

	"github.com/symbc/symbc/symb"
)

// TestSessionKVCacheF16 checks a Session's half-precision KV cache: the
// trained model still gives transformers' greedy tokens, its logits stay
// within rounding of the float32 cache's (but are not bit-identical: the
// cache really is f16), and it holds half the memory.
func TestSessionKVCacheF16(t *testing.T) {
	ctx := context.Background()
	ref := loadReference(t, modelDir(t, "stories260k"))
	run := func(kv symb.DType) ([]float32, []int, int64) {
		m := storiesModel(t, WithKVCache(kv))
		s := m.NewSession()
		logits, err := s.Forward(ctx, ref.inputIDs)
		if err != nil {
			t.Fatal(err)
		}
		mem := s.MemoryBytes()
		return logits, greedy(t, m.NewSession(), ref.promptIDs, len(ref.greedyIDs)), mem
	}
	l32, g32, mem32 := run(symb.F32)
	l16, g16, mem16 := run(symb.F16)
	if !equalInts(g16, ref.greedyIDs) || !equalInts(g32, ref.greedyIDs) {
		t.Errorf("greedy ids\n f16 %v\n f32 %v\nwant %v", g16, g32, ref.greedyIDs)
	}
	d := maxAbsDiff(l16, l32)
	if d == 0 || d > 1e-2*maxAbs(l32) {
		t.Errorf("f16 vs f32 cache: max abs logit difference %g (max |logit| %g), want above 0 and within 1%%", d, maxAbs(l32))
	}
	if mem16*2 != mem32 {
		t.Errorf("f16 cache holds %d bytes, f32 %d: want half", mem16, mem32)
	}
}

// TestWithKVCacheRefusesOtherTypes checks that a KV cache type the cache
// cannot store fails Load's options with an error naming it.
func TestWithKVCacheRefusesOtherTypes(t *testing.T) {
	for _, dt := range []symb.DType{symb.BF16, symb.INT8, symb.INT4, 0} {
		if _, err := applyOptions([]Option{WithKVCache(dt)}); err == nil {
			t.Errorf("WithKVCache(%s) accepted", dt)
		}
	}
	if _, err := ParseKVType("q4"); err == nil {
		t.Error(`ParseKVType("q4") accepted`)
	}
	if dt, err := ParseKVType("f16"); err != nil || dt != symb.F16 {
		t.Errorf(`ParseKVType("f16") = %s, %v`, dt, err)
	}
}
