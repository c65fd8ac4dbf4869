package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestToolChatGoldens renders conversations with tools, tool calls, tool
// results, reasoning content and template kwargs with real templates and
// compares them with Python Jinja2's renders (testdata/gen_tool_goldens.py).
func TestToolChatGoldens(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "tool_chat.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var c struct {
			Family   string                     `json:"family"`
			Name     string                     `json:"name"`
			Messages []Message                  `json:"messages"`
			Tools    json.RawMessage            `json:"tools"`
			Kwargs   map[string]json.RawMessage `json:"kwargs"`
			Rendered string                     `json:"rendered"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		tk := loadCached(t, familyDir(t, c.Family))
		opts := []ChatOption{WithVar("tools", c.Tools)}
		for k, v := range c.Kwargs {
			opts = append(opts, WithVar(k, v))
		}
		got, err := tk.ApplyChatTemplate(c.Messages, opts...)
		if err != nil {
			t.Errorf("%s/%s: %v", c.Family, c.Name, err)
			continue
		}
		if got != c.Rendered {
			t.Errorf("%s/%s:\n got %q\nwant %q", c.Family, c.Name, got, c.Rendered)
		}
		n++
	}
	if n < 8 {
		t.Errorf("only %d cases", n)
	}
}
