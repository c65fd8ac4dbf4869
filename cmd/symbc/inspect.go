package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/internal/humanize"
	"github.com/symbc/symbc/symb"
)

func newInspectCmd() *cobra.Command {
	var (
		asJSON bool
		remote remoteInspect // REF arguments: see pull.go
	)
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Describe a .symb model folder: parameters, size, quantization and tensors",
		Long: `inspect reads config.symb.json and the header of every tensor file of a model
folder and prints the architecture, parameter count, size on disk, bits per
weight, quantization settings and a table of tensors. It reads no weights and
verifies nothing else; use "symbc verify" for that.

Given a registry reference (host/repository:tag or @sha256:...) that is not
in the local store, it reads only the manifest and config there, no weights,
and prints the model's architecture, size, quantization and the verify result
pushed with it.

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if remote.applies(args[0]) && !isStored(cmd, args[0]) {
				return remote.run(cmd, args[0], asJSON)
			}
			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			s, err := symb.Describe(model.Dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return printSummary(out, s)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	remote.register(cmd)
	return cmd
}

func printSummary(w io.Writer, s *symb.Summary) error {
	q := s.Quantization
	weights := q.Weights
	if q.Scheme != "" {
		weights += " " + q.Scheme
	}
	if q.GroupSize > 0 {
		weights += fmt.Sprintf(" g%d", q.GroupSize)
	}
	if q.Method != "" {
		weights += " " + q.Method
	}
	quant := []string{"weights " + weights, "embeddings " + q.Embeddings}
	if q.LMHead != "" {
		quant = append(quant, "lm_head "+q.LMHead)
	}
	quant = append(quant, "norms "+q.Norms)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "folder:\t%s\n", s.Dir)
	fmt.Fprintf(tw, "architecture:\t%s\n", s.Architecture)
	if s.Source.ID != "" {
		fmt.Fprintf(tw, "source:\t%s\n", s.Source.ID)
	} else if s.Source.Path != "" {
		fmt.Fprintf(tw, "source:\t%s\n", s.Source.Path)
	}
	m := s.Model
	fmt.Fprintf(tw, "shape:\t%d layers, hidden %d, %d heads (%d kv) × %d, vocab %d\n",
		m.NumLayers, m.HiddenSize, m.NumHeads, m.NumKVHeads, m.HeadDim, m.VocabSize)
	fmt.Fprintf(tw, "parameters:\t%s (%d)\n", humanize.Count(s.Params), s.Params)
	fmt.Fprintf(tw, "size on disk:\t%s (%d bytes; tensors %s)\n", humanize.Bytes(s.TotalBytes), s.TotalBytes, humanize.Bytes(s.TensorBytes))
	fmt.Fprintf(tw, "bits per weight:\t%.2f\n", s.BitsPerWeight)
	fmt.Fprintf(tw, "quantization:\t%s\n", strings.Join(quant, ", "))
	if q.Recipe != "" {
		r := q.Recipe + ": storage chosen per tensor (below)"
		if q.PredictedKLD > 0 {
			r += fmt.Sprintf(", predicted mean KL %.4g", q.PredictedKLD)
		}
		fmt.Fprintf(tw, "recipe:\t%s\n", r)
	}
	if c := q.Calibration; c != nil {
		line := fmt.Sprintf("%s text, %d tokens, sensitivity %s", c.Text, c.Tokens, c.Sensitivity)
		if c.ScaledInputs > 0 {
			line += fmt.Sprintf(", AWQ scales on %d inputs", c.ScaledInputs)
		}
		fmt.Fprintf(tw, "calibration:\t%s\n", line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tDTYPE\tSHAPE\tSCHEME\tGROUP\tBYTES")
	for _, t := range s.Tensors {
		scheme, group := "-", "-"
		if t.Scheme != "" {
			scheme, group = t.Scheme, fmt.Sprint(t.GroupSize)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", t.Name, t.DType, shapeString(t.Shape), scheme, group, t.Bytes)
	}
	return tw.Flush()
}

func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
