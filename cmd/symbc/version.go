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

// versionText is what version and --version print after "symbc ": the tool
// version, then the kernel set that models would run (SYMBC_KERNELS or the
// best this CPU has) and the sets available.
func versionText() string {
	k, err := kernels.Select(kernels.Auto)
	if err != nil {
		return fmt.Sprintf("%s\nkernels: %v", toolVersion(), err)
	}
	return fmt.Sprintf("%s\nkernels %s (available: %s)", toolVersion(), k, kernels.AvailableString())
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the symbc version, VCS revision and kernel set",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "symbc "+versionText())
			return err
		},
	}
}
