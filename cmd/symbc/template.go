package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/runtime/tokenizer"
)

func newTemplateCmd() *cobra.Command {
	var (
		messagesPath string
		noGenPrompt  bool
		tf           chatTemplateFlags
	)
	cmd := &cobra.Command{
		Use:   "template MODEL --messages FILE",
		Short: "Render a chat prompt with a model's chat template",
		Long: `template renders the chat template of MODEL (a .symb model or any folder
holding tokenizer.json and tokenizer_config.json) the way transformers'
apply_chat_template does, and prints the prompt exactly, without an added newline.

FILE ("-" for standard input) holds a JSON array of {"role", "content"} messages,
or an object with such an array under "messages" and optionally OpenAI tool
definitions under "tools". Messages may carry tool_calls, tool_call_id, name
and reasoning_content.

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if messagesPath == "" {
				return usagef("--messages is required")
			}
			msgs, toolOpts, err := readChatMessages(cmd, messagesPath)
			if err != nil {
				return err
			}
			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			chatOpts, err := tf.chatOptions()
			if err != nil {
				return err
			}
			tk, err := tf.loadTokenizer(model.Dir)
			if err != nil {
				return err
			}
			prompt, err := tk.ApplyChatTemplate(msgs, append(append(chatOpts, toolOpts...), tokenizer.WithGenerationPrompt(!noGenPrompt))...)
			if errors.Is(err, tokenizer.ErrNoChatTemplate) {
				return fmt.Errorf("%s: no chat template (no \"chat_template\" in %s and no %s)", args[0], tokenizer.ConfigFile, tokenizer.ChatTemplateFile)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), prompt)
			return err
		},
	}
	cmd.Flags().StringVar(&messagesPath, "messages", "", `JSON file of chat messages ("-" for standard input)`)
	cmd.Flags().BoolVar(&noGenPrompt, "no-generation-prompt", false, "do not end the prompt with the assistant turn header")
	tf.register(cmd.Flags())
	return cmd
}

// maxMessagesFile bounds a --messages file.
const maxMessagesFile = 64 << 20

// readChatMessages reads chat messages from path ("-" for standard input):
// a JSON array of {"role", "content"} objects, or an object with such an
// array under "messages".
//
// The object form may also hold "tools" (OpenAI's tool definitions), which
// are returned as template options.
func readChatMessages(cmd *cobra.Command, path string) ([]tokenizer.Message, []tokenizer.ChatOption, error) {
	data, err := readInput(cmd, path, maxMessagesFile)
	if err != nil {
		return nil, nil, err
	}
	name := inputName(path)
	var msgs []tokenizer.Message
	var opts []tokenizer.ChatOption
	if err := json.Unmarshal(data, &msgs); err != nil {
		var wrapped struct {
			Messages *[]tokenizer.Message `json:"messages"`
			Tools    json.RawMessage      `json:"tools"`
		}
		if err := json.Unmarshal(data, &wrapped); err != nil || wrapped.Messages == nil {
			return nil, nil, fmt.Errorf(`%s: expected a JSON array of {"role", "content"} messages or an object with "messages"`, name)
		}
		msgs = *wrapped.Messages
		if len(wrapped.Tools) > 0 {
			var list []json.RawMessage
			if err := json.Unmarshal(wrapped.Tools, &list); err != nil {
				return nil, nil, fmt.Errorf(`%s: "tools" must be an array of tool definitions`, name)
			}
			opts = append(opts, tokenizer.WithVar("tools", wrapped.Tools))
		}
	}
	for i, m := range msgs {
		if m.Role == "" {
			return nil, nil, fmt.Errorf("%s: message %d has no role", name, i)
		}
	}
	return msgs, opts, nil
}
