package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbc/symbc/runtime/tokenizer"
)

type (
	toolCallJSON struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	toolChoiceJSON struct {
		Message struct {
			Content   *string        `json:"content"`
			ToolCalls []toolCallJSON `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	}
	toolReply struct {
		Choices []toolChoiceJSON `json:"choices"`
		Usage   usageJSON        `json:"usage"`
	}
)

func TestJSONOutput(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	user := `"messages":[{"role":"user","content":"Once upon a time"}]`
	for _, tc := range []struct{ name, format string }{
		{"json_object", `{"type":"json_object"}`},
		{"json_schema", `{"type":"json_schema","json_schema":{"name":"toy","strict":true,"schema":{"type":"object",
			"properties":{"color":{"enum":["red","blue"]},"count":{"type":"integer"},"soft":{"type":"boolean"},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":3}},
			"required":["color","count","soft"],"additionalProperties":false}}}`},
	} {
		for _, temp := range []string{"0", "1"} {
			status, b := post(t, srv.URL+"/v1/chat/completions", `{`+user+`,"temperature":`+temp+`,"seed":3,"max_tokens":300,"response_format":`+tc.format+`}`)
			if status != 200 {
				t.Fatalf("%s: %d %s", tc.name, status, b)
			}
			res := decode[chatResponse](t, b)
			text := res.Choices[0].Message.Content
			if tc.name == "json_object" && res.Choices[0].FinishReason == "length" {
				// A story model writes stories into its strings; cut off,
				// the text must still be the start of a JSON object.
				if !jsonPrefix(text) || !strings.HasPrefix(strings.TrimSpace(text), "{") {
					t.Errorf("%s at temperature %s: %q is not the start of a JSON object", tc.name, temp, text)
				}
				continue
			}
			var obj map[string]any
			if err := json.Unmarshal([]byte(text), &obj); err != nil || res.Choices[0].FinishReason != "stop" {
				t.Errorf("%s at temperature %s: finish %s, %q is not a JSON object: %v", tc.name, temp, res.Choices[0].FinishReason, text, err)
				continue
			}
			if tc.name == "json_schema" {
				if c := obj["color"]; (c != "red" && c != "blue") || len(obj) < 3 {
					t.Errorf("schema not followed: %s", text)
				}
				if _, ok := obj["soft"].(bool); !ok {
					t.Errorf("soft is not a boolean: %s", text)
				}
				if n, ok := obj["count"].(float64); !ok || n != float64(int64(n)) {
					t.Errorf("count is not an integer: %s", text)
				}
			}
			t.Logf("%s at temperature %s: %s", tc.name, temp, text)
		}
	}
	for _, bad := range []struct{ format, param string }{
		{`{"type":"xml"}`, "response_format.type"},
		{`{"type":"json_schema"}`, "response_format.json_schema"},
		{`{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"a+"}}}`, "response_format.json_schema.schema"},
	} {
		status, b := post(t, srv.URL+"/v1/chat/completions", `{`+user+`,"response_format":`+bad.format+`}`)
		if e := decode[errorResponse](t, b).Error; status != 400 || e == nil || !nullable(e.Param, bad.param) {
			t.Errorf("%s: %d %s", bad.format, status, b)
		}
	}
}

// jsonPrefix reports whether text is valid JSON cut off somewhere, by
// encoding/json's own reading.
func jsonPrefix(text string) bool {
	dec := json.NewDecoder(strings.NewReader(text))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return errors.Is(err, io.ErrUnexpectedEOF)
		}
	}
}

// toolModelDir is stories260k with a chat template that renders tools,
// tool calls and tool results (testdata/tool_template.jinja).
func toolModelDir(t *testing.T) string {
	dir := storiesDir(t)
	tmpl, err := os.ReadFile(filepath.Join("testdata", "tool_template.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer", "chat_template.jinja"), tmpl, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const weatherTool = `{"type":"function","function":{"name":"get_weather","description":"Weather in a city",
	"parameters":{"type":"object","properties":{"city":{"enum":["Paris","London"]},"days":{"type":"integer"}},"required":["city"]}}}`

func TestToolCallRoundTrip(t *testing.T) {
	m := loadModel(t, toolModelDir(t))
	srv, _ := newServer(t, m)
	ask := `{"role":"user","content":"Once upon a time"}`
	for _, choice := range []string{`"required"`, `{"type":"function","function":{"name":"get_weather"}}`} {
		for _, stream := range []bool{false, true} {
			body := `{"messages":[` + ask + `],"temperature":0,"max_tokens":200,"tools":[` + weatherTool + `,{"type":"function","function":{"name":"count","parameters":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}}}],"tool_choice":` + choice
			var res toolReply
			if !stream {
				status, b := post(t, srv.URL+"/v1/chat/completions", body+`}`)
				if status != 200 {
					t.Fatalf("%d %s", status, b)
				}
				res = decode[toolReply](t, b)
			} else {
				res = collectStream(t, srv.URL, body+`,"stream":true}`)
			}
			c := res.Choices[0]
			if c.FinishReason != "tool_calls" || len(c.Message.ToolCalls) != 1 {
				t.Fatalf("tool_choice %s stream %v: %+v", choice, stream, c)
			}
			call := c.Message.ToolCalls[0]
			var args map[string]any
			if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil || !strings.HasPrefix(call.ID, "call_") || call.Type != "function" {
				t.Fatalf("call %+v: %v", call, err)
			}
			if choice != `"required"` && (call.Function.Name != "get_weather" || (args["city"] != "Paris" && args["city"] != "London")) {
				t.Errorf("named call %+v", call)
			}
			if c.Message.Content != nil && *c.Message.Content != "" {
				t.Errorf("content %q next to the call", *c.Message.Content)
			}
		}
	}

	// The history goes back to the template: the call (arguments as a
	// string of JSON, decoded for the template), the tool's result with its
	// id and name.
	status, b := post(t, srv.URL+"/v1/chat/completions", `{"messages":[`+ask+`,
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","name":"get_weather","content":"sunny"}],
		"tools":[`+weatherTool+`],"max_tokens":1}`)
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	var tools []json.RawMessage
	json.Unmarshal([]byte(`[`+weatherTool+`]`), &tools)
	want, err := m.EncodeChat(context.Background(), []tokenizer.Message{
		{Role: "user", Content: "Once upon a time"},
		{Role: "assistant", ToolCalls: []tokenizer.ToolCall{{ID: "call_1", Type: "function", Function: tokenizer.ToolCallFunction{Name: "get_weather", Arguments: json.RawMessage(`{"city": "Paris"}`)}}}},
		{Role: "tool", ToolCallID: "call_1", Name: "get_weather", Content: "sunny"},
	}, tokenizer.WithVar("tools", tools))
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := m.Tokenizer().ApplyChatTemplate([]tokenizer.Message{{Role: "tool", ToolCallID: "call_1", Name: "get_weather", Content: "sunny"}})
	if !strings.Contains(prompt, "Result of get_weather (call_1): sunny") {
		t.Errorf("template did not see the tool fields: %q", prompt)
	}
	if got := decode[toolReply](t, b).Usage.PromptTokens; got != len(want) {
		t.Errorf("prompt of %d tokens, want %d", got, len(want))
	}

	// Tool definitions and choices are checked.
	for _, bad := range []struct{ extra, param string }{
		{`"tools":[{"type":"retrieval"}]`, "tools[0].type"},
		{`"tools":[{"type":"function","function":{"name":"bad name"}}]`, "tools[0].function.name"},
		{`"tools":[` + weatherTool + `],"tool_choice":"always"`, "tool_choice"},
		{`"tools":[` + weatherTool + `],"tool_choice":{"type":"function","function":{"name":"other"}}`, "tool_choice"},
		{`"tool_choice":"required"`, "tool_choice"},
		{`"chat_template_kwargs":{"messages":[]}`, "chat_template_kwargs"},
		// A forced call's parameters may only use local $refs.
		{`"tools":[` + weatherTool + `,{"type":"function","function":{"name":"remote","parameters":{"type":"object","properties":{"x":{"$ref":"https://example.com/x.json"}}}}}],"tool_choice":"required"`, "tools[1].function.parameters"},
		{`"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"$ref":"https://example.com/x.json"}}}`, "response_format.json_schema.schema"},
	} {
		status, b := post(t, srv.URL+"/v1/chat/completions", `{"messages":[`+ask+`],`+bad.extra+`}`)
		if e := decode[errorResponse](t, b).Error; status != 400 || e == nil || !nullable(e.Param, bad.param) {
			t.Errorf("%s: %d %s", bad.extra, status, b)
		}
	}

	// A forced call whose parameters use $defs and a recursive $ref.
	refTool := `{"type":"function","function":{"name":"add","parameters":{"type":"object",
		"properties":{"a":{"$ref":"#/$defs/n"},"more":{"type":"array","items":{"$ref":"#/properties/a"},"maxItems":2}},
		"required":["a"],"$defs":{"n":{"type":"integer"}}}}}`
	status, b = post(t, srv.URL+"/v1/chat/completions", `{"messages":[`+ask+`],"temperature":0,"max_tokens":200,"tools":[`+refTool+`],
		"tool_choice":{"type":"function","function":{"name":"add"}}}`)
	if status != 200 {
		t.Fatalf("$ref tool: %d %s", status, b)
	}
	calls := decode[toolReply](t, b).Choices[0].Message.ToolCalls
	var args struct {
		A    *json.Number  `json:"a"`
		More []json.Number `json:"more"`
	}
	if len(calls) != 1 || json.Unmarshal([]byte(calls[0].Function.Arguments), &args) != nil || args.A == nil || len(args.More) > 2 {
		t.Fatalf("$ref tool call %+v", calls)
	}
	for _, n := range append(args.More, *args.A) {
		if _, err := n.Int64(); err != nil {
			t.Errorf("argument %s is not an integer", n)
		}
	}
}

