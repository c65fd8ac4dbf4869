package server

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestErrors(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, logs := newServer(t, m, WithMaxBodyBytes(4096))
	chat, completions := "/v1/chat/completions", "/v1/completions"
	user := `"messages":[{"role":"user","content":"hi"}]`
	long := strings.Repeat("once upon a time ", 200) // about 800 tokens: over the 512 context
	cases := []struct {
		name, method, path, body string
		status                   int
		param, code              string // "" means JSON null
		inMessage                string
	}{
		{"bad json", "POST", chat, `{"messages": [`, 400, "", "", "parse the JSON"},
		{"empty body", "POST", chat, ``, 400, "", "", "empty"},
		{"not an object", "POST", chat, `[1, 2]`, 400, "", "", "JSON object"},
		{"missing messages", "POST", chat, `{"model":"stories"}`, 400, "messages", "missing_required_parameter", "messages"},
		{"null messages", "POST", chat, `{"messages":null}`, 400, "messages", "missing_required_parameter", "messages"},
		{"empty messages", "POST", chat, `{"messages":[]}`, 400, "messages", "invalid_value", "at least one"},
		{"messages not an array", "POST", chat, `{"messages":"hi"}`, 400, "messages", "invalid_type", "expected an array"},
		{"content a number", "POST", chat, `{"messages":[{"role":"user","content":5}]}`, 400, "messages", "invalid_type", "content"},
		{"image part", "POST", chat, `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400, "messages", "invalid_type", "image_url"},
		{"missing role", "POST", chat, `{"messages":[{"content":"hi"}]}`, 400, "messages[0].role", "missing_required_parameter", "role"},
		{"unknown role", "POST", chat, `{"messages":[{"role":"narrator","content":"hi"}]}`, 400, "messages[0].role", "invalid_value", "narrator"},
		{"temperature a string", "POST", chat, `{` + user + `,"temperature":"hot"}`, 400, "temperature", "invalid_type", "expected a number"},
		{"temperature too high", "POST", chat, `{` + user + `,"temperature":2.5}`, 400, "temperature", "invalid_value", "between 0 and 2"},
		{"top_p too high", "POST", chat, `{` + user + `,"top_p":1.5}`, 400, "top_p", "invalid_value", "top_p"},
		{"max_tokens zero", "POST", chat, `{` + user + `,"max_tokens":0}`, 400, "max_tokens", "invalid_value", "at least 1"},
		{"max_tokens a float", "POST", chat, `{` + user + `,"max_tokens":1.5}`, 400, "max_tokens", "invalid_type", "integer"},
		{"stop a number", "POST", chat, `{` + user + `,"stop":3}`, 400, "stop", "invalid_type", "stop"},
		{"stream a string", "POST", chat, `{` + user + `,"stream":"yes"}`, 400, "stream", "invalid_type", "boolean"},
		{"n=2", "POST", chat, `{` + user + `,"n":2}`, 400, "n", "unsupported_value", "n=1"},
		{"stream_options without stream", "POST", chat, `{` + user + `,"stream_options":{"include_usage":true}}`, 400, "stream_options", "invalid_value", "stream"},
		{"chat prompt too long", "POST", chat, `{"messages":[{"role":"user","content":"` + long + `"}]}`, 400, "messages", "context_length_exceeded", "maximum context length is 512"},
		{"completion prompt too long", "POST", completions, `{"prompt":"` + long + `","stream":true}`, 400, "prompt", "context_length_exceeded", "maximum context length is 512"},
		{"missing prompt", "POST", completions, `{"max_tokens":3}`, 400, "prompt", "missing_required_parameter", "prompt"},
		{"two prompts", "POST", completions, `{"prompt":["a","b"]}`, 400, "prompt", "invalid_type", "one prompt"},
		{"body too large", "POST", chat, `{"messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, 413, "", "request_too_large", "4096 bytes"},
		{"GET on chat", "GET", chat, ``, 405, "", "method_not_allowed", "POST"},
		{"POST on models", "POST", "/v1/models", `{}`, 405, "", "method_not_allowed", "GET"},
		{"unknown path", "GET", "/v1/embeddings", ``, 404, "", "unknown_url", "/v1/embeddings"},
		{"root", "GET", "/", ``, 404, "", "unknown_url", "GET /"},
		{"model not served", "POST", chat, `{"model":"gpt-4",` + user + `}`, 404, "model", "model_not_found", "'gpt-4' does not exist"},
		{"model not served, completions", "POST", completions, `{"model":"gpt-4","prompt":"x"}`, 404, "model", "model_not_found", "'stories'"},
		{"retrieve model not served", "GET", "/v1/models/gpt-4", ``, 404, "model", "model_not_found", "gpt-4"},
		{"unsupported field", "POST", chat, `{` + user + `,"reasoning_effort":"high"}`, 400, "reasoning_effort", "unsupported_parameter", "chat_template_kwargs"},
		{"made-up field", "POST", completions, `{"prompt":"x","temprature":0}`, 400, "temprature", "unsupported_parameter", "'temprature'"},
		{"echo true", "POST", completions, `{"prompt":"x","echo":true}`, 400, "echo", "unsupported_parameter", "echo=false"},
		{"audio output", "POST", chat, `{` + user + `,"modalities":["text","audio"]}`, 400, "modalities", "unsupported_parameter", "text"},
		{"legacy functions", "POST", chat, `{` + user + `,"functions":[{"name":"f"}]}`, 400, "functions", "unsupported_parameter", "tools"},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.name == "body too large" {
			// Hide the length so that the limit is enforced while reading.
			req.ContentLength = -1
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: status %d (%s), want %d: %s", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, b)
			continue
		}
		e := decode[errorResponse](t, b).Error
		if e == nil || e.Message == "" {
			t.Errorf("%s: no error object in %s", tc.name, b)
			continue
		}
		wantType := "invalid_request_error"
		if e.Type != wantType || !strings.Contains(e.Message, tc.inMessage) ||
			!nullable(e.Param, tc.param) || !nullable(e.Code, tc.code) {
			t.Errorf("%s: got %s; want type %s, param %q, code %q, message containing %q", tc.name, b, wantType, tc.param, tc.code, tc.inMessage)
		}
		// The raw body must carry every field of OpenAI's error object.
		for _, field := range []string{`"message":`, `"type":`, `"param":`, `"code":`} {
			if !strings.Contains(string(b), field) {
				t.Errorf("%s: %s lacks %s", tc.name, b, field)
			}
		}
		if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s: 405 without an Allow header", tc.name)
		}
	}
	// The server is still healthy and serves a normal request after all that.
	// Harmless fields, neutral values and nulls are accepted.
	status, b := post(t, srv.URL+chat, `{"model":"stories",`+user+`,"max_tokens":2,"user":"u","metadata":{"a":"b"},"store":false,"reasoning_effort":null,"modalities":["text"]}`)
	if status != http.StatusOK {
		t.Errorf("after errors: status %d: %s", status, b)
	}
	status, b = post(t, srv.URL+completions, `{"prompt":"x","max_tokens":2,"echo":false,"best_of":1,"suffix":null}`)
	if status != http.StatusOK {
		t.Errorf("completion with neutral fields: status %d: %s", status, b)
	}
	logs.waitFor(t, 5*time.Second, "POST /v1/chat/completions 400", `error="This model's maximum context length is 512`)
}

// nullable compares a JSON string-or-null with want ("" meaning null).
func nullable(got *string, want string) bool {
	if want == "" {
		return got == nil
	}
	return got != nil && *got == want
}

func TestNoChatTemplate(t *testing.T) {
	dir := storiesDir(t)
	m := loadModel(t, dir)
	if !m.Tokenizer().HasChatTemplate() {
		t.Fatal("test folder lost its chat template")
	}
	// Without the added template, chat is refused but completions work.
	if err := os.Remove(filepath.Join(dir, "tokenizer", "chat_template.jinja")); err != nil {
		t.Fatal(err)
	}
	plain := loadModel(t, dir)
	srv, _ := newServer(t, plain)
	status, b := post(t, srv.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`)
	if e := decode[errorResponse](t, b).Error; status != 400 || e == nil || !nullable(e.Code, "no_chat_template") {
		t.Errorf("chat without a template: %d %s", status, b)
	}
	if status, b = post(t, srv.URL+"/v1/completions", `{"prompt":"hi","max_tokens":2}`); status != 200 {
		t.Errorf("completion without a template: %d %s", status, b)
	}
}
