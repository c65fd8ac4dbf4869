package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/verify"
)

// errChecksFailed makes the exit status 1 after the report is printed.
var errChecksFailed = errors.New("verification failed")

func newVerifyCmd() *cobra.Command {
	var (
		refs            []string
		source, prompts string
		maxKLD, minTop1 float64
		threads, jobs   int
		asJSON, save    bool
		engine          string
		cf              computeFlags
	)
	cmd := &cobra.Command{
		Use:   "verify MODEL",
		Short: "Check a .symb model's integrity and compare its logits with a reference or the source",
		Long: `verify checks every file against the manifest, every tensor against the config,
then runs the model with the bundled runtime and compares its next-token
distributions with reference logits (--reference) or the source checkpoint
(--source, default: the source recorded in config.symb.json when available
locally). It exits 0 only when every check passes.

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// "-" reads a reference or the prompts from standard input.
			stdins := 0
			for _, r := range append(slices.Clone(refs), prompts) {
				if r == "-" {
					stdins++
				}
			}
			if stdins > 1 {
				return usagef("standard input (\"-\") can be read only once")
			}
			for i, r := range refs {
				path, cleanup, err := spoolInput(cmd, r)
				if err != nil {
					return err
				}
				defer cleanup()
				refs[i] = path
			}
			opts := []verify.Option{verify.WithReference(refs...), verify.WithThreads(threads),
				verify.WithJobs(jobs), verify.WithToolVersion(toolVersion())}
			eng, err := runtime.ParseEngine(engine)
			if err != nil {
				return usagef("--engine: %v", err)
			}
			rtOpts, err := cf.options()
			if err != nil {
				return err
			}
			opts = append(opts, verify.WithEngine(eng), verify.WithRuntimeOptions(rtOpts...))
			if source != "" {
				opts = append(opts, verify.WithSource(source))
			}
			if prompts != "" {
				path, cleanup, err := spoolInput(cmd, prompts)
				if err != nil {
					return err
				}
				defer cleanup()
				p, err := verify.ReadPrompts(path)
				if err != nil {
					return err
				}
				opts = append(opts, verify.WithPrompts(p))
			}
			if cmd.Flags().Changed("max-kld") {
				if !(maxKLD >= 0) || math.IsInf(maxKLD, 0) {
					return usagef("--max-kld %v: want a finite number of nats ≥ 0", maxKLD)
				}
				opts = append(opts, verify.WithMaxKLD(maxKLD))
			}
			if cmd.Flags().Changed("min-top1") {
				if !(minTop1 >= 0 && minTop1 <= 1) {
					return usagef("--min-top1 %v: want a fraction in [0, 1]", minTop1)
				}
				opts = append(opts, verify.WithMinTop1(minTop1))
			}
			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			rep, err := verify.Verify(cmd.Context(), model.Dir, opts...)
			if err != nil {
				return err
			}
			if save {
				if err := rep.Save(model.Dir); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := printVerify(out, rep); err != nil {
				return err
			}
			if !rep.Pass {
				return errChecksFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&refs, "reference", nil, `reference logits file (safetensors with input_ids and logits; "-" for standard input); repeatable`)
	f.StringVar(&source, "source", "", "source model (Hugging Face folder or Hub id in the cache) to compare with")
	f.StringVar(&prompts, "prompts", "", `prompts for the source comparison ("-" for standard input): one per line, or JSONL {"text"} / {"ids"}`)
	f.Float64Var(&maxKLD, "max-kld", 0, "override the mean KL divergence bound (nats)")
	f.Float64Var(&minTop1, "min-top1", 0, "override the top-1 agreement bound (0..1)")
	addThreadsFlag(f, &threads)
	cf.register(f, runtime.DefaultKVCache)
	addJobsFlag(f, &jobs, 0, "files hashed")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	f.StringVar(&engine, "engine", "exact", "attention engine for the converted model: exact or symbiotic")
	f.BoolVar(&save, "save", false, "also write the report to DIR/verify.json")
	return cmd
}

func printVerify(w io.Writer, r *verify.Report) error {
	in := r.Integrity
	status := map[bool]string{true: "PASS", false: "FAIL"}
	fmt.Fprintf(w, "integrity  %s  %d files, %d bytes, %d tensors checked\n", status[in.Pass], in.Files, in.Bytes, in.Tensors)
	for _, p := range in.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if in.Omitted > 0 {
		fmt.Fprintf(w, "  ... and %d more problems\n", in.Omitted)
	}
	if r.Numerics == nil {
		fmt.Fprintf(w, "numerics   %s\n", r.NumericsNote)
	} else {
		n := r.Numerics
		th := n.Thresholds
		bounds := fmt.Sprintf("mean KL ≤ %g, top-1 ≥ %g", th.MaxKLD, th.MinTop1)
		if th.Lossless {
			bounds = fmt.Sprintf("lossless: max|Δlogit| ≤ %g × max|logit|, greedy exact, %s", th.MaxRelAbsDiff, bounds)
		}
		fmt.Fprintf(w, "numerics   %s  against %s (%s)\n", status[n.Pass], n.Reference, bounds)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  case\tpos\tmean KL\tp99 KL\tmax KL\ttop-1\tcosine\tmax|Δ|\tnmse\tgreedy\tppl ref/conv\tresult")
		row := func(name string, m verify.Metrics, greedy, result string) {
			ppl := "-"
			if m.RefPerplexity > 0 {
				ppl = fmt.Sprintf("%.2f/%.2f", m.RefPerplexity, m.CandPerplexity)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%.4g\t%.4g\t%.4g\t%.3f\t%.5f\t%.3g\t%.3g\t%s\t%s\t%s\n", name, m.Positions,
				m.MeanKLD, m.P99KLD, m.MaxKLD, m.Top1Agreement, m.Cosine, m.MaxAbsDiff, m.NMSE, greedy, ppl, result)
		}
		for _, c := range n.Cases {
			greedy := "-"
			if c.GreedyTotal > 0 {
				greedy = fmt.Sprintf("%d/%d", c.GreedyMatched, c.GreedyTotal)
			}
			row(c.Name, c.Metrics, greedy, status[c.Pass])
		}
		if len(n.Cases) > 1 {
			row("overall", n.Overall, "-", status[n.Pass])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, c := range n.Cases {
			if len(c.Failures) > 0 {
				fmt.Fprintf(w, "  %s: %s\n", c.Name, strings.Join(c.Failures, "; "))
			}
		}
	}
	_, err := fmt.Fprintf(w, "result     %s\n", status[r.Pass])
	return err
}
