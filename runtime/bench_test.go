package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestBench(t *testing.T) {
	ctx := context.Background()
	m := storiesModel(t)
	res, err := Bench(ctx, m, BenchOptions{PromptTokens: 16, GenTokens: 8, Repetitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tests) != 2 || res.Tests[0].Name != "pp16" || res.Tests[1].Name != "tg8" {
		t.Fatalf("tests %+v, want pp16 and tg8", res.Tests)
	}
	for _, bt := range res.Tests {
		if len(bt.TokensPerSecond) != 2 || bt.Mean <= 0 || bt.StdDev < 0 {
			t.Errorf("%s: samples %v, mean %g, std %g", bt.Name, bt.TokensPerSecond, bt.Mean, bt.StdDev)
		}
	}
	if res.Params != 260032 || res.Threads != 2 || !strings.Contains(res.Model, "260.03K") {
		t.Errorf("model %q, params %d, threads %d", res.Model, res.Params, res.Threads)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"engine":"exact"`) || !strings.Contains(string(b), `"test":"tg8"`) {
		t.Errorf("json: %s", b)
	}

	only, err := Bench(ctx, m, BenchOptions{PromptTokens: 4, GenTokens: -1, Repetitions: 1})
	if err != nil || len(only.Tests) != 1 || only.Tests[0].StdDev != 0 {
		t.Errorf("pp only: %+v, %v", only, err)
	}
	if _, err := Bench(ctx, m, BenchOptions{PromptTokens: 600}); !errors.Is(err, ErrContextFull) {
		t.Errorf("prompt longer than the context: got %v", err)
	}
}

func TestMeanStd(t *testing.T) {
	m, s := meanStd([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if m != 5 || s < 2.138 || s > 2.139 { // sample standard deviation √(32/7)
		t.Errorf("mean %g std %g", m, s)
	}
}

// BenchmarkForward times stories260k's prefill (a 64-token batch) and decode
// (one token after 64) per engine.
func BenchmarkForward(b *testing.B) {
	ctx := context.Background()
	ids := make([]int, 64)
	for i := range ids {
		ids[i] = 3 + i*7%500
	}
	for _, engine := range []Engine{EngineExact, EngineSymbiotic} {
		m := newTestModel(b, "stories260k", WithEngine(engine))
		b.Run("prefill64/"+engine.String(), func(b *testing.B) {
			s := m.NewSession()
			for b.Loop() {
				s.Reset()
				if err := s.Prefill(ctx, ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run("decode/"+engine.String(), func(b *testing.B) {
			s := m.NewSession()
			for b.Loop() {
				if s.Pos() == m.MaxContext() {
					s.Reset()
				}
				if s.Pos() == 0 {
					if err := s.Prefill(ctx, ids); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Prefill(ctx, ids[:1]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
