package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/runtime/tokenizer"
)

func newTemplateCmd() *cobra.Command {
	var (
		messagesPath string
		noGenPrompt  bool
	)
	cmd := &cobra.Command{
		Use:   "template MODEL --messages FILE",
		Short: "Render a chat prompt with a model's chat template",
		Long: `template renders the chat template of MODEL (a .symb model or any folder
holding tokenizer.json and tokenizer_config.json) the way transformers'
apply_chat_template does, and prints the prompt exactly, without an added newline.

FILE ("-" for standard input) holds a JSON array of {"role", "content"} messages,
or an object with such an array under "messages".

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if messagesPath == "" {
				return usagef("--messages is required")
			}
			msgs, err := readChatMessages(messagesPath, cmd.InOrStdin())
			if err != nil {
				return err
			}
			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			tk, err := tokenizer.Load(model.Dir)
			if err != nil {
				return err
			}
			prompt, err := tk.ApplyChatTemplate(msgs, tokenizer.WithGenerationPrompt(!noGenPrompt))
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
	return cmd
}

func readChatMessages(path string, stdin io.Reader) ([]tokenizer.Message, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var msgs []tokenizer.Message
	if err := json.Unmarshal(data, &msgs); err == nil {
		return msgs, nil
	}
	var wrapped struct {
		Messages *[]tokenizer.Message `json:"messages"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil || wrapped.Messages == nil {
		return nil, fmt.Errorf(`%s: expected a JSON array of {"role", "content"} messages or an object with "messages"`, path)
	}
	return *wrapped.Messages, nil
}
