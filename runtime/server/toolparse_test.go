package server

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestToolParse(t *testing.T) {
	ts := &toolSet{params: map[string]json.RawMessage{"get_weather": nil, "now": nil}, names: []string{"get_weather", "now"}}
	cases := []struct {
		text, content string
		calls         []string // name + arguments
	}{
		{"Just text.", "Just text.", nil},
		{"Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "Let me check.", []string{`get_weather {"city":"Paris"}`}},
		{"<tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call><tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Rome\\\"}\"}</tool_call>", "", []string{`now {}`, `get_weather {"city":"Rome"}`}},
		{`{"name": "get_weather", "parameters": {"city": "Oslo"}}`, "", []string{`get_weather {"city":"Oslo"}`}}, // Llama 3.1
		{` [{"name": "now", "arguments": {}}, {"name": "now"}]`, "", []string{`now {}`, `now {}`}},               // Mistral
		{`{"name": "delete_all", "arguments": {}}`, `{"name": "delete_all", "arguments": {}}`, nil},              // not a tool of the request
		{"<tool_call>{\"name\": \"now\", \"argu", "<tool_call>{\"name\": \"now\", \"argu", nil},                  // cut off
		{`{"answer": 42}`, `{"answer": 42}`, nil},
	}
	for _, tc := range cases {
		content, calls := ts.parse(tc.text)
		var got []string
		for _, c := range calls {
			got = append(got, c.Function.Name+" "+c.Function.Arguments)
			if !strings.HasPrefix(c.ID, "call_") || c.Type != "function" {
				t.Errorf("%q: call %+v", tc.text, c)
			}
		}
		if content != tc.content || strings.Join(got, "|") != strings.Join(tc.calls, "|") {
			t.Errorf("%q: content %q calls %q, want %q %q", tc.text, content, got, tc.content, tc.calls)
		}
	}
}

func TestParallelToolCallsFalse(t *testing.T) {
	ts := &toolSet{params: map[string]json.RawMessage{"now": nil}, names: []string{"now"}, single: true}
	if _, calls := ts.parse(`[{"name": "now", "arguments": {}}, {"name": "now", "arguments": {"x": 1}}]`); len(calls) != 1 || calls[0].Function.Arguments != "{}" {
		t.Errorf("calls %+v", calls)
	}
}

func TestToolHold(t *testing.T) {
	for _, tc := range []struct {
		pieces []string
		sent   string // released while streaming
		rest   string
	}{
		{[]string{"Hel", "lo ", "there"}, "Hello there", ""},
		{[]string{"Sure", ". <tool", "_call>{", "}</tool_call>"}, "Sure. ", "<tool_call>{}</tool_call>"},
		{[]string{"a <to", "y> b"}, "a <toy> b", ""},
		{[]string{" \n", " {\"name\"", ": 1}"}, "", " \n {\"name\": 1}"},
		{[]string{" ", "[", "1]"}, "", " [1]"},
		{[]string{"x", " {not held}"}, "x {not held}", ""},
	} {
		var h toolHold
		sent := ""
		for _, p := range tc.pieces {
			sent += h.push(p)
		}
		if sent != tc.sent || h.rest() != tc.rest {
			t.Errorf("%q: sent %q rest %q, want %q %q", tc.pieces, sent, h.rest(), tc.sent, tc.rest)
		}
	}
}
