package tokenizer

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJinjaGoldens renders real models' chat templates and edge cases of
// Jinja's whitespace control, arithmetic and filters, and compares every
// byte with Python Jinja2's render under transformers' settings
// (testdata/gen_jinja_goldens.py). A case where Jinja2 raised must fail
// here too.
func TestJinjaGoldens(t *testing.T) {
	type jinjaCase struct {
		Name      string                     `json:"name"`
		Template  string                     `json:"template"`
		Messages  []Message                  `json:"messages"`
		Variables map[string]json.RawMessage `json:"variables"`
		Rendered  *string                    `json:"rendered"`
		Error     string                     `json:"error"`
	}
	cases := readJSONL[jinjaCase](t, filepath.Join("testdata", "jinja_goldens.jsonl"))
	stories := storiesBytes(t)
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	pass := 0
	for _, c := range cases {
		tk, err := FromBytes(stories, nil, WithChatTemplate(c.Template))
		if err != nil {
			t.Fatal(err)
		}
		opts := []ChatOption{WithNow(now)}
		for k, v := range c.Variables {
			opts = append(opts, WithVar(k, v))
		}
		got, err := tk.ApplyChatTemplate(c.Messages, opts...)
		switch {
		case c.Rendered == nil && err == nil:
			t.Errorf("%s: rendered %q; Jinja2 raised %s", c.Name, got, c.Error)
		case c.Rendered == nil:
			// raise_exception's message must come through unchanged.
			var te *TemplateError
			if msg, ok := strings.CutPrefix(c.Error, "TemplateError: "); ok && (!errors.As(err, &te) || te.Message != msg) {
				t.Errorf("%s: error %v; Jinja2 raised %s", c.Name, err, c.Error)
				continue
			}
			pass++
		case err != nil:
			t.Errorf("%s: %v", c.Name, err)
		case got != *c.Rendered:
			t.Errorf("%s:\n got %q\nwant %q", c.Name, got, *c.Rendered)
		default:
			pass++
		}
	}
	t.Logf("%d/%d Jinja2 goldens match", pass, len(cases))
	if len(cases) < 100 {
		t.Errorf("only %d cases", len(cases))
	}
}
