package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/internal/humanize"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/store"
)

func newPullCmd() *cobra.Command {
	var (
		f             registryFlags
		force, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "pull REF [DIR]",
		Short: "Download a .symb model from an OCI registry into a folder",
		Long: `pull downloads the model at REF (a tag, or a digest: repo@sha256:...) into the
folder DIR. Every blob is checked against its digest as it arrives, every path
must stay inside DIR (no "..", absolute paths, links or devices), and the
folder must match its manifest.json before it appears: pull writes into a
sibling folder .DIR.pull and renames it; a .DIR.pull left by a killed pull is
resumed. An existing DIR is replaced only with
--force (an empty folder is fine).

Without DIR, the model goes into the local model store under the name REF
(see "symbc list"): a manifest the store holds already is not downloaded
again. REF may then also be a Hugging Face id (org/name), which is converted
into the store with the default recipe.`,
		Example: `  symbc pull ghcr.io/me/llama-1b:int4 ./llama-1b
  symbc pull localhost:5000/m@sha256:0123... ./m --force
  symbc pull ghcr.io/me/llama-1b:int4`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("pull takes REF and an optional DIR, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, done, err := f.options(cmd, asJSON)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				err := pullToStore(cmd, args[0], opts, asJSON)
				done()
				return err
			}
			res, err := registry.Pull(cmd.Context(), args[0], args[1], append(opts, registry.WithForce(force))...)
			done()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s@%s -> %s (%d files, %s)\n", res.Ref, res.Digest, res.Dir, res.Files, humanize.Bytes(res.Bytes))
			return err
		},
	}
	f.register(cmd, "blobs downloaded")
	cmd.Flags().BoolVar(&force, "force", false, "replace DIR if it exists (only once the new folder is complete)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object on stdout")
	return cmd
}

// remoteInspect is the branch of `symbc inspect` for registry references: it
// adds the registry flags and prints registry.Inspect's summary.
type remoteInspect struct{ flags registryFlags }

func (ri *remoteInspect) register(cmd *cobra.Command) { ri.flags.register(cmd, "") }

// applies reports whether arg names a registry reference rather than a
// folder.
func (ri *remoteInspect) applies(arg string) bool { return store.IsRegistryRef(arg) }

func (ri *remoteInspect) run(cmd *cobra.Command, ref string, asJSON bool) error {
	opts, _, err := ri.flags.options(cmd, true)
	if err != nil {
		return err
	}
	s, err := registry.Inspect(cmd.Context(), ref, opts...)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), s)
	}
	return printRemoteSummary(cmd.OutOrStdout(), s)
}

func printRemoteSummary(w io.Writer, s *registry.Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("reference", s.Ref)
	row("digest", s.Digest)
	row("name", s.Name)
	row("architecture", s.Architecture)
	params := s.ParamSize
	if s.Params > 0 {
		params = fmt.Sprintf("%s (%d)", s.ParamSize, s.Params)
	}
	row("parameters", params)
	row("precision", s.Precision)
	row("quantization", s.Quantization)
	row("source", s.Source)
	row("size", fmt.Sprintf("%s (%d bytes) in %d layers", humanize.Bytes(s.Size), s.Size, len(s.Layers)))
	row("verified", qualityText(s.Quality))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tKIND\tBYTES")
	for _, l := range s.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", l.Title, strings.TrimPrefix(l.MediaType, "application/vnd.cncf.model."), l.Size)
	}
	return tw.Flush()
}

func qualityText(q *registry.Quality) string {
	if q == nil {
		return "no (pushed without verify.json)"
	}
	var parts []string
	switch {
	case q.Pass == nil:
		parts = append(parts, "verdict unknown")
	case *q.Pass:
		parts = append(parts, "pass")
	default:
		parts = append(parts, "FAIL")
	}
	if q.MeanKLD != nil {
		parts = append(parts, fmt.Sprintf("mean KLD %.4g", *q.MeanKLD))
	}
	if q.Top1Agreement != nil {
		parts = append(parts, fmt.Sprintf("top-1 agreement %.1f%%", 100**q.Top1Agreement))
	}
	if q.Reference != "" {
		parts = append(parts, "against "+q.Reference)
	}
	if q.ToolVersion != "" {
		parts = append(parts, "by "+q.ToolVersion)
	}
	return strings.Join(parts, ", ")
}
