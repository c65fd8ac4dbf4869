package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/symbc/symbc/runtime/kernels"
)

// toolVersion is the module version and VCS revision from the build info.
func toolVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		return fmt.Sprintf("%s (%s%s)", v, rev, dirty)
	}
	return v
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the symbc version and VCS revision",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The kernel set Load would pick: SYMBC_KERNELS or the best
			// this CPU runs.
			k, err := kernels.Select(kernels.Auto)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "symbc %s\nkernels %s (available: %s)\n", toolVersion(), k, kernels.AvailableString())
			return err
		},
	}
}
