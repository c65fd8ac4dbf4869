package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/symbc/symbc/internal/humanize"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/registry/termbars"
)

// registryFlags are the flags push, pull and inspect share for talking to a registry.
type registryFlags struct {
	username      string
	passwordStdin bool
	plainHTTP     bool
	quiet         bool
	jobs          int
}

func (f *registryFlags) register(cmd *cobra.Command, jobsHelp string) {
	fl := cmd.Flags()
	fl.StringVarP(&f.username, "username", "u", "", "registry user name (with --password-stdin; default: Docker config and credential helpers)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the registry password or token from standard input")
	fl.BoolVar(&f.plainHTTP, "plain-http", false, "allow plain HTTP (loopback registries need no flag)")
	if jobsHelp != "" {
		addJobsFlag(fl, &f.jobs, 8, jobsHelp)
		addQuietFlag(fl, &f.quiet)
	}
}

// options turns the flags into registry options. Progress goes to stderr:
// bars on a terminal, plain lines elsewhere unless quietPlain (JSON output).
// The returned function ends the progress display.
func (f *registryFlags) options(cmd *cobra.Command, quietPlain bool) ([]registry.Option, func(), error) {
	opts := []registry.Option{registry.WithPlainHTTP(f.plainHTTP), registry.WithUserAgent("symbc/" + toolVersion())}
	if f.jobs != 0 {
		opts = append(opts, registry.WithJobs(f.jobs))
	}
	switch {
	case f.passwordStdin && f.username == "":
		return nil, nil, usagef("--password-stdin needs --username")
	case f.username != "" && !f.passwordStdin:
		return nil, nil, usagef("--username needs --password-stdin (passwords are never taken as arguments)")
	case f.passwordStdin:
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
		if err != nil {
			return nil, nil, fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return nil, nil, usagef("--password-stdin: standard input is empty")
		}
		opts = append(opts, registry.WithBasicAuth(f.username, pw))
	}
	done := func() {}
	errw := cmd.ErrOrStderr()
	tty := false
	if file, ok := errw.(*os.File); ok {
		tty = term.IsTerminal(int(file.Fd()))
	}
	if !f.quiet && (tty || !quietPlain) {
		r := termbars.New(errw, tty)
		opts = append(opts, registry.WithProgress(r.Handle))
		done = r.Close
	}
	return opts, done, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPushCmd() *cobra.Command {
	var (
		f      registryFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "push DIR REF",
		Short: "Upload a .symb model folder to an OCI registry",
		Long: `push uploads the model folder DIR to the tag REF (registry/repository:tag) as a
CNCF ModelPack artifact: an OCI manifest with artifactType
application/vnd.cncf.model.manifest.v1+json, a model config, and one layer per
file (or, above 256 files, one tar layer per layers/layer_NN/ folder). The
folder must match its manifest.json. Blobs the registry already has are not
sent again. When DIR holds verify.json, its verdict goes onto the manifest.

Credentials come from the Docker config and credential helpers, or from
--username with --password-stdin. TLS is required except for registries on
localhost/127.0.0.1/::1; --plain-http allows HTTP anywhere.

push prints REF@sha256:... (or, with --json, one object with ref, digest,
uploaded_bytes and skipped_bytes).`,
		Example: `  symbc push ./llama-1b-int4 ghcr.io/me/llama-1b:int4
  echo "$TOKEN" | symbc push -u me --password-stdin ./m registry.example.com/m:v1
  symbc push ./m localhost:5000/m:v1 --json`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, done, err := f.options(cmd, asJSON)
			if err != nil {
				return err
			}
			res, err := registry.Push(cmd.Context(), args[0], args[1], opts...)
			done()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			if !f.quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "uploaded %s in %d blobs; %s in %d blobs already there\n",
					humanize.Bytes(res.UploadedBytes), res.UploadedBlobs, humanize.Bytes(res.SkippedBytes), res.SkippedBlobs)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), res.Ref+"@"+res.Digest)
			return err
		},
	}
	f.register(cmd, "blobs uploaded")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object on stdout")
	return cmd
}
