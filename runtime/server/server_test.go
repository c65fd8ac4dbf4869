package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
)

func TestChatCompletion(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, logs := newServer(t, m)

	before := time.Now().Unix()
	status, body := post(t, srv.URL+"/v1/chat/completions",
		`{"model":"stories","messages":[{"role":"user","content":"Once upon a time"}],"temperature":0,"max_tokens":64}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	res := decode[chatResponse](t, body)
	want, err := m.Chat(context.Background(), []tokenizer.Message{{Role: "user", Content: "Once upon a time"}},
		runtime.WithTemperature(0), runtime.WithMaxTokens(64))
	if err != nil {
		t.Fatal(err)
	}
	if want.Text != greedyText {
		t.Fatalf("runtime chat gives %q, want the reference %q", want.Text, greedyText)
	}
	if !strings.HasPrefix(res.ID, "chatcmpl-") || len(res.ID) < 20 || res.Object != "chat.completion" ||
		res.Model != "stories" || res.Created < before || res.Created > time.Now().Unix() {
		t.Errorf("envelope id %q object %q model %q created %d", res.ID, res.Object, res.Model, res.Created)
	}
	if len(res.Choices) != 1 {
		t.Fatalf("%d choices", len(res.Choices))
	}
	c := res.Choices[0]
	if c.Index != 0 || c.Message.Role != "assistant" || c.Message.Content != want.Text || c.FinishReason != "length" {
		t.Errorf("choice %+v; want assistant %q, finish length", c, want.Text)
	}
	if u := res.Usage; u.PromptTokens != 5 || u.CompletionTokens != 64 || u.TotalTokens != 69 {
		t.Errorf("usage %+v, want 5 + 64 = 69", u)
	}
	logs.waitFor(t, 5*time.Second, "POST /v1/chat/completions 200", "prompt=5 completion=64 finish=length")

	// The array-of-parts content form renders the same prompt.
	status, body = post(t, srv.URL+"/v1/chat/completions",
		`{"messages":[{"role":"user","content":[{"type":"text","text":"Once upon"},{"type":"text","text":" a time"}]}],"temperature":0,"max_completion_tokens":8}`)
	if status != http.StatusOK {
		t.Fatalf("parts: status %d: %s", status, body)
	}
	res = decode[chatResponse](t, body)
	if got := res.Choices[0].Message.Content; !strings.HasPrefix(greedyText, got) || got == "" || res.Usage.CompletionTokens != 8 {
		t.Errorf("parts: content %q with %d tokens, want a prefix of the reference with 8", got, res.Usage.CompletionTokens)
	}
}

func TestCompletion(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	for _, prompt := range []string{`"Once upon a time"`, `["Once upon a time"]`} {
		status, body := post(t, srv.URL+"/v1/completions",
			`{"model":"stories","prompt":`+prompt+`,"temperature":0,"max_tokens":40,"user":"u1"}`)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		res := decode[completionResponse](t, body)
		want, err := m.Generate(context.Background(), "Once upon a time", runtime.WithMaxTokens(40))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.ID, "cmpl-") || res.Object != "text_completion" || res.Model != "stories" || len(res.Choices) != 1 {
			t.Fatalf("envelope %+v", res)
		}
		if c := res.Choices[0]; c.Text != want.Text || c.FinishReason != "length" || !strings.HasPrefix(greedyText, c.Text) {
			t.Errorf("prompt %s: choice %+v, want %q", prompt, c, want.Text)
		}
		if u := res.Usage; u.PromptTokens != 5 || u.CompletionTokens != 40 || u.TotalTokens != 45 {
			t.Errorf("usage %+v", u)
		}
	}
}

func TestStopStrings(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	wantText := ", there was a little girl named "
	for _, stop := range []string{`"Lily"`, `["nothing-like-this", "Lily"]`} {
		status, body := post(t, srv.URL+"/v1/chat/completions",
			`{"messages":[{"role":"user","content":"Once upon a time"}],"temperature":0,"max_tokens":64,"stop":`+stop+`}`)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		res := decode[chatResponse](t, body)
		if c := res.Choices[0]; c.Message.Content != wantText || c.FinishReason != "stop" {
			t.Errorf("stop %s: %q finish %s, want %q finish stop", stop, c.Message.Content, c.FinishReason, wantText)
		}
		if res.Usage.CompletionTokens >= 64 || res.Usage.CompletionTokens == 0 {
			t.Errorf("stop %s: %d completion tokens", stop, res.Usage.CompletionTokens)
		}
	}
	status, body := post(t, srv.URL+"/v1/completions",
		`{"prompt":"Once upon a time","temperature":0,"stop":"Lily","stream":true}`)
	if status != http.StatusOK {
		t.Fatalf("stream with stop: status %d: %s", status, body)
	}
	text, finish := "", ""
	for _, ev := range sseEvents(t, strings.NewReader(string(body))) {
		if ev == "[DONE]" {
			break
		}
		ch := decode[completionResponse](t, []byte(ev))
		text += ch.Choices[0].Text
		finish = ch.Choices[0].FinishReason
	}
	if text != wantText || finish != "stop" {
		t.Errorf("streamed with stop: %q finish %q", text, finish)
	}
}

// streamChat posts a streaming request and returns the events' data.
func streamPost(t *testing.T, url, body string) []string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return sseEvents(t, resp.Body)
}

func TestStreamChat(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, logs := newServer(t, m)
	for _, withUsage := range []bool{false, true} {
		req := `{"messages":[{"role":"system","content":"Once upon"},{"role":"user","content":"a time"}],"temperature":0,"max_tokens":48,"stream":true`
		if withUsage {
			req += `,"stream_options":{"include_usage":true}`
		}
		events := streamPost(t, srv.URL+"/v1/chat/completions", req+"}")
		if n := len(events); n < 4 || events[n-1] != "[DONE]" {
			t.Fatalf("usage %v: %d events, last %q", withUsage, n, events[n-1])
		}
		events = events[:len(events)-1]
		var chunks []map[string]json.RawMessage
		for _, ev := range events {
			chunks = append(chunks, decode[map[string]json.RawMessage](t, []byte(ev)))
		}
		if withUsage {
			var u usageJSON
			if err := json.Unmarshal(chunks[len(chunks)-1]["usage"], &u); err != nil || u.CompletionTokens != 48 || u.TotalTokens != u.PromptTokens+48 || u.PromptTokens < 5 {
				t.Errorf("usage chunk %s", events[len(events)-1])
			}
			if string(chunks[len(chunks)-1]["choices"]) != "[]" {
				t.Errorf("usage chunk has choices %s", chunks[len(chunks)-1]["choices"])
			}
			for _, c := range chunks[:len(chunks)-1] {
				if u, ok := c["usage"]; !ok || string(u) != "null" {
					t.Errorf("chunk without usage: null: %v", c)
				}
			}
			chunks = chunks[:len(chunks)-1]
		} else {
			for _, c := range chunks {
				if _, ok := c["usage"]; ok {
					t.Errorf("usage in a chunk although not asked for")
				}
			}
		}
		var text strings.Builder
		id := string(chunks[0]["id"])
		for i, c := range chunks {
			var ch struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Model   string `json:"model"`
				Choices []struct {
					Index int `json:"index"`
					Delta struct {
						Role    *string `json:"role"`
						Content *string `json:"content"`
					} `json:"delta"`
					FinishReason *string `json:"finish_reason"`
				} `json:"choices"`
			}
			raw, _ := json.Marshal(c)
			if err := json.Unmarshal(raw, &ch); err != nil {
				t.Fatal(err)
			}
			if string(c["id"]) != id || ch.Object != "chat.completion.chunk" || ch.Model != "stories" || len(ch.Choices) != 1 {
				t.Fatalf("chunk %d: %s", i, raw)
			}
			d := ch.Choices[0]
			switch {
			case i == 0:
				if d.Delta.Role == nil || *d.Delta.Role != "assistant" || d.FinishReason != nil {
					t.Errorf("first chunk %s lacks the assistant role", raw)
				}
			case i == len(chunks)-1:
				if d.FinishReason == nil || *d.FinishReason != "length" || d.Delta.Content != nil {
					t.Errorf("last chunk %s, want an empty delta and finish_reason length", raw)
				}
			default:
				if d.Delta.Role != nil || d.Delta.Content == nil || d.FinishReason != nil {
					t.Errorf("chunk %d %s, want delta.content only", i, raw)
				}
				text.WriteString(*d.Delta.Content)
			}
		}
		want, err := m.Chat(context.Background(), []tokenizer.Message{{Role: "system", Content: "Once upon"}, {Role: "user", Content: "a time"}},
			runtime.WithMaxTokens(48))
		if err != nil {
			t.Fatal(err)
		}
		if text.String() != want.Text || want.Text == "" {
			t.Errorf("streamed text %q, want %q", text.String(), want.Text)
		}
	}
	logs.waitFor(t, 5*time.Second, "POST /v1/chat/completions 200", "completion=48 finish=length stream")
}

func TestStreamCompletionMatchesNonStreaming(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	req := `{"prompt":"The cat","temperature":0.8,"top_p":0.9,"seed":42,"max_tokens":30`
	status, body := post(t, srv.URL+"/v1/completions", req+"}")
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	full := decode[completionResponse](t, body)
	events := streamPost(t, srv.URL+"/v1/completions", req+`,"stream":true,"stream_options":{"include_usage":true}}`)
	if events[len(events)-1] != "[DONE]" {
		t.Fatalf("last event %q", events[len(events)-1])
	}
	var text, finish string
	var u usageJSON
	for _, ev := range events[:len(events)-1] {
		var ch struct {
			Object  string `json:"object"`
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *usageJSON `json:"usage"`
		}
		if err := json.Unmarshal([]byte(ev), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.Object != "text_completion" {
			t.Errorf("chunk object %q", ch.Object)
		}
		for _, c := range ch.Choices {
			text += c.Text
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
		if ch.Usage != nil {
			u = *ch.Usage
		}
	}
	if text != full.Choices[0].Text || finish != full.Choices[0].FinishReason || u != full.Usage {
		t.Errorf("stream %q %s %+v; non-stream %q %s %+v", text, finish, u, full.Choices[0].Text, full.Choices[0].FinishReason, full.Usage)
	}
	// Same seed, same sample; another seed may differ but must be valid.
	status, body = post(t, srv.URL+"/v1/completions", req+"}")
	if again := decode[completionResponse](t, body); status != http.StatusOK || again.Choices[0].Text != full.Choices[0].Text {
		t.Errorf("seeded sampling not reproducible: %q vs %q", again.Choices[0].Text, full.Choices[0].Text)
	}
}

func TestModelsAndHealth(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	get := func(path string) (int, []byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	status, body := get("/v1/models")
	list := decode[struct {
		Object string `json:"object"`
		Data   []struct {
			ID, Object, OwnedBy string
			Created             *int64 `json:"created"`
		} `json:"data"`
	}](t, body)
	if status != http.StatusOK || list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "stories" ||
		list.Data[0].Object != "model" || list.Data[0].Created == nil {
		t.Errorf("/v1/models: %d %s", status, body)
	}
	if status, body = get("/v1/models/stories"); status != http.StatusOK || decode[map[string]any](t, body)["id"] != "stories" {
		t.Errorf("/v1/models/stories: %d %s", status, body)
	}
	if status, body = get("/v1/models/other"); status != http.StatusNotFound || *decode[errorResponse](t, body).Error.Code != "model_not_found" {
		t.Errorf("/v1/models/other: %d %s", status, body)
	}
	if status, body = get("/health"); status != http.StatusOK || decode[map[string]string](t, body)["status"] != "ok" {
		t.Errorf("/health: %d %s", status, body)
	}
}
