package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/verify"
)

func newConvertCmd() *cobra.Command {
	var (
		req                  convert.PolicyRequest
		archName, revision   string
		force, quiet, asJSON bool
		threads              int
		calibration          string
		bits, maxKLD         float64
		check, awq           bool
		include, exclude     []string
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
			if len(include)+len(exclude) > 0 {
				opts = append(opts, convert.WithFiles(include, exclude))
			}
			tuned, err := tuneOptions(cmd, req, calibration, bits, maxKLD, awq)
			if err != nil {
				return err
			}
			opts = append(opts, tuned...)
			if !quiet {
				opts = append(opts, convert.WithProgress(convertProgress(cmd.ErrOrStderr())))
			}
			sum, err := convert.Convert(cmd.Context(), args[0], args[1], opts...)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if check {
				if err := verifyConverted(cmd, sum.Out, maxKLD, threads, quiet || asJSON); err != nil {
					return err
				}
			}
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
	f.StringVar(&req.Method, "method", "rtn", "how codes are chosen: rtn (fast), mse (scale search) or gptq (error compensation from calibration; the default recipe uses it)")
	f.StringVar(&req.Embeddings, "embeddings", "", "type of the embedding table (default: as --quantize)")
	f.StringVar(&req.LMHead, "lm-head", "", "type of an untied LM head (default: as --quantize; int8 is a cheap quality gain)")
	f.StringVar(&calibration, "calibration", "", "text file to calibrate on (default: the built-in text; \"none\": no calibration)")
	f.Float64Var(&bits, "bits", 0, "choose each tensor's precision for the best predicted fidelity within B bits/weight (default 4.5 with plain --quantize int4)")
	f.Float64Var(&maxKLD, "max-kld", 0, "choose each tensor's precision for the smallest size whose predicted mean KL is at most X nats")
	f.BoolVar(&awq, "awq", false, "scale input channels by their calibration activations before quantizing (AWQ), folding the inverse into the producing norm or layer")
	f.BoolVar(&check, "verify", false, "verify OUT against the source when done (bound: --max-kld if given, else verify's default); a miss removes OUT and exits 1")
	f.StringVar(&archName, "arch", "", "architecture to use instead of the one config.json names")
	f.StringVar(&revision, "revision", "", "Hub branch, tag or commit (default main)")
	f.StringArrayVar(&include, "include", nil, "fetch only the Hub files matching this glob (fnmatch, as huggingface_hub's allow_patterns; repeatable)")
	f.StringArrayVar(&exclude, "exclude", nil, "do not fetch the Hub files matching this glob (as ignore_patterns; repeatable)")
	f.BoolVar(&force, "force", false, "replace OUT if it exists (only once the new folder is complete)")
	addThreadsFlag(f, &threads)
	addQuietFlag(f, &quiet)
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout")
	return cmd
}

// tuneOptions turns the calibration and target flags into options. A plain
// int4 conversion (no explicit group size, scheme, method or embedding
// type) gets the measured per-tensor choice within defaultBits.
func tuneOptions(cmd *cobra.Command, req convert.PolicyRequest, calibration string, bits, maxKLD float64, awq bool) ([]convert.Option, error) {
	f := cmd.Flags()
	if f.Changed("bits") && !(bits >= 2 && bits <= 32) {
		return nil, usagef("--bits %v: want a number of bits per weight between 2 and 32", bits)
	}
	if f.Changed("max-kld") && !(maxKLD > 0 && maxKLD < 100) {
		return nil, usagef("--max-kld %v: want a positive number of nats", maxKLD)
	}
	if f.Changed("bits") && f.Changed("max-kld") {
		return nil, usagef("--bits and --max-kld are alternatives; give one")
	}
	uniform := false
	for _, name := range []string{"group-size", "scheme", "method", "embeddings", "lm-head"} {
		uniform = uniform || f.Changed(name)
	}
	if (f.Changed("bits") || f.Changed("max-kld")) && uniform {
		return nil, usagef("--bits/--max-kld choose group size, scheme and types per tensor; drop --group-size, --scheme, --method, --embeddings and --lm-head")
	}
	if calibration == "none" {
		if awq {
			return nil, usagef("--awq scales channels from calibration statistics; --calibration none rules that out")
		}
		if f.Changed("bits") || f.Changed("max-kld") {
			return nil, usagef("--bits/--max-kld measure sensitivity on calibration text; --calibration none rules that out")
		}
		return nil, nil
	}
	var opts []convert.Option
	if awq {
		opts = append(opts, convert.WithAWQ(true))
	}
	if calibration != "" {
		name, text, err := convert.ReadCalibration(calibration)
		if err != nil {
			return nil, err
		}
		opts = append(opts, convert.WithCalibration(name, text))
	}
	switch {
	case f.Changed("bits"):
		opts = append(opts, convert.WithBits(bits))
	case f.Changed("max-kld"):
		opts = append(opts, convert.WithMaxKLD(maxKLD))
	case !uniform && strings.EqualFold(req.Quantize, "int4"):
		opts = append(opts, convert.WithDefaultBits(convert.DefaultBits))
	}
	return opts, nil
}

// verifyConverted runs verify on a fresh conversion against its source. A
// conversion that misses the bound is removed: it exists only when it meets it.
func verifyConverted(cmd *cobra.Command, dir string, maxKLD float64, threads int, quiet bool) error {
	opts := []verify.Option{verify.WithThreads(threads), verify.WithToolVersion(toolVersion())}
	if maxKLD > 0 {
		opts = append(opts, verify.WithMaxKLD(maxKLD))
	}
	rep, err := verify.Verify(cmd.Context(), dir, opts...)
	if err != nil {
		return err
	}
	if rep.Numerics == nil {
		return fmt.Errorf("--verify: %s (%s)", dir, rep.NumericsNote)
	}
	if !quiet || !rep.Pass {
		if err := printVerify(cmd.ErrOrStderr(), rep); err != nil {
			return err
		}
	}
	if !rep.Pass {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		return fmt.Errorf("--verify: %s missed the bound (mean KL %.4g, top-1 %.3f) and was removed: %w",
			dir, rep.Overall.MeanKLD, rep.Overall.Top1Agreement, errChecksFailed)
	}
	return rep.Save(dir)
}
