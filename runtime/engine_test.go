package runtime

import (
	"context"
	"testing"

	"github.com/symbc/symbc/symb"
)

// TestSessionKVCacheTypes checks a Session's f16 and int8 KV caches: the
// trained model still gives transformers' greedy tokens, its logits stay
// within rounding of the float32 cache's (but are not bit-identical: the
// cache really is narrower), and it holds the memory its type implies.
func TestSessionKVCacheTypes(t *testing.T) {
	ctx := context.Background()
	ref := loadReference(t, modelDir(t, "stories260k"))
	run := func(kv symb.DType) ([]float32, []int, *Model, int64) {
		m := storiesModel(t, WithKVCache(kv))
		s := m.NewSession()
		logits, err := s.Forward(ctx, ref.inputIDs)
		if err != nil {
			t.Fatal(err)
		}
		return logits, greedy(t, m.NewSession(), ref.promptIDs, len(ref.greedyIDs)), m, s.MemoryBytes()
	}
	l32, g32, m, mem32 := run(symb.F32)
	if !equalInts(g32, ref.greedyIDs) {
		t.Errorf("f32 greedy ids\n got %v\nwant %v", g32, ref.greedyIDs)
	}
	for _, tc := range []struct {
		kv  symb.DType
		tol float64 // of max |logit|
	}{{symb.F16, 1e-2}, {symb.INT8, 5e-2}} {
		l, g, _, mem := run(tc.kv)
		if !equalInts(g, ref.greedyIDs) {
			t.Errorf("%s greedy ids\n got %v\nwant %v", tc.kv, g, ref.greedyIDs)
		}
		d := maxAbsDiff(l, l32)
		if d == 0 || d > tc.tol*maxAbs(l32) {
			t.Errorf("%s vs f32 cache: max abs logit difference %g (max |logit| %g), want above 0 and within %g of it", tc.kv, d, maxAbs(l32), tc.tol)
		}
		if want := mem32 / kvBytesPerToken(m, symb.F32) * kvBytesPerToken(m, tc.kv); mem != want {
			t.Errorf("%s cache holds %d bytes, want %d (f32: %d)", tc.kv, mem, want, mem32)
		}
	}
}

// TestWithKVCacheRefusesOtherTypes checks that a KV cache type the cache
// cannot store fails Load's options with an error naming it.
func TestWithKVCacheRefusesOtherTypes(t *testing.T) {
	for _, dt := range []symb.DType{symb.BF16, symb.INT4, 0} {
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

// TestSchedulerInt8 checks a Scheduler's paged int8 cache against the
// trained model's greedy reference.
func TestSchedulerInt8(t *testing.T) {
	m := storiesModel(t)
	ref := loadReference(t, modelDir(t, "stories260k"))
	s := newTestScheduler(t, m, WithSlots(2), WithKVType(symb.INT8), withPaused())
	res := runConcurrently(t, s, [][]int{ref.promptIDs, ref.promptIDs}, WithMaxTokens(len(ref.greedyIDs)), WithIgnoreEOS())
	for i, r := range res {
		if !equalInts(r.IDs, ref.greedyIDs) {
			t.Errorf("request %d: ids\n got %v\nwant %v", i, r.IDs, ref.greedyIDs)
		}
	}
}
