package verify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Prompt is one input for comparing against a source model: text (tokenized
// with the model's tokenizer) or raw token ids.
type Prompt struct {
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`
	IDs  []int  `json:"ids,omitempty"`
}

// DefaultPrompts are short real texts of several kinds; real text makes the
// perplexity figures meaningful.
func DefaultPrompts() []Prompt {
	return []Prompt{
		{Name: "story", Text: "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends."},
		{Name: "facts", Text: "The capital of France is Paris. Water boils at 100 degrees Celsius at sea level, and the Earth orbits the Sun once a year."},
		{Name: "code", Text: "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"},
		{Name: "dialogue", Text: "\"Can you help me find my cat?\" asked Tom. \"Of course,\" said the old man. \"Where did you see him last?\""},
	}
}

// maxPromptLine bounds one line of a prompts file.
const maxPromptLine = 1 << 20

// ReadPrompts reads a prompts file: one prompt per line, or JSON Lines with
// objects {"text": ...} or {"ids": [...]} (optionally "name"). Blank lines are skipped.
func ReadPrompts(path string) ([]Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parsePrompts(f, path)
}

func parsePrompts(r io.Reader, path string) ([]Prompt, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxPromptLine)
	var out []Prompt
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		p := Prompt{Name: fmt.Sprintf("line %d", line), Text: s}
		if strings.HasPrefix(strings.TrimSpace(s), "{") {
			var j Prompt
			if err := json.Unmarshal([]byte(s), &j); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
			if (j.Text == "") == (len(j.IDs) == 0) {
				return nil, fmt.Errorf("%s:%d: want exactly one of \"text\" or \"ids\"", path, line)
			}
			if j.Name == "" {
				j.Name = p.Name
			}
			p = j
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return out, nil
}
