package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/symbc/symbc/runtime/tokenizer"
)

// maxJSONLLine bounds one input line of tokenize --jsonl.
const maxJSONLLine = 64 << 20

func newTokenizeCmd() *cobra.Command {
	var (
		text      string
		jsonlPath string
		noSpecial bool
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "tokenize MODEL",
		Short: "Print the token ids of a text with a model's tokenizer",
		Long: `tokenize encodes text with the Hugging Face tokenizer of MODEL, a .symb model
(tokenizer files in its tokenizer/ folder) or any folder holding tokenizer.json.
Special tokens written in the text are recognized; the post-processor's special
tokens (usually BOS) are added unless --no-special is given.

With --jsonl FILE ("-" for standard input), every line of FILE is an object with
a "text" field and every output line is the JSON array of its ids, in order.

` + modelArgHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			hasText, hasJSONL := cmd.Flags().Changed("text"), cmd.Flags().Changed("jsonl")
			if hasText == hasJSONL {
				return usagef("give exactly one of --text and --jsonl")
			}
			model, err := resolveModel(cmd, args[0])
			if err != nil {
				return err
			}
			tk, err := tokenizer.Load(model.Dir)
			if err != nil {
				return err
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			if hasJSONL {
				err = tokenizeJSONL(cmd, tk, jsonlPath, out, !noSpecial)
			} else {
				err = writeIDs(out, tk.Encode(text, !noSpecial), asJSON)
			}
			if err != nil {
				return err
			}
			return out.Flush()
		},
	}
	cmd.Flags().StringVar(&text, "text", "", "text to tokenize")
	cmd.Flags().StringVar(&jsonlPath, "jsonl", "", `file of {"text": ...} lines to tokenize ("-" for standard input)`)
	cmd.Flags().BoolVar(&noSpecial, "no-special", false, "do not add the post-processor's special tokens (BOS/EOS)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of space-separated ids")
	return cmd
}

func writeIDs(w io.Writer, ids []int, asJSON bool) error {
	b := make([]byte, 0, 8*len(ids)+2)
	if asJSON {
		b = append(b, '[')
	}
	for i, id := range ids {
		if i > 0 {
			if asJSON {
				b = append(b, ',')
			} else {
				b = append(b, ' ')
			}
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	if asJSON {
		b = append(b, ']')
	}
	b = append(b, '\n')
	_, err := w.Write(b)
	return err
}

func tokenizeJSONL(cmd *cobra.Command, tk *tokenizer.Tokenizer, path string, w io.Writer, addSpecial bool) error {
	in, err := openInput(cmd, path)
	if err != nil {
		return err
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxJSONLLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if rec.Text == nil {
			return fmt.Errorf(`%s:%d: no "text" field`, path, n)
		}
		if err := writeIDs(w, tk.Encode(*rec.Text, addSpecial), true); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
