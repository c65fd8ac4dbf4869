package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/symbc/symbc/internal/humanize"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/server"
	"github.com/symbc/symbc/symb"
)

// shutdownGrace is how long running requests may finish after Ctrl-C.
const shutdownGrace = 10 * time.Second

func newServeCmd() *cobra.Command {
	var (
		addr, modelName               string
		threads, parallel, maxContext int
		apiKeys, aliases, corsOrigins []string
		apiKeyFile, kvCacheSize       string
		tf                            chatTemplateFlags
		cf                            computeFlags
	)
	cmd := &cobra.Command{
		Use:   "serve MODEL",
		Short: "Serve a .symb model over an OpenAI-compatible HTTP API",
		Long: `serve loads the model in DIR and answers OpenAI API requests on --addr:
GET /v1/models, POST /v1/chat/completions (with streaming), POST
/v1/completions, GET /metrics (Prometheus) and GET /health (docs/SERVE.md
lists every field and its status). Point an OpenAI client at
http://ADDR/v1. With --api-key, --api-key-file or SYMBC_API_KEY
(comma-separated keys) every endpoint but /health needs
"Authorization: Bearer KEY"; otherwise any key is accepted. Requests
naming a model other than --model-name or an --alias get 404. One line per
request is logged to stderr (never a key).
--parallel sequences are decoded together (continuous batching) with their
keys and values in a KV cache of --kv-cache-size (elements of --kv-type)
shared with the prompt prefix cache; requests beyond that wait (up to 4 per slot; more get 503
with Retry-After).
Ctrl-C stops accepting requests and lets running ones finish for ` + shutdownGrace.String() + `;
then streams still going end with an error event (code server_shutdown).

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			schOpts := []runtime.SchedulerOption{runtime.WithSlots(parallel)}
			if kvCacheSize != "" {
				n, err := humanize.ParseBytes(kvCacheSize)
				if err != nil {
					return usagef("--kv-cache-size: %v", err)
				}
				schOpts = append(schOpts, runtime.WithKVCacheBytes(n))
			}
			ks, kv, err := cf.parse()
			if err != nil {
				return err
			}
			keys, err := collectAPIKeys(apiKeys, apiKeyFile, os.Getenv("SYMBC_API_KEY"))
			if err != nil {
				return err
			}
			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			dir := model.Dir
			if modelName == "" {
				modelName = filepath.Base(filepath.Clean(model.Name))
			}
			kwargs, err := tf.kwargsMap()
			if err != nil {
				return err
			}
			tokOpts, err := tf.modelOptions(dir)
			if err != nil {
				return err
			}
			m, err := runtime.Load(dir, append(tokOpts, runtime.WithThreads(threads), runtime.WithMaxContext(maxContext),
				runtime.WithKernels(ks), runtime.WithKVCache(kv))...)
			if err != nil {
				return err
			}
			defer m.Close()
			sch, err := runtime.NewScheduler(m, append(schOpts, runtime.WithKVType(kv))...)
			if err != nil {
				return err
			}
			defer sch.Close()
			defaults, err := symb.ReadGeneration(dir, m.Config())
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			h, err := server.New(m, server.WithModelName(modelName), server.WithScheduler(sch),
				server.WithRequestLog(stderr), server.WithAPIKeys(keys...), server.WithAliases(aliases...),
				server.WithGenerationDefaults(defaults), server.WithChatTemplateKwargs(kwargs),
				server.WithCORSOrigins(corsOrigins...))
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "serving %s as %q on http://%s/v1 (%d threads, context %d, %d parallel, KV cache %s = %d tokens)\n",
				dir, modelName, l.Addr(), m.Threads(), m.MaxContext(), sch.Slots(), humanize.Bytes(sch.KVCacheBytes()), sch.KVCacheTokens())
			if len(keys) > 0 {
				fmt.Fprintf(stderr, "API key required (%d key(s) accepted)\n", len(keys))
			}
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
	cf.register(f, runtime.DefaultSchedulerKVCache)
	f.StringVar(&modelName, "model-name", "", "model id reported to clients (default: the folder's name)")
	f.IntVar(&parallel, "parallel", runtime.DefaultSlots, "sequences decoded together; more requests wait")
	f.StringVar(&kvCacheSize, "kv-cache-size", "", "KV cache memory shared by the sequences and the prefix cache, e.g. 512MiB (default: --parallel full contexts, at most 1 GiB)")
	f.IntVar(&maxContext, "max-context", 0, "context length in tokens (0: the model's maximum)")
	f.StringArrayVar(&apiKeys, "api-key", nil, "require this API key (repeatable; prefer --api-key-file or SYMBC_API_KEY, which ps cannot show)")
	f.StringVar(&apiKeyFile, "api-key-file", "", "require one of the API keys in this file (one per line)")
	f.StringArrayVar(&aliases, "alias", nil, "another model name requests may use (repeatable)")
	f.StringArrayVar(&corsOrigins, "cors-origin", nil, `let browser pages from this origin call the API, e.g. http://localhost:3000 ("*": any; repeatable)`)
	tf.register(f)
	return cmd
}

// collectAPIKeys gathers the keys of the flags, the key file and the
// environment variable (comma-separated), without empty entries.
func collectAPIKeys(flagKeys []string, file, env string) ([]string, error) {
	var keys []string
	add := func(list []string) {
		for _, k := range list {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	add(flagKeys)
	add(strings.Split(env, ","))
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--api-key-file: %w", err)
		}
		before := len(keys)
		add(strings.Split(string(b), "\n"))
		if len(keys) == before {
			return nil, fmt.Errorf("--api-key-file %s holds no key", file)
		}
	}
	return keys, nil
}
