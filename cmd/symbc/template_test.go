package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/runtime/tokenizer"
)

// writeMessages writes v as JSON to a temporary file and returns its path.
func writeMessages(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "messages.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// chatFolder makes a tokenizer folder from the stories260k tokenizer.json
// and a tokenizer_config.json carrying chatTemplate.
func chatFolder(t *testing.T, chatTemplate string) string {
	t.Helper()
	dir := t.TempDir()
	tj, err := os.ReadFile(filepath.Join(storiesTokenizerDir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(map[string]any{"bos_token": "<s>", "eos_token": "</s>", "chat_template": chatTemplate})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const testChatTemplate = `{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{{ "\n" }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}`

func TestTemplateRendersExactly(t *testing.T) {
	dir := chatFolder(t, testChatTemplate)
	msgs := []tokenizer.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "  Hi\nthere  "},
		{Role: "assistant", Content: "Hello."},
		{Role: "user", Content: "Café? 日本"},
	}
	const body = "<s><|system|>Be brief.\n<|user|>Hi\nthere\n<|assistant|>Hello.</s>\n<|user|>Café? 日本\n"
	for _, c := range []struct {
		name     string
		messages any
		flags    []string
		want     string
	}{
		{"array", msgs, nil, body + "<|assistant|>"},
		{"object", map[string]any{"messages": msgs}, nil, body + "<|assistant|>"},
		{"no generation prompt", msgs, []string{"--no-generation-prompt"}, body},
	} {
		path := writeMessages(t, c.messages)
		out, err := runCLI(t, append([]string{"template", dir, "--messages", path}, c.flags...)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, out)
		}
		if out != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, out, c.want)
		}
	}
}

