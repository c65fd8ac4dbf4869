package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/runtime/tokenizer"
)

func TestReasoningSplit(t *testing.T) {
	for _, tc := range []struct {
		name, promptTail, reply string
		reasoning, content      string
	}{
		{"qwen3 thinking", "<|im_start|>assistant\n", "<think>\nTwo plus two.\n</think>\n\nIt is 4.", "\nTwo plus two.\n", "\n\nIt is 4."},
		{"qwen3 thinking off", "<think>\n\n</think>\n\n", "It is 4.", "", "It is 4."},
		{"deepseek-r1 opened by the template", "<｜Assistant｜><think>\n", "Two plus two.</think>It is 4.", "Two plus two.", "It is 4."},
		{"no thinking", "assistant\n", "Hello <think> there", "", "Hello <think> there"},
		{"blank before think", "", "\n <think>a</think>b", "a", "b"},
		{"unclosed", "", "<think>still thinking", "still thinking", ""},
		{"almost a close tag", "", "<think>a </thin b</think>c", "a </thin b", "c"},
		{"almost an open tag", "", "<thin", "", "<thin"},
		{"empty", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := newReasoningSplit(true, tc.promptTail).split(tc.reply)
			if r != tc.reasoning || c != tc.content {
				t.Fatalf("whole reply: reasoning %q content %q, want %q %q", r, c, tc.reasoning, tc.content)
			}
			// Streamed in pieces of every size, the split is the same.
			for size := 1; size <= len(tc.reply); size++ {
				s := newReasoningSplit(true, tc.promptTail)
				var rs, cs strings.Builder
				for i := 0; i < len(tc.reply); i += size {
					r, c := s.push(tc.reply[i:min(i+size, len(tc.reply))])
					rs.WriteString(r)
					cs.WriteString(c)
				}
				r, c := s.flush()
				rs.WriteString(r)
				cs.WriteString(c)
				if rs.String() != tc.reasoning || cs.String() != tc.content {
					t.Fatalf("pieces of %d bytes: reasoning %q content %q, want %q %q", size, rs.String(), cs.String(), tc.reasoning, tc.content)
				}
			}
		})
	}
	if newReasoningSplit(false, "<think>\n") != nil {
		t.Error("enable_thinking false still splits")
	}
}

