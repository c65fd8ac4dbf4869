package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
)

func newRunCmd() *cobra.Command {
	var (
		prompt, promptIDs, messagesFile, engine string
		chat, asJSON, quiet                     bool
		temperature, topP, minP, penalty        float32
		topK, maxTokens, threads, maxContext    int
		seed                                    uint64
		stops                                   []string
		tf                                      chatTemplateFlags
		cf                                      computeFlags
	)
	cmd := &cobra.Command{
		Use:   "run MODEL",
		Short: "Generate text with a .symb model",
		Long: `run loads MODEL and continues a prompt, streaming the text to stdout and
the speed to stderr. The prompt is --prompt TEXT (with --chat, sent through
the model's chat template as a user message), --messages FILE (a JSON array
of {"role", "content"} objects, always templated) or --prompt-ids with token
ids. Sampling is greedy unless --temperature is above 0.

Without any of them, a terminal on standard input gets an interactive chat
(` + chatHelp + `; the up and down arrows recall earlier lines), and
anything else on standard input is read whole as the prompt.

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			given := 0
			for _, name := range []string{"prompt", "prompt-ids", "messages"} {
				if f.Changed(name) {
					given++
				}
			}
			if given > 1 {
				return usagef("give at most one of --prompt, --prompt-ids and --messages")
			}
			interactive := false
			if given == 0 {
				if interactive = isTerminal(cmd.InOrStdin()); !interactive {
					var err error
					if prompt, err = readStdinPrompt(cmd.InOrStdin()); err != nil {
						return err
					}
				} else if asJSON {
					return usagef("--json needs a prompt (--prompt, --prompt-ids, --messages or standard input)")
				}
			}
			if chat && f.Changed("prompt-ids") {
				return usagef("--chat needs --prompt or --messages, not --prompt-ids")
			}
			var ids []int
			if f.Changed("prompt-ids") {
				var err error
				if ids, err = parseIDs(promptIDs); err != nil {
					return usageError{err}
				}
			}
			var messages []tokenizer.Message
			var toolOpts []tokenizer.ChatOption
			switch {
			case f.Changed("messages"):
				var err error
				if messages, toolOpts, err = readChatMessages(cmd, messagesFile); err != nil {
					return err
				}
				if len(messages) == 0 {
					return fmt.Errorf("%s: no messages", inputName(messagesFile))
				}
			case chat:
				messages = []tokenizer.Message{{Role: "user", Content: prompt}}
			}
			eng, err := runtime.ParseEngine(engine)
			if err != nil {
				return usageError{err}
			}
			rtOpts, err := cf.options()
			if err != nil {
				return err
			}
			opts := []runtime.GenOption{
				runtime.WithTemperature(temperature), runtime.WithTopK(topK), runtime.WithTopP(topP),
				runtime.WithMinP(minP), runtime.WithRepeatPenalty(penalty), runtime.WithMaxTokens(maxTokens),
				runtime.WithStop(stops...),
			}
			if f.Changed("seed") {
				opts = append(opts, runtime.WithSeed(seed))
			}
			// Refuse bad sampling flags before the (possibly large) model loads
			// and before the prompt is echoed.
			if err := runtime.CheckGenOptions(opts...); err != nil {
				return usageError{err}
			}

			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			chatOpts, err := tf.chatOptions()
			if err != nil {
				return err
			}
			tokOpts, err := tf.modelOptions(model.Dir)
			if err != nil {
				return err
			}
			m, err := runtime.Load(model.Dir, append(append(tokOpts, rtOpts...), runtime.WithThreads(threads), runtime.WithEngine(eng), runtime.WithMaxContext(maxContext))...)
			if err != nil {
				return err
			}
			defer m.Close()
			out := cmd.OutOrStdout()
			if interactive {
				return runChat(cmd, m, model.Name, opts)
			}
			if !asJSON {
				// A plain text prompt is continued, so print it first: the
				// output then reads as one text, as in llama.cpp.
				if ids == nil && messages == nil {
					if _, err := io.WriteString(out, prompt); err != nil {
						return err
					}
				}
				opts = append(opts, runtime.WithOnText(func(piece string) error {
					_, err := io.WriteString(out, piece)
					return err
				}))
			}
			ctx := cmd.Context()
			var res *runtime.Result
			switch {
			case ids != nil:
				res, err = m.GenerateIDs(ctx, ids, opts...)
			case messages != nil:
				var chatIDs []int
				if chatIDs, err = m.EncodeChat(ctx, messages, append(chatOpts, toolOpts...)...); err == nil {
					res, err = m.GenerateIDs(ctx, chatIDs, opts...)
				}
			default:
				res, err = m.Generate(ctx, prompt, opts...)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(out).Encode(res)
			}
			if !strings.HasSuffix(res.Text, "\n") {
				fmt.Fprintln(out)
			}
			if quiet {
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "prompt: %d tokens, %.1f tokens/s; generated: %d tokens, %.1f tokens/s; stop: %s\n",
				res.PromptTokens, res.PrefillTokensPerSecond, res.CompletionTokens, res.DecodeTokensPerSecond, res.StopReason)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prompt, "prompt", "", "text to continue")
	f.BoolVar(&chat, "chat", false, "apply the chat template to --prompt as a user message")
	f.StringVar(&messagesFile, "messages", "", `JSON file of chat messages ("-" for standard input)`)
	f.StringVar(&promptIDs, "prompt-ids", "", "prompt as comma-separated token ids")
	f.Float32Var(&temperature, "temperature", 0, "sampling temperature (0: greedy)")
	f.IntVar(&topK, "top-k", 0, "sample from the k most likely tokens (0: off)")
	f.Float32Var(&topP, "top-p", 0, "sample from the smallest set of tokens whose probability reaches p (0: off)")
	f.Float32Var(&minP, "min-p", 0, "drop tokens less likely than p times the most likely (0: off)")
	f.Float32Var(&penalty, "repeat-penalty", 1, "penalty for tokens already seen (1: off)")
	f.Uint64Var(&seed, "seed", 0, "seed for reproducible sampling (default: random)")
	f.IntVar(&maxTokens, "max-tokens", 256, "most tokens to generate")
	f.StringArrayVar(&stops, "stop", nil, "stop when the output contains this text (repeatable)")
	addThreadsFlag(f, &threads)
	cf.register(f, runtime.DefaultKVCache)
	f.StringVar(&engine, "engine", "exact", "attention engine: exact or symbiotic")
	f.IntVar(&maxContext, "max-context", 0, "context length in tokens (0: the model's maximum)")
	tf.register(f)
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the text, ids and speeds instead of streaming")
	addQuietFlag(f, &quiet)
	return cmd
}

// parseIDs reads "1,2,3" (spaces allowed).
func parseIDs(s string) ([]int, error) {
	var ids []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("--prompt-ids: %q is not a token id", part)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("--prompt-ids: no ids in %q", s)
	}
	return ids, nil
}
