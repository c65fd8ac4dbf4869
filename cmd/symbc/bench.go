package main

import (
	"encoding/json"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/symbc/symbc/runtime"
)

func newBenchCmd() *cobra.Command {
	var (
		prompt, gen, threads, reps int
		engine                     string
		cf                         computeFlags
		asJSON, roofline           bool
		parallel                   []int
		chatTurn                   int
	)
	cmd := &cobra.Command{
		Use:   "bench MODEL",
		Short: "Measure prompt processing and token generation speed of a .symb model",
		Long: `bench runs the model in DIR on pseudo-random tokens, like llama-bench: pp
is a prompt of -p tokens processed in one batch, tg is -n tokens generated one
at a time. Each test runs once to warm up, then -r times; the table gives the
mean ± standard deviation in tokens per second.

With --parallel 1,4,8,16 it measures continuous batching instead: for each
count, that many streams arrive at once with -p-token prompts and decode -n
tokens each; the table gives the time to first token and the per-stream and
aggregate decode rates. With --chat-turn N it measures the prompt-prefix
cache: a first chat turn of N prompt tokens, then a second turn of that
prompt, the -n-token reply and -p new tokens; the table gives each turn's
cached tokens and time to first token.

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reps < 1 || prompt < 0 || gen < 0 {
				return usagef("-r must be at least 1, -p and -n at least 0")
			}
			if roofline && (gen == 0 || len(parallel) > 0 || chatTurn > 0) {
				return usagef("--roofline needs the tg test (-n above 0), without --parallel or --chat-turn")
			}
			eng, err := runtime.ParseEngine(engine)
			if err != nil {
				return usageError{err}
			}
			if eng != runtime.EngineExact && (len(parallel) > 0 || chatTurn > 0) {
				return usagef("--parallel and --chat-turn run the scheduler, which needs --engine exact: the %s engine keeps one fixed-size state per sequence, not a KV cache in blocks", eng)
			}
			rtOpts, err := cf.options()
			if err != nil {
				return err
			}
			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			m, err := runtime.Load(model.Dir, append(rtOpts, runtime.WithThreads(threads), runtime.WithEngine(eng))...)
			if err != nil {
				return err
			}
			defer m.Close()
			if chatTurn > 0 {
				if prompt == 0 || gen == 0 {
					return usagef("--chat-turn needs -p and -n above 0")
				}
				res, err := runtime.BenchChatTurn(cmd.Context(), m, chatTurn, prompt, gen)
				if err != nil {
					return err
				}
				return printResult(cmd, asJSON, res, func(w io.Writer) error { return chatTurnTable(w, res) })
			}
			if len(parallel) > 0 {
				if prompt == 0 || gen == 0 {
					return usagef("--parallel needs -p and -n above 0")
				}
				res, err := runtime.BenchParallel(cmd.Context(), m, runtime.ParallelBenchOptions{
					Streams: parallel, PromptTokens: prompt, GenTokens: gen, Repetitions: reps,
					Name: filepath.Base(filepath.Clean(model.Name)),
				})
				if err != nil {
					return err
				}
				return printResult(cmd, asJSON, res, func(w io.Writer) error { return parallelTable(w, res) })
			}
			res, err := runtime.Bench(cmd.Context(), m, runtime.BenchOptions{
				PromptTokens: orSkip(prompt), GenTokens: orSkip(gen), Repetitions: reps,
				Name: filepath.Base(filepath.Clean(model.Name)), Roofline: roofline,
			})
			if err != nil {
				return err
			}
			return printResult(cmd, asJSON, res, func(w io.Writer) error { return benchTable(w, res) })
		},
	}
	f := cmd.Flags()
	f.IntVarP(&prompt, "prompt", "p", 128, "prompt tokens of the pp test (0: skip it)")
	f.IntVarP(&gen, "gen", "n", 64, "generated tokens of the tg test (0: skip it)")
	addThreadsFlag(f, &threads)
	f.IntVarP(&reps, "repetitions", "r", 3, "timed runs of each test")
	f.StringVar(&engine, "engine", "exact", "attention engine: exact or symbiotic")
	cf.register(f, runtime.DefaultKVCache)
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&roofline, "roofline", false, "also print the weight bytes a decoded token reads, the bandwidth tg achieves and its share of a read-bandwidth probe run on the same threads")
	f.IntVar(&chatTurn, "chat-turn", 0, "measure a second chat turn after a first of this many prompt tokens (prefix cache)")
	f.IntSliceVar(&parallel, "parallel", nil, "measure batched decoding of this many concurrent streams (a list: 1,4,8,16)")
	return cmd
}

// printResult writes res as indented JSON or with its table writer.
func printResult(cmd *cobra.Command, asJSON bool, res any, table func(io.Writer) error) error {
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return table(cmd.OutOrStdout())
}

// orSkip maps the CLI's 0 ("skip the test") to BenchOptions' negative.
func orSkip(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
