package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "symbc",
		Short: "Convert Hugging Face LLM checkpoints to .symb, verify, run and share them",
		Long: `symbc turns Hugging Face checkpoints into .symb model folders (INT4/INT8/FP16
weights in mmap-friendly files), proves they still work with a bundled runtime,
and moves them through any OCI registry.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without Args, cobra reports an unknown command as a plain error
		// (exit 1); a typo in the command name is bad usage (exit 2).
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		// Counting flags (--threads, --jobs, ...) are checked the same way
		// on every command, before any work starts.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error { return checkFlagBounds(cmd) },
		Version:           versionText(),
	}
	root.SetVersionTemplate("symbc {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCmd(),
		newPushCmd(),
		newPullCmd(),
		newInspectCmd(),
		newConvertCmd(),
		newRunCmd(),
		newServeCmd(),
		newBenchCmd(),
		newVerifyCmd(),
		newTokenizeCmd(),
		newTemplateCmd(),
		newListCmd(),
		newRmCmd(),
	)
	return root
}

// exactArgs is cobra.ExactArgs with the error marked as bad usage.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
