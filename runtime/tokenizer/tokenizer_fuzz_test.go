package tokenizer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chatMLTemplate is the shape of the templates most instruct models ship.
const chatMLTemplate = `{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] | trim + '<|im_end|>\n' }}{%- endfor %}` +
	`{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}`

// FuzzFromBytes: hostile tokenizer.json, tokenizer_config.json and chat
// template bytes give an error or a tokenizer whose Encode, Decode and
// ApplyChatTemplate return without panicking or hanging.
func FuzzFromBytes(f *testing.F) {
	tj, err := os.ReadFile(filepath.Join(storiesDir, TokenizerFile))
	if err != nil {
		f.Fatal(err)
	}
	cj, err := os.ReadFile(filepath.Join(storiesDir, ConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tj, cj, chatMLTemplate)
	f.Add(tj, []byte(`{"bos_token": "<s>", "chat_template": [{"name": "default", "template": "{{ bos_token }}"}]}`), "")
	f.Add(tj, []byte(`{"eos_token": {"content": "</s>"}, "additional_special_tokens": ["<unk>"]}`), testTemplate)
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}`), []byte(nil), "{% for i in range(3) %}{{ i }}{% endfor %}")
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": true}, "added_tokens": [{"id": 5, "content": "x", "special": true}]}`), []byte(`{}`), "")
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 9999999}}}`), []byte(nil), "")
	f.Add([]byte(`{}`), []byte(`[]`), "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")
	msgs := []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi <s> there é 🙂"}}
	f.Fuzz(func(t *testing.T, tokJSON, cfgJSON []byte, tmpl string) {
		var opts []Option
		if tmpl != "" {
			opts = append(opts, WithChatTemplate(tmpl))
		}
		tk, err := FromBytes(tokJSON, cfgJSON, opts...)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tokenizer: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		for _, s := range []string{"", "Hello world", "  spaces\tand\nnewlines ", "<s>x</s>", "é🙂\x00\xff"} {
			ids := tk.Encode(s, true)
			for _, id := range ids {
				if _, ok := tk.TokenString(id); !ok {
					t.Fatalf("Encode(%q) gave id %d with no token", s, id)
				}
			}
			_ = tk.Decode(ids, false)
			_ = tk.Decode(ids, true)
		}
		_ = tk.Decode([]int{-1, 0, 1, 1 << 30, tk.VocabSize()}, false)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = tk.ApplyChatTemplate(msgs, WithContext(ctx))
	})
}

func hostileTokenizer(t *testing.T, tmpl string) *Tokenizer {
	t.Helper()
	tk, err := FromBytes(storiesBytes(t), nil, WithChatTemplate(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestChatTemplateHostile(t *testing.T) {
	msgs := []Message{{Role: "user", Content: "Hi"}}
	for _, tc := range []struct {
		name, tmpl string
	}{
		{"huge range", `{% for i in range(10**9) %}x{% endfor %}`},
		{"huge int range", `{% for i in range(0, 9223372036854775807, 1) %}x{% endfor %}`},
		{"negative step range", `{{ range(9223372036854775807, -9223372036854775807, -1) | length }}`},
		{"nested ranges", `{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}`},
		{"recursive macro", `{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}`},
		{"mutual recursion", `{%- macro a() -%}{{ b() }}{%- endmacro -%}{%- macro b() -%}{{ a() }}{%- endmacro -%}{{ a() }}`},
		{"recursion through alias", `{% macro a() %}{{ f() }}{% endmacro %}{% set f = a %}{{ a() }}`},
		{"huge repetition", `{{ 'x' * 10**10 }}`},
		{"repetition doubling", `{% set s = namespace(v='x') %}{% for i in range(64) %}{% set s.v = s.v ~ s.v %}{% endfor %}{{ s.v | length }}`},
		{"list repetition", `{{ ([1] * 10**8) | length }}`},
		{"join of repeated strings", `{{ (['x' * 10**6] * 10**6) | join }}`},
		{"replace blow-up", `{{ ('x' * 10**6).replace('x', 'y' * 10**6) }}`},
		{"integer overflow", `{{ 10 ** 100 }}`},
		{"deep nesting", "{{ " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + " }}"},
		{"deep blocks", strings.Repeat("{% if true %}", 100000) + strings.Repeat("{% endif %}", 100000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := hostileTokenizer(t, tc.tmpl).ApplyChatTemplate(msgs)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("hostile template rendered without error")
				}
				if !strings.HasPrefix(err.Error(), "chat template: ") {
					t.Errorf("error lacks context: %v", err)
				}
			case <-time.After(defaultRenderTimeout + 5*time.Second):
				t.Fatal("ApplyChatTemplate did not return within the render time limit")
			}
		})
	}
}

func TestChatTemplateLimitsKeepNormalTemplates(t *testing.T) {
	// Bounded range, non-recursive macros and a macro passed as a value
	// still work.
	tmpl := `{% macro item(m) %}[{{ m.role }}]{% endmacro %}{% macro wrap(x) %}<{{ x }}>{% endmacro %}` +
		`{% for i in range(messages | length) %}{{ wrap(item(messages[i])) }}{% endfor %}` +
		`{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}{{ range(5, 2) | length }}`
	got, err := hostileTokenizer(t, tmpl).ApplyChatTemplate([]Message{{Role: "user"}, {Role: "assistant"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "<[user]><[assistant]>3210"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestChatTemplateContextCanceled(t *testing.T) {
	tk := hostileTokenizer(t, chatMLTemplate)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A canceled context either wins the race or the render finishes first;
	// either way the call returns promptly and the error, if any, is ctx's.
	if _, err := tk.ApplyChatTemplate([]Message{{Role: "user"}}, WithContext(ctx)); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled or nil", err)
	}
}

func TestChatTemplateLimitErrorsAreTyped(t *testing.T) {
	_, err := hostileTokenizer(t, `{% for i in range(10**9) %}{% endfor %}`).ApplyChatTemplate(nil)
	if !errors.Is(err, ErrTemplateLimit) {
		t.Errorf("err = %v, want ErrTemplateLimit", err)
	}
	_, err = hostileTokenizer(t, `{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}`).ApplyChatTemplate(nil)
	if !errors.Is(err, ErrTemplateLimit) {
		t.Errorf("err = %v, want ErrTemplateLimit", err)
	}
}
