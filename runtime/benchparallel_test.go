package runtime

import (
	"context"
	"errors"
	"testing"
)

func TestBenchParallel(t *testing.T) {
	m := storiesModel(t)
	res, err := BenchParallel(context.Background(), m, ParallelBenchOptions{Streams: []int{1, 3}, PromptTokens: 8, GenTokens: 8, Repetitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tests) != 2 {
		t.Fatalf("%d tests, want 2", len(res.Tests))
	}
	for _, tt := range res.Tests {
		if tt.TTFTMillis <= 0 || tt.TTFTMaxMillis < tt.TTFTMillis || tt.PerStreamTokensPerSecond <= 0 ||
			tt.AggregateTokensPerSecond <= 0 || len(tt.AggregateSamples) != 2 || tt.AggregateStdDev < 0 {
			t.Errorf("%d streams: implausible figures %+v", tt.Streams, tt)
		}
	}
	if _, err := BenchParallel(context.Background(), m, ParallelBenchOptions{Streams: []int{0}}); err == nil {
		t.Error("0 streams: no error")
	}
}

func TestBenchChatTurn(t *testing.T) {
	m := storiesModel(t)
	r, err := BenchChatTurn(context.Background(), m, 100, 10, 8)
	if err != nil {
		t.Fatal(err)
	}
	// The second prompt is 100 + 8 + 10 tokens; everything stored by the
	// first turn (100 + 7) is cached, its partly filled last block included.
	if r.SecondPromptTokens != 118 || r.SecondCachedTokens != 107 {
		t.Errorf("second turn: %d tokens, %d cached; want 118 and 107", r.SecondPromptTokens, r.SecondCachedTokens)
	}
	if r.FirstTTFTMillis <= 0 || r.SecondTTFTMillis <= 0 {
		t.Errorf("TTFTs %g and %g ms", r.FirstTTFTMillis, r.SecondTTFTMillis)
	}
	if _, err := BenchChatTurn(context.Background(), m, 600, 10, 8); !errors.Is(err, ErrContextFull) {
		t.Errorf("chat beyond the context: %v", err)
	}
}