// collectStream reads a streamed chat completion into the shape of a
// complete one.
func collectStream(t *testing.T, url, body string) toolReply {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	res := toolReply{Choices: make([]toolChoiceJSON, 1)}
	text := ""
	for _, ev := range sseEvents(t, resp.Body) {
		if ev == "[DONE]" {
			break
		}
		var chunk struct {
			Choices []struct {
				Delta        json.RawMessage `json:"delta"`
				FinishReason *string         `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(ev), &chunk); err != nil {
			t.Fatal(err)
		}
		for _, c := range chunk.Choices {
			var d struct {
				Content *string `json:"content"`
			}
			json.Unmarshal(c.Delta, &d)
			if d.Content != nil {
				text += *d.Content
			}
			var calls struct {
				ToolCalls []json.RawMessage `json:"tool_calls"`
			}
			json.Unmarshal(c.Delta, &calls)
			for _, raw := range calls.ToolCalls {
				var tc toolCallJSON
				json.Unmarshal(raw, &tc)
				res.Choices[0].Message.ToolCalls = append(res.Choices[0].Message.ToolCalls, tc)
			}
			if c.FinishReason != nil {
				res.Choices[0].FinishReason = *c.FinishReason
			}
		}
	}
	res.Choices[0].Message.Content = &text
	return res
}