// TestChatFormatReasoning streams a Qwen3-style reply with a tool call
// through the chat format, token by token, and checks the chunks carry the
// reasoning as reasoning_content deltas, the answer as content, and the
// call as tool_calls; and that the whole reply gives the same message.
func TestChatFormatReasoning(t *testing.T) {
	tokens := []string{"<think>", "\n", "The user", " wants", " weather", ".\n", "</", "think", ">", "\n\n", "Let me", " check.",
		"<tool_call>", "\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}", "\n</tool_call>"}
	reply := strings.Join(tokens, "")
	ts := &toolSet{names: []string{"get_weather"}, choice: "auto",
		params: map[string]json.RawMessage{"get_weather": json.RawMessage(`{"type": "object"}`)}}
	newFormat := func() *chatFormat {
		return &chatFormat{meta: meta{ID: "x"}, tools: ts, think: newReasoningSplit(true, "<|im_start|>assistant\n")}
	}
	type delta struct {
		Content          *string `json:"content"`
		ReasoningContent *string `json:"reasoning_content"`
		ToolCalls        []struct {
			Function struct{ Name, Arguments string }
		} `json:"tool_calls"`
	}
	type chunk struct {
		Choices []struct {
			Delta        delta   `json:"delta"`
			Message      delta   `json:"message"`
			FinishReason *string `json:"finish_reason"`
		}
	}
	asChunk := func(v any) chunk {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var c chunk
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	f := newFormat()
	var chunks []chunk
	for _, tok := range tokens {
		if c := f.piece(tok, nil, nil); c != nil {
			chunks = append(chunks, asChunk(c))
		}
	}
	for _, c := range f.last("stop", nil, nil) {
		chunks = append(chunks, asChunk(c))
	}
	var reasoning, content, calls strings.Builder
	var finish string
	for _, c := range chunks {
		d := c.Choices[0].Delta
		if d.ReasoningContent != nil {
			reasoning.WriteString(*d.ReasoningContent)
		}
		if d.Content != nil {
			content.WriteString(*d.Content)
		}
		for _, tc := range d.ToolCalls {
			calls.WriteString(tc.Function.Name + tc.Function.Arguments)
		}
		if c.Choices[0].FinishReason != nil {
			finish = *c.Choices[0].FinishReason
		}
	}
	if got, want := reasoning.String(), "\nThe user wants weather.\n"; got != want {
		t.Errorf("streamed reasoning %q, want %q", got, want)
	}
	if got, want := content.String(), "\n\nLet me check."; got != want {
		t.Errorf("streamed content %q, want %q", got, want)
	}
	if got, want := calls.String(), `get_weather{"city":"Paris"}`; got != want {
		t.Errorf("streamed tool calls %q, want %q", got, want)
	}
	if finish != "tool_calls" {
		t.Errorf("finish_reason %q", finish)
	}
	// The reasoning streamed before the reply was over.
	if d := chunks[0].Choices[0].Delta; d.ReasoningContent == nil || d.Content != nil {
		t.Errorf("first chunk %+v is not reasoning only", d)
	}

	full := asChunk(newFormat().full(reply, "stop", nil, nil)).Choices[0].Message
	// (Tool-call parsing trims the content around the calls.)
	if full.ReasoningContent == nil || *full.ReasoningContent != reasoning.String() || full.Content == nil ||
		*full.Content != strings.TrimSpace(content.String()) || len(full.ToolCalls) != 1 {
		t.Errorf("full message %+v differs from the stream", full)
	}
}

// TestReasoningSplitOf checks which models and requests get reasoning
// split off, with the real Qwen3 (thinking) and Llama 3 (not) tokenizers
// and prompts rendered by their own templates.
func TestReasoningSplitOf(t *testing.T) {
	load := func(family string) *tokenizer.Tokenizer {
		dir := filepath.Join("..", "..", "..", "shared", "testdata", "tokenizers", family)
		tk, err := tokenizer.Load(dir)
		if err != nil {
			if os.Getenv("SYMBC_REQUIRE_GOLDENS") != "" {
				t.Fatal(err)
			}
			t.Skipf("shared test data not found: %v", err)
		}
		return tk
	}
	msgs := []tokenizer.Message{{Role: "user", Content: "2+2?"}}
	qwen := load("qwen3")
	off := map[string]json.RawMessage{"enable_thinking": json.RawMessage("false")}
	on := map[string]json.RawMessage{"enable_thinking": json.RawMessage("true")}
	for _, tc := range []struct {
		name             string
		kwargs, defaults map[string]json.RawMessage
		want             bool
	}{
		{"default", nil, nil, true},
		{"request off", off, nil, false},
		{"server off", nil, off, false},
		{"request on over server off", on, off, true},
	} {
		var opts []tokenizer.ChatOption
		for k, v := range tc.defaults {
			opts = append(opts, tokenizer.WithVar(k, v))
		}
		for k, v := range tc.kwargs {
			opts = append(opts, tokenizer.WithVar(k, v))
		}
		ids, err := qwen.EncodeChat(msgs, opts...)
		if err != nil {
			t.Fatal(err)
		}
		r := reasoningSplitOf(qwen, tc.kwargs, tc.defaults, ids)
		if (r != nil) != tc.want {
			t.Errorf("%s: splitter %v, want %v", tc.name, r != nil, tc.want)
			continue
		}
		if r != nil {
			// Qwen3's prompt leaves the <think> to the model.
			if got, _ := r.split("<think>a</think>b"); got != "a" {
				t.Errorf("%s: reasoning %q", tc.name, got)
			}
		}
	}
	// A prompt that ends inside <think>, as DeepSeek-R1's template makes.
	ids := qwen.Encode("<|im_start|>assistant\n<think>\n", false)
	if r := reasoningSplitOf(qwen, nil, nil, ids); r == nil || r.state != thinking {
		t.Error("a prompt ending in <think> does not start the reply thinking")
	}
	llama := load("llama3")
	if r := reasoningSplitOf(llama, nil, nil, llama.Encode("hi", false)); r != nil {
		t.Error("Llama 3 (no <think> token) gets a reasoning splitter")
	}
}
