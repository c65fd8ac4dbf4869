package main

import (
	"strings"
	"testing"

	"github.com/symbc/symbc/runtime"
)

func TestBenchTables(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	err := benchTable(&b, &runtime.BenchResult{Model: "llama 260.03K int4", Weights: "int4", SizeBytes: 1 << 20, Params: 260032,
		Threads: 2, Kernels: "avx512", Tests: []runtime.BenchTest{{Name: "pp16", Mean: 1234.5, StdDev: 6.25}, {Name: "tg8", Mean: 99, StdDev: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `| model              | weights |     size |  params | engine | kernels | threads | test |            t/s |
| ------------------ | ------- | -------: | ------: | ------ | ------- | ------: | ---- | -------------: |
| llama 260.03K int4 | int4    | 1.00 MiB | 260.03K | exact  | avx512  |       2 | pp16 | 1234.50 ± 6.25 |
| llama 260.03K int4 | int4    | 1.00 MiB | 260.03K | exact  | avx512  |       2 | tg8  |   99.00 ± 0.50 |
`
	if b.String() != want {
		t.Errorf("bench table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	err = parallelTable(&b, &runtime.ParallelBenchResult{Model: "m", Weights: "int4", SizeBytes: 1 << 20, Threads: 2,
		Tests: []runtime.ParallelTest{{Streams: 1, TTFTMillis: 10.4, TTFTMaxMillis: 10.6, PerStreamTokensPerSecond: 50, AggregateTokensPerSecond: 50, AggregateStdDev: 1},
			{Streams: 16, TTFTMillis: 120, TTFTMaxMillis: 300, PerStreamTokensPerSecond: 20.125, AggregateTokensPerSecond: 320.5, AggregateStdDev: 12.25}}})
	if err != nil {
		t.Fatal(err)
	}
	want = `m, int4, 1.00 MiB, 2 threads

| streams | TTFT mean ms | TTFT max ms | per-stream t/s |  aggregate t/s |
| ------: | -----------: | ----------: | -------------: | -------------: |
|       1 |           10 |          11 |          50.00 |   50.00 ± 1.00 |
|      16 |          120 |         300 |          20.12 | 320.50 ± 12.25 |
`
	if b.String() != want {
		t.Errorf("parallel table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	if err := chatTurnTable(&b, &runtime.ChatTurnResult{FirstPromptTokens: 1000, FirstTTFTMillis: 10512.4, SecondPromptTokens: 1072,
		SecondCachedTokens: 1064, SecondTTFTMillis: 821}); err != nil {
		t.Fatal(err)
	}
	want = `| turn | prompt tokens | cached tokens | TTFT ms |
| ---: | ------------: | ------------: | ------: |
|    1 |          1000 |             0 |   10512 |
|    2 |          1072 |          1064 |     821 |
`
	if b.String() != want {
		t.Errorf("chat turn table:\n%s\nwant:\n%s", b.String(), want)
	}
}
