package main

import (
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/server"
)

// shutdownGrace is how long running requests may finish after Ctrl-C.
const shutdownGrace = 10 * time.Second

func newServeCmd() *cobra.Command {
	var (
		addr, modelName                    string
		threads, maxConcurrent, maxContext int
	)
	cmd := &cobra.Command{
		Use:   "serve DIR",
		Short: "Serve a .symb model over an OpenAI-compatible HTTP API",
		Long: `serve loads the model in DIR and answers OpenAI API requests on --addr:
GET /v1/models, POST /v1/chat/completions (with streaming), POST
/v1/completions and GET /health. Point an OpenAI client at
http://ADDR/v1 with any API key. One line per request is logged to stderr.
Ctrl-C stops accepting requests and lets running ones finish for ` + shutdownGrace.String() + `.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if modelName == "" {
				modelName = filepath.Base(filepath.Clean(dir))
			}
			m, err := runtime.Load(dir, runtime.WithThreads(threads), runtime.WithMaxContext(maxContext))
			if err != nil {
				return err
			}
			defer m.Close()
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			h := server.New(m, server.WithModelName(modelName), server.WithMaxConcurrent(maxConcurrent),
				server.WithRequestLog(stderr))
			fmt.Fprintf(stderr, "serving %s as %q on http://%s/v1 (%d threads, context %d)\n",
				dir, modelName, l.Addr(), m.Threads(), m.MaxContext())
			if err := server.Serve(cmd.Context(), l, h, shutdownGrace); err != nil {
				return err
			}
			fmt.Fprintln(stderr, "server stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	addThreadsFlag(f, &threads)
	f.StringVar(&modelName, "model-name", "", "model id reported to clients (default: the folder's name)")
	f.IntVar(&maxConcurrent, "max-concurrent", 1, "generations run at once; more requests wait")
	f.IntVar(&maxContext, "max-context", 0, "context length in tokens (0: the model's maximum)")
	return cmd
}
