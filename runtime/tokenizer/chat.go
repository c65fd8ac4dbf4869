package tokenizer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/symbc/symbc/third_party/jinja"
)

// Message is one chat turn, in the OpenAI / transformers shape. The
// optional fields reach the template only when set, so that templates'
// "is defined" tests see what the conversation has.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// Name is the participant's or the tool's name.
	Name string `json:"name,omitempty"`
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID is the call a tool turn answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// ReasoningContent is an assistant turn's reasoning (thinking) text,
	// which templates such as Qwen3's render or drop.
	ReasoningContent string `json:"reasoning_content,omitempty"`
}

// ToolCall is one function call of an assistant turn. Templates read
// Function.Arguments as a mapping (transformers' convention), so it should
// hold a JSON object; OpenAI clients send a string of JSON, which callers
// decode first.
type ToolCall struct {
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type"` // "function"
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction is the function a ToolCall calls.
type ToolCallFunction struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ChatOption configures ApplyChatTemplate; an option given a value it
// cannot take makes ApplyChatTemplate fail.
type ChatOption func(*chatOptions) error

type chatOptions struct {
	addGenerationPrompt bool
	vars                map[string]any
	templateName        string
	now                 func() time.Time
	ctx                 context.Context
}

// WithGenerationPrompt sets add_generation_prompt (default true): whether
// the prompt ends with the header of an assistant turn.
func WithGenerationPrompt(on bool) ChatOption {
	return func(o *chatOptions) error { o.addGenerationPrompt = on; return nil }
}

// WithVar passes an extra template variable, such as enable_thinking or
// tools. It overrides the special-token variables of the same name. The
// value may be any JSON-marshalable Go value or a json.RawMessage; object
// keys keep their order (struct field order, or the order in the JSON).
// The name must not be empty.
func WithVar(name string, value any) ChatOption {
	return func(o *chatOptions) error {
		if name == "" {
			return errors.New("chat template variable with an empty name")
		}
		if o.vars == nil {
			o.vars = make(map[string]any)
		}
		o.vars[name] = value
		return nil
	}
}

// WithTemplateName picks one of several named chat templates (default
// "default").
func WithTemplateName(name string) ChatOption {
	return func(o *chatOptions) error { o.templateName = name; return nil }
}

// WithNow sets the clock behind the templates' strftime_now (default
// time.Now), for reproducible prompts; nil is an error.
func WithNow(now func() time.Time) ChatOption {
	return func(o *chatOptions) error {
		if now == nil {
			return errors.New("nil clock for strftime_now")
		}
		o.now = now
		return nil
	}
}

// ErrNoChatTemplate is returned when the tokenizer has no chat template.
var ErrNoChatTemplate = errors.New("tokenizer has no chat template")

// HasChatTemplate reports whether a chat template was loaded.
func (t *Tokenizer) HasChatTemplate() bool {
	return t.templates.single != "" || len(t.templates.named) > 0
}

// ChatTemplate returns the source of the chat template that
// ApplyChatTemplate uses by default.
func (t *Tokenizer) ChatTemplate() string {
	src, _ := t.templateSource("")
	return src
}

func (t *Tokenizer) templateSource(name string) (string, error) {
	if t.templates.named != nil {
		if name == "" {
			name = "default"
		}
		src, ok := t.templates.named[name]
		if !ok {
			names := append([]string(nil), t.templates.order...)
			sort.Strings(names)
			return "", fmt.Errorf("chat template %q not found (have %v)", name, names)
		}
		return src, nil
	}
	if name != "" && name != "default" {
		return "", fmt.Errorf("chat template %q not found (there is only one)", name)
	}
	if t.templates.single == "" {
		return "", ErrNoChatTemplate
	}
	return t.templates.single, nil
}

type compiledTemplate struct {
	tmpl *jinja.Template
	err  error
}

func (t *Tokenizer) compiledTemplate(name string) (*jinja.Template, error) {
	if c, ok := t.compiled.Load(name); ok {
		ct := c.(*compiledTemplate)
		return ct.tmpl, ct.err
	}
	src, err := t.templateSource(name)
	if err != nil {
		return nil, err
	}
	tmpl, err := jinja.Compile(src)
	if err != nil {
		tmpl, err = nil, fmt.Errorf("chat template: %w", err)
	}
	c, _ := t.compiled.LoadOrStore(name, &compiledTemplate{tmpl: tmpl, err: err})
	ct := c.(*compiledTemplate)
	return ct.tmpl, ct.err
}

// ApplyChatTemplate renders messages with the tokenizer's chat template,
// with the variables transformers passes: messages, add_generation_prompt,
// tools and documents (none), the special tokens of tokenizer_config.json
// (bos_token, eos_token, ...), and the functions raise_exception and
// strftime_now. The template engine renders as Python Jinja2 does with
// transformers' settings (trim_blocks, lstrip_blocks, loopcontrols).
// Templates are untrusted: steps, output, the bytes expressions make, macro
// nesting and range() are bounded (ErrTemplateLimit), and rendering stops
// after a time limit or when the WithContext context is done.
func (t *Tokenizer) ApplyChatTemplate(messages []Message, opts ...ChatOption) (string, error) {
	o := chatOptions{addGenerationPrompt: true, now: time.Now, ctx: context.Background()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return "", err
		}
	}
	tmpl, err := t.compiledTemplate(o.templateName)
	if err != nil {
		return "", err
	}
	b := &renderBudget{}
	msgs := make([]jinja.Value, len(messages))
	for i, m := range messages {
		d, err := messageValue(m)
		if err != nil {
			return "", fmt.Errorf("chat message %d: %w", i, err)
		}
		msgs[i] = d
	}
	data := map[string]jinja.Value{
		"messages":              jinja.NewList(msgs),
		"add_generation_prompt": jinja.NewBool(o.addGenerationPrompt),
		"tools":                 jinja.None(),
		"documents":             jinja.None(),
		"raise_exception":       jinja.NewCallable("raise_exception", raiseException),
		"strftime_now":          jinja.NewCallable("strftime_now", strftimeNow(o.now)),
		"range":                 jinja.NewCallable("range", b.rangeFunc),
	}
	for _, kv := range t.templateVars {
		data[kv[0]] = jinja.NewString(kv[1])
	}
	for k, v := range o.vars {
		jv, err := toJinja(v)
		if err != nil {
			return "", fmt.Errorf("chat template variable %s: %w", k, err)
		}
		data[k] = jv
	}
	out, err := render(o.ctx, tmpl, data)
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return out, nil
}

