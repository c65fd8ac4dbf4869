package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func storiesBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(storiesDir, TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const testTemplate = `{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m['content'] | trim }}
{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}`

func TestApplyChatTemplate(t *testing.T) {
	cfg := []byte(`{"bos_token": "<s>", "eos_token": {"content": "</s>", "__type": "AddedToken"}, "pad_token": null}`)
	tk, err := FromBytes(storiesBytes(t), cfg, WithChatTemplate(testTemplate))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{{Role: "system", Content: " Be brief. "}, {Role: "user", Content: "Hi"}}
	got, err := tk.ApplyChatTemplate(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<s>[system] Be brief.\n[user] Hi\n[assistant]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err = tk.ApplyChatTemplate(msgs, WithGenerationPrompt(false))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(got, "[assistant]") {
		t.Errorf("generation prompt present: %q", got)
	}
	ids, err := tk.EncodeChat(msgs)
	if err != nil {
		t.Fatal(err)
	}
	// The Prepend("▁") normalizer puts a space after <s>, which decoding
	// without special tokens strips again.
	if ids[0] != tk.BOS() || tk.Decode(ids, true) != "[system] Be brief.\n[user] Hi\n[assistant]" {
		t.Errorf("EncodeChat ids %v decode to %q", ids, tk.Decode(ids, true))
	}
}

func TestChatTemplateFunctionsAndVars(t *testing.T) {
	tmpl := `{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}` +
		`{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d/%m %H:%M') }}|{{ eos_token }}|{{ flavor }}|{{ tools is none }}`
	tk, err := FromBytes(storiesBytes(t), []byte(`{"eos_token": "</s>"}`), WithChatTemplate(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2024, 7, 5, 9, 3, 0, 0, time.UTC) }
	got, err := tk.ApplyChatTemplate([]Message{{Role: "user", Content: "x"}}, WithNow(now), WithVar("flavor", "mint"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "05 Jul 2024|5/07 09:03|</s>|mint|True"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = tk.ApplyChatTemplate([]Message{{Role: "assistant", Content: "x"}})
	var te *TemplateError
	if !errors.As(err, &te) || te.Message != "first message must be from the user" {
		t.Errorf("raise_exception: got %v", err)
	}
}

func TestNamedChatTemplates(t *testing.T) {
	cfg := []byte(`{"chat_template": [{"name": "tool_use", "template": "T{{ messages|length }}"}, {"name": "default", "template": "D{{ messages|length }}"}]}`)
	tk, err := FromBytes(storiesBytes(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}}
	if got, err := tk.ApplyChatTemplate(msgs); err != nil || got != "D2" {
		t.Errorf("default: %q, %v", got, err)
	}
	if got, err := tk.ApplyChatTemplate(msgs, WithTemplateName("tool_use")); err != nil || got != "T2" {
		t.Errorf("tool_use: %q, %v", got, err)
	}
	if _, err := tk.ApplyChatTemplate(msgs, WithTemplateName("nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown template name: %v", err)
	}
	if tk.ChatTemplate() != "D{{ messages|length }}" {
		t.Errorf("ChatTemplate() = %q", tk.ChatTemplate())
	}
}

func TestChatTemplateErrors(t *testing.T) {
	tk, err := FromBytes(storiesBytes(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.ApplyChatTemplate(nil); !errors.Is(err, ErrNoChatTemplate) {
		t.Errorf("no template: %v", err)
	}
	tk, err = FromBytes(storiesBytes(t), nil, WithChatTemplate("{% if %}"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.ApplyChatTemplate(nil); err == nil || !strings.Contains(err.Error(), "chat template") {
		t.Errorf("bad template: %v", err)
	}
}

func TestLoadChatTemplateFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "tokenizer")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		TokenizerFile:    storiesBytes(t),
		ConfigFile:       []byte(`{"chat_template": "from config", "bos_token": "<s>"}`),
		ChatTemplateFile: []byte("from file {{ bos_token }}"),
	} {
		if err := os.WriteFile(filepath.Join(sub, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// dir is laid out like a .symb model: the files are in tokenizer/.
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tk.ApplyChatTemplate(nil); err != nil || got != "from file <s>" {
		t.Errorf("got %q, %v; chat_template.jinja should win over the config", got, err)
	}
}

func TestStrftime(t *testing.T) {
	tm := time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)
	for format, want := range map[string]string{
		"%Y-%m-%d":          "2025-01-02",
		"%d %B %Y":          "02 January 2025",
		"%-d %b, %a %A":     "2 Jan, Thu Thursday",
		"%I:%M:%S %p %H %j": "03:04:05 PM 15 002",
		"100%% %q":          "100% %q",
	} {
		if got := strftime(tm, format); got != want {
			t.Errorf("strftime(%q) = %q, want %q", format, got, want)
		}
	}
}

func TestChatTemplateToolsKeepOrder(t *testing.T) {
	tk, err := FromBytes(storiesBytes(t), nil, WithChatTemplate(`{% for t in tools %}{{ t | tojson }}|{% endfor %}{{ n }}`))
	if err != nil {
		t.Fatal(err)
	}
	type fn struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	tools := json.RawMessage(`[{"type": "function", "function": {"name": "f", "args": {"z": 1, "a": [true, null, 2.5]}}}]`)
	got, err := tk.ApplyChatTemplate(nil, WithVar("tools", tools), WithVar("n", []fn{{Name: "g", Description: "é<>"}}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type": "function", "function": {"name": "f", "args": {"z": 1, "a": [true, null, 2.5]}}}|[{'name': 'g', 'description': 'é<>'}]`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Options given a value they cannot take are errors, not silent defaults.
func TestBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := FromBytes(storiesBytes(t), nil, WithChatTemplate("")); err == nil || !strings.Contains(err.Error(), "empty chat template") {
		t.Fatalf("empty template: %v", err)
	}
	tk, err := FromBytes(storiesBytes(t), nil, WithChatTemplate(testTemplate))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{{Role: "user", Content: "Hi"}}
	//lint:ignore SA1012 a nil context is what is tested
	for name, o := range map[string]ChatOption{"var": WithVar("", 1), "now": WithNow(nil), "context": WithContext(nil)} {
		if _, err := tk.ApplyChatTemplate(msgs, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
