package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
)

// chatTemplateFlags are --chat-template and --chat-template-kwargs, shared
// by run, template and serve.
type chatTemplateFlags struct {
	file   string
	kwargs string
}

func (c *chatTemplateFlags) register(f *pflag.FlagSet) {
	f.StringVar(&c.file, "chat-template", "", "Jinja chat template file to use instead of the model's")
	f.StringVar(&c.kwargs, "chat-template-kwargs", "", `JSON object of extra chat template variables, e.g. '{"enable_thinking": false}'`)
}

// kwargsMap parses --chat-template-kwargs.
func (c *chatTemplateFlags) kwargsMap() (map[string]json.RawMessage, error) {
	if c.kwargs == "" {
		return nil, nil
	}
	var kw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(c.kwargs)))
	if err := dec.Decode(&kw); err != nil || kw == nil || dec.More() {
		return nil, usagef("--chat-template-kwargs must be a JSON object, got %q", c.kwargs)
	}
	for _, k := range []string{"messages", "tools", "add_generation_prompt"} {
		if _, ok := kw[k]; ok {
			return nil, usagef("--chat-template-kwargs cannot set %q", k)
		}
	}
	return kw, nil
}

// chatOptions are the kwargs as template variables.
func (c *chatTemplateFlags) chatOptions() ([]tokenizer.ChatOption, error) {
	kw, err := c.kwargsMap()
	if err != nil {
		return nil, err
	}
	var opts []tokenizer.ChatOption
	for k, v := range kw {
		opts = append(opts, tokenizer.WithVar(k, v))
	}
	return opts, nil
}

// loadTokenizer loads the tokenizer of dir (a tokenizer folder or a
// .symb model folder) with the --chat-template file when one is given.
func (c *chatTemplateFlags) loadTokenizer(dir string) (*tokenizer.Tokenizer, error) {
	if c.file == "" {
		return tokenizer.Load(dir)
	}
	if _, err := os.Stat(c.file); err != nil {
		return nil, fmt.Errorf("--chat-template: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, tokenizer.TokenizerFile)); err != nil {
		dir = filepath.Join(dir, "tokenizer")
	}
	config := filepath.Join(dir, tokenizer.ConfigFile)
	if _, err := os.Stat(config); err != nil {
		config = ""
	}
	return tokenizer.LoadFiles(filepath.Join(dir, tokenizer.TokenizerFile), config, c.file)
}

// modelOptions loads the model folder's tokenizer with --chat-template,
// when it is given, for runtime.Load.
func (c *chatTemplateFlags) modelOptions(dir string) ([]runtime.Option, error) {
	if c.file == "" {
		return nil, nil
	}
	tk, err := c.loadTokenizer(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return []runtime.Option{runtime.WithTokenizer(tk)}, nil
}