// TestTemplateLlama3Goldens renders the Llama 3 chat goldens, which were
// produced by transformers' apply_chat_template.
func TestTemplateLlama3Goldens(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "tokenizers", "llama3")
	f, err := os.Open(filepath.Join(dir, "chat.jsonl"))
	if os.IsNotExist(err) {
		t.Skipf("%s is absent (shared test data not checked out)", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type chatGolden struct {
		Name                string              `json:"name"`
		Messages            []tokenizer.Message `json:"messages"`
		AddGenerationPrompt bool                `json:"add_generation_prompt"`
		TemplateVars        map[string]any      `json:"template_vars"`
		Rendered            string              `json:"rendered"`
	}
	var cases []chatGolden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c chatGolden
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("chat.jsonl line %d: %v", len(cases)+1, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var ran, noGen int
	for _, c := range cases {
		// The command sets no template variables beyond the special tokens
		// of tokenizer_config.json; goldens that need more are not for it.
		extra := false
		for k := range c.TemplateVars {
			extra = extra || !strings.HasSuffix(k, "_token")
		}
		// Each run loads the 9 MB tokenizer.json, so a few cases with a
		// generation prompt are enough here; the tokenizer package checks all.
		if extra || (c.AddGenerationPrompt && ran-noGen >= 3) {
			continue
		}
		args := []string{"template", dir, "--messages", writeMessages(t, c.Messages)}
		if !c.AddGenerationPrompt {
			args = append(args, "--no-generation-prompt")
			noGen++
		}
		out, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if out != c.Rendered {
			t.Errorf("%s:\n got %q\nwant %q", c.Name, out, c.Rendered)
		}
		ran++
	}
	if ran < 3 || noGen == 0 {
		t.Fatalf("rendered %d goldens (%d without generation prompt); the golden file looks incomplete", ran, noGen)
	}
	t.Logf("rendered %d goldens exactly (%d without generation prompt)", ran, noGen)
}

func TestTemplateNoChatTemplate(t *testing.T) {
	path := writeMessages(t, []tokenizer.Message{{Role: "user", Content: "hi"}})
	_, err := runCLI(t, "template", storiesTokenizerDir, "--messages", path)
	if err == nil {
		t.Fatal("template succeeded for a tokenizer without a chat template")
	}
	if msg := err.Error(); !strings.Contains(msg, storiesTokenizerDir) || !strings.Contains(msg, "no chat template") || !strings.Contains(msg, "chat_template") {
		t.Errorf("unclear error %q", msg)
	}
	if code := exitCode(err); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

func TestTemplateErrors(t *testing.T) {
	dir := chatFolder(t, testChatTemplate)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"role": "user"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		code int
		want string
	}{
		"no messages flag": {[]string{"template", dir}, 2, "--messages"},
		"no folder":        {[]string{"template", "--messages", bad}, 2, "arg"},
		"missing file":     {[]string{"template", dir, "--messages", filepath.Join(dir, "nope.json")}, 1, "nope.json"},
		"not messages":     {[]string{"template", dir, "--messages", bad}, 1, bad},
		"no tokenizer":     {[]string{"template", t.TempDir(), "--messages", writeMessages(t, []tokenizer.Message{})}, 1, "tokenizer.json"},
	} {
		_, err := runCLI(t, c.args...)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", name, err, c.want)
		}
		if code := exitCode(err); code != c.code {
			t.Errorf("%s: exit code %d, want %d", name, code, c.code)
		}
	}
}

func TestChatTemplateFlags(t *testing.T) {
	dir := chatFolder(t, testChatTemplate)
	tmpl := filepath.Join(t.TempDir(), "override.jinja")
	if err := os.WriteFile(tmpl, []byte(`{% if greeting %}{{ greeting }}{% endif %}{{ messages[0].content }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	path := writeMessages(t, []tokenizer.Message{{Role: "user", Content: "hello"}})
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--chat-template", tmpl}, "hello"},
		{[]string{"--chat-template", tmpl, "--chat-template-kwargs", `{"greeting": "Hi! "}`}, "Hi! hello"},
		{[]string{"--chat-template-kwargs", `{"unused": [1, {"a": true}]}`}, "<s><|user|>hello\n<|assistant|>"},
	} {
		out, err := runCLI(t, append([]string{"template", dir, "--messages", path}, c.flags...)...)
		if err != nil || out != c.want {
			t.Errorf("%v: %q (%v), want %q", c.flags, out, err, c.want)
		}
	}
	for _, bad := range [][]string{
		{"--chat-template-kwargs", `[1]`},
		{"--chat-template-kwargs", `{"messages": []}`},
		{"--chat-template", filepath.Join(t.TempDir(), "missing.jinja")},
	} {
		if _, stderr, code := symbcRun(t, append([]string{"template", dir, "--messages", path}, bad...)...); code == 0 || !strings.Contains(stderr, bad[0]) {
			t.Errorf("%v: exit %d, %s", bad, code, stderr)
		}
	}

	// Tools and tool-call history from the messages file reach the template.
	conv := filepath.Join(t.TempDir(), "tools.json")
	if err := os.WriteFile(conv, []byte(`{"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
		"messages": [{"role": "user", "content": "Weather?"},
		{"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
		{"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "cold"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	toolTemplate := filepath.Join("..", "..", "runtime", "server", "testdata", "tool_template.jinja")
	out, err := runCLI(t, "template", dir, "--messages", conv, "--chat-template", toolTemplate)
	want := "<s>Tools: get_weather({\"type\": \"object\"}) \nWeather?\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}</tool_call>\nResult of get_weather (c1): cold"
	if err != nil || out != want {
		t.Errorf("tools: %q (%v)\nwant %q", out, err, want)
	}

	// run and serve take the same flags: the kwargs reach the template.
	model := storiesFolder(t)
	story := filepath.Join(t.TempDir(), "story.jinja")
	if err := os.WriteFile(story, []byte(`{{ bos_token }}{{ story_start }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := symbcRun(t, "run", model, "--messages", path, "--chat-template", story,
		"--chat-template-kwargs", `{"story_start": "Once upon a time"}`, "--max-tokens", "16", "-t", "2", "--quiet")
	if code != 0 || !strings.HasPrefix(greedyText, strings.TrimSuffix(out, "\n")) || len(out) < 20 {
		t.Errorf("run: exit %d, %q, %s", code, out, stderr)
	}
}
