package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/kernels"
	"github.com/symbc/symbc/symb"
)

// The same idea has one flag on every command: -t/--threads for compute
// threads, -j/--jobs for files handled in parallel, --quiet and --json for
// commands that print progress. These helpers register them with the same
// names and help everywhere. Counts follow the libraries' rule
// (internal/workers): 0 means all CPUs, a negative count is bad usage.

func addThreadsFlag(f *pflag.FlagSet, p *int) {
	f.IntVarP(p, "threads", "t", 0, "compute threads (0: all CPUs)")
}

// computeFlags choose how a command runs a model: --kernels (the kernel
// set) and --kv-type (the KV cache's element type).
type computeFlags struct{ kernels, kvType string }

// register adds the flags; kvDefault is the command's KV cache type.
func (c *computeFlags) register(f *pflag.FlagSet, kvDefault symb.DType) {
	f.StringVar(&c.kernels, "kernels", "auto", "kernel set: auto (best for this CPU, or $"+kernels.EnvKernels+"), avx512, avx2, neon or generic")
	f.StringVar(&c.kvType, "kv-type", kvDefault.String(), "KV cache element type: f32, f16 (half the memory) or int8 (about a quarter); see docs/VERIFY.md")
}

// parse reads the flags, refusing bad values as bad usage.
func (c *computeFlags) parse() (kernels.Set, symb.DType, error) {
	ks, err := kernels.ParseSet(c.kernels)
	if err != nil {
		return "", 0, usagef("--kernels: %v", err)
	}
	kv, err := runtime.ParseKVType(c.kvType)
	if err != nil {
		return "", 0, usagef("--kv-type: %v", err)
	}
	return ks, kv, nil
}

// options are the flags as runtime options.
func (c *computeFlags) options() ([]runtime.Option, error) {
	ks, kv, err := c.parse()
	if err != nil {
		return nil, err
	}
	return []runtime.Option{runtime.WithKernels(ks), runtime.WithKVCache(kv)}, nil
}

func addJobsFlag(f *pflag.FlagSet, p *int, def int, what string) {
	f.IntVarP(p, "jobs", "j", def, what+" at once (0: all CPUs)")
}

func addQuietFlag(f *pflag.FlagSet, p *bool) {
	f.BoolVarP(p, "quiet", "q", false, "print no progress or summary on stderr")
}

// flagBounds are the least values of counting flags; checkFlagBounds
// refuses anything smaller on every command that has the flag, as bad
// usage (exit status 2), before any work starts.
var flagBounds = []struct {
	name  string
	least int64
	what  string
}{
	{"threads", 0, "0 (all CPUs) or more"},
	{"jobs", 0, "0 (all CPUs) or more"},
	{"max-context", 0, "0 (the model's maximum) or more"},
	{"max-tokens", 0, "0 or more"},
	{"parallel", 1, "at least 1"},
	{"group-size", 1, "at least 1"},
}

func checkFlagBounds(cmd *cobra.Command) error {
	for _, b := range flagBounds {
		fl := cmd.Flags().Lookup(b.name)
		if fl == nil || !fl.Changed {
			continue
		}
		v, err := strconv.ParseInt(fl.Value.String(), 10, 64)
		if err != nil {
			continue // not a counting flag on this command
		}
		if v < b.least {
			return usagef("--%s %d: want %s", b.name, v, b.what)
		}
	}
	return nil
}

// maxStdinFile bounds what a "-" file argument reads from standard input.
const maxStdinFile = 1 << 30

// openInput opens path for reading, or standard input for "-". Anything but
// a regular file (or "-") is refused: reading a FIFO or a device could
// block forever.
func openInput(cmd *cobra.Command, path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(io.LimitReader(cmd.InOrStdin(), maxStdinFile)), nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	return os.Open(path)
}

// readInput reads all of path, or standard input for "-".
func readInput(cmd *cobra.Command, path string, limit int64) ([]byte, error) {
	r, err := openInput(cmd, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", inputName(path), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", inputName(path), limit)
	}
	return b, nil
}

// spoolInput gives a path for path: itself, or for "-" a temporary file
// holding standard input, removed by the returned function.
func spoolInput(cmd *cobra.Command, path string) (string, func(), error) {
	if path != "-" {
		return path, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "symbc-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	f, err := os.Create(filepath.Join(dir, "stdin"))
	if err != nil {
		cleanup()
		return "", nil, err
	}
	_, err = io.Copy(f, io.LimitReader(cmd.InOrStdin(), maxStdinFile))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("standard input: %w", err)
	}
	return f.Name(), cleanup, nil
}

func inputName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}