// messageValue is m as the template sees it: role and content always,
// the other fields when set.
func messageValue(m Message) (jinja.Value, error) {
	d := jinja.NewDict()
	dict := d.AsDict()
	dict.Set("role", jinja.NewString(m.Role))
	dict.Set("content", jinja.NewString(m.Content))
	for _, f := range [][2]string{{"name", m.Name}, {"tool_call_id", m.ToolCallID}, {"reasoning_content", m.ReasoningContent}} {
		if f[1] != "" {
			dict.Set(f[0], jinja.NewString(f[1]))
		}
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			args := c.Function.Arguments
			if len(args) == 0 {
				args = json.RawMessage("{}")
			}
			av, err := toJinja(args)
			if err != nil {
				return jinja.Value{}, fmt.Errorf("tool call %d arguments: %w", i, err)
			}
			fn := jinja.NewDict()
			fn.AsDict().Set("name", jinja.NewString(c.Function.Name))
			fn.AsDict().Set("arguments", av)
			call := jinja.NewDict()
			if c.ID != "" {
				call.AsDict().Set("id", jinja.NewString(c.ID))
			}
			call.AsDict().Set("type", jinja.NewString(cmp.Or(c.Type, "function")))
			call.AsDict().Set("function", fn)
			calls[i] = call
		}
		dict.Set("tool_calls", jinja.NewList(calls))
	}
	return d, nil
}

// EncodeChat renders messages and encodes the prompt without adding
// special tokens (the template writes them), like transformers'
// apply_chat_template(..., tokenize=True).
func (t *Tokenizer) EncodeChat(messages []Message, opts ...ChatOption) ([]int, error) {
	s, err := t.ApplyChatTemplate(messages, opts...)
	if err != nil {
		return nil, err
	}
	return t.Encode(s, false), nil
}

// TemplateError is the error a template raises through raise_exception.
type TemplateError struct{ Message string }

func (e *TemplateError) Error() string { return e.Message }

func raiseException(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	msg := "raise_exception called"
	if len(args) > 0 {
		if args[0].IsString() {
			msg = args[0].AsString()
		} else {
			msg = args[0].String()
		}
	}
	return jinja.Undefined(), &TemplateError{Message: msg}
}

func strftimeNow(now func() time.Time) func([]jinja.Value, map[string]jinja.Value) (jinja.Value, error) {
	return func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), fmt.Errorf("strftime_now: expected one format string")
		}
		return jinja.NewString(strftime(now(), args[0].AsString())), nil
	}
}
