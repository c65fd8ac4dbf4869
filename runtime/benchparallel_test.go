package runtime

import (
	"context"
	"strings"
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
			tt.AggregateTokensPerSecond <= 0 || len(tt.AggregateSamples) != 2 {
			t.Errorf("%d streams: implausible figures %+v", tt.Streams, tt)
		}
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "|       3 |") {
		t.Errorf("table lacks the 3-stream row:\n%s", b.String())
	}
	if _, err := BenchParallel(context.Background(), m, ParallelBenchOptions{Streams: []int{0}}); err == nil {
		t.Error("0 streams: no error")
	}
}
