package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/convert"
)

func newConvertCmd() *cobra.Command {
	var (
		req                  convert.PolicyRequest
		archName, revision   string
		force, quiet, asJSON bool
		threads              int
	)
	cmd := &cobra.Command{
		Use:   "convert SOURCE OUT",
		Short: "Convert a Hugging Face checkpoint (local folder or Hub id) into a .symb model folder",
		Long: `Convert reads a Hugging Face model (a local folder with config.json and
safetensors files, or a Hub id such as meta-llama/Llama-3.2-1B) and writes the
.symb model folder OUT. Everything is checked before any output is written,
and OUT appears only when the conversion is complete.

Supported architectures: ` + strings.Join(arch.Supported(), ", "),
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := req.Policy()
			if err != nil {
				return usagef("%v", err)
			}
			opts := []convert.Option{
				convert.WithPolicy(policy), convert.WithArch(archName), convert.WithRevision(revision),
				convert.WithForce(force), convert.WithJobs(threads), convert.WithTool("symbc", toolVersion()),
			}
			if !quiet {
				opts = append(opts, convert.WithProgress(convert.NewProgress(cmd.ErrOrStderr())))
			}
			sum, err := convert.Convert(cmd.Context(), args[0], args[1], opts...)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				b, err := json.MarshalIndent(sum, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(out, string(b))
				return err
			case !quiet:
				_, err = fmt.Fprintf(out, "wrote %s: %d tensors, %d params, %.2f bits/weight, %.1f MB in %.1fs (%.2f GB/s)\n",
					sum.Out, sum.Tensors, sum.Params, sum.BitsPerWeight, float64(sum.BytesOut)/1e6, sum.Seconds, sum.GBPerS)
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Quantize, "quantize", "int4", "weight type: int4, int8, f16, bf16 or f32 (f32 is lossless)")
	f.IntVar(&req.GroupSize, "group-size", 128, "elements per quantization group: 32, 64, 128 or 256")
	f.StringVar(&req.Scheme, "scheme", "sym", "integer scheme: sym or asym")
	f.StringVar(&req.Method, "method", "rtn", "scale search: rtn (fast) or mse (lower error, slower)")
	f.StringVar(&req.Embeddings, "embeddings", "", "type of the embedding table (default: as --quantize)")
	f.StringVar(&req.LMHead, "lm-head", "", "type of an untied LM head (default: as --quantize; int8 is a cheap quality gain)")
	f.StringVar(&archName, "arch", "", "architecture to use instead of the one config.json names")
	f.StringVar(&revision, "revision", "", "Hub branch, tag or commit (default main)")
	f.BoolVar(&force, "force", false, "replace OUT if it exists (only once the new folder is complete)")
	addThreadsFlag(f, &threads)
	addQuietFlag(f, &quiet)
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout")
	return cmd
}
