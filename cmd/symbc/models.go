package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/internal/humanize"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/store"
)

// modelArgHelp is the MODEL argument's description, shared by every command
// that loads a model.
const modelArgHelp = `MODEL is a .symb folder, a name in the local model store (see "symbc list"),
a registry reference (host/repository:tag, pulled into the store on first use)
or a Hugging Face id (org/name or hf.co/org/name, converted into the store
with the default recipe on first use). The store is $` + store.EnvDir + ` or the
platform's data folder.`

// openStore opens the default model store; the registry and convert options
// carry credentials, progress on stderr and the tool's name.
func openStore(cmd *cobra.Command, reg []registry.Option) (*store.Store, error) {
	root, err := store.DefaultDir()
	if err != nil {
		return nil, err
	}
	return store.Open(root,
		store.WithRegistryOptions(reg...),
		store.WithConvertOptions(convert.WithTool("symbc", toolVersion()), convert.WithProgress(convertProgress(cmd.ErrOrStderr()))),
	), nil
}

// resolveModel turns a command's MODEL argument into a model folder,
// fetching it into the store when it is a reference not stored yet. Every
// command that loads a model calls it, so they all accept the same names.
func resolveModel(cmd *cobra.Command, arg string) (*store.Model, error) {
	m, err := fetchModel(cmd, arg)
	if err != nil {
		return nil, err
	}
	if err := store.CheckFolder(m.Dir); err != nil {
		return nil, err
	}
	return m, nil
}

// fetchModel is resolveModel without the folder check.
func fetchModel(cmd *cobra.Command, arg string) (*store.Model, error) {
	if _, err := os.Stat(arg); err == nil {
		return &store.Model{Name: arg, Dir: arg, Origin: store.FromFolder}, nil
	}
	var rf registryFlags
	reg, done, err := rf.options(cmd, false)
	if err != nil {
		return nil, err
	}
	defer done()
	s, err := openStore(cmd, reg)
	if err != nil {
		// Without a store only folders work: let loading the folder say
		// what is wrong with it.
		return &store.Model{Name: arg, Dir: arg, Origin: store.FromFolder}, nil
	}
	return s.Resolve(cmd.Context(), arg)
}

// isStored reports whether arg names a model in the store, without fetching.
func isStored(cmd *cobra.Command, arg string) bool {
	s, err := openStore(cmd, nil)
	if err != nil {
		return false
	}
	kind, _ := s.Classify(arg)
	return kind == store.KindStored
}

func newListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the models in the local model store",
		Long: `list prints every name in the local model store ($` + store.EnvDir + `, or the
platform's data folder): the digest of the model (the SHA-256 of its
manifest.json; names sharing one share the folder), its size, bits per weight
and what is known of its quality: "integrity ok" (every stored model passed
the integrity check on the way in) or the verdict of its verify.json.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd, nil)
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tBITS/W\tVERIFIED")
			for _, m := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\n", m.Name, shortDigest(m.Digest), humanize.Bytes(m.Size), m.BitsPerWeight, m.Verified)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array with each model's folder, source and facts")
	return cmd
}

func shortDigest(d string) string {
	if len(d) > 7+12 {
		return d[7 : 7+12]
	}
	return d
}

func newRmCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove models from the local model store",
		Long: `rm removes names from the local model store. NAME is a name as "symbc list"
prints it, or a digest (12 or more hex digits), which removes every name of
that model. A model's folder is deleted once no name points at it.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rm needs at least one NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd, nil)
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				_, key := s.Classify(a)
				names, err := s.Remove(cmd.Context(), key)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), "removed "+n)
				}
			}
			return errors.Join(errs...)
		},
	}
	return cmd
}

// pullToStore is `symbc pull REF` without a folder: the model goes into the
// store (a Hub id is converted into it).
func pullToStore(cmd *cobra.Command, ref string, reg []registry.Option, asJSON bool) error {
	s, err := openStore(cmd, reg)
	if err != nil {
		return err
	}
	var m *store.Model
	switch kind, _ := s.Classify(ref); {
	case store.IsRegistryRef(ref):
		m, err = s.Pull(cmd.Context(), ref) // asks the registry even when stored
	case kind == store.KindFolder:
		return usagef("%s: not a registry reference (host/repository:tag) or a Hugging Face id (org/name); to pull into a folder, name it: symbc pull REF DIR", ref)
	default:
		m, err = s.Resolve(cmd.Context(), ref)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), m)
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s (%s, %.2f bits/weight)\n", m.Name, m.Digest, humanize.Bytes(m.Size), m.BitsPerWeight)
	return err
}
