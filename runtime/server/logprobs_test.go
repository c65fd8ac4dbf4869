package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/symbc/symbc/symb"
)

type (
	topJSON struct {
		Token   string  `json:"token"`
		Logprob float64 `json:"logprob"`
		Bytes   []int   `json:"bytes"`
	}
	contentJSON struct {
		topJSON
		TopLogprobs []topJSON `json:"top_logprobs"`
	}
	chatLogprobsJSON struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			Logprobs *struct {
				Content []contentJSON `json:"content"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
)

func TestChatLogprobs(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	body := `{"messages":[{"role":"user","content":"Once upon a time"}],"temperature":0,"max_tokens":12,"logprobs":true,"top_logprobs":3`
	status, b := post(t, srv.URL+"/v1/chat/completions", body+`}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	res := decode[chatLogprobsJSON](t, b)
	lp := res.Choices[0].Logprobs
	if lp == nil || len(lp.Content) != 12 {
		t.Fatalf("logprobs %s", b)
	}
	var joined strings.Builder
	for i, c := range lp.Content {
		joined.WriteString(c.Token)
		if len(c.TopLogprobs) != 3 || c.TopLogprobs[0].Token != c.Token || c.TopLogprobs[0].Logprob != c.Logprob ||
			c.Logprob > 0 || c.TopLogprobs[1].Logprob > c.TopLogprobs[0].Logprob || string(intsToBytes(c.Bytes)) != c.Token {
			t.Errorf("entry %d: %+v (greedy: the chosen token is the most likely)", i, c)
		}
	}
	if joined.String() != res.Choices[0].Message.Content {
		t.Errorf("tokens join to %q, content is %q", joined.String(), res.Choices[0].Message.Content)
	}
	// The first entry is the log-softmax of the model's logits after the prompt.
	prompt, err := m.Encode("Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.NewSession().Forward(context.Background(), prompt)
	if err != nil {
		t.Fatal(err)
	}
	last := logits[len(logits)-m.Config().Model.VocabSize:]
	var sum float64
	for _, l := range last {
		sum += math.Exp(float64(l))
	}
	best := 0
	for i, l := range last {
		if l > last[best] {
			best = i
		}
	}
	if want := float64(last[best]) - math.Log(sum); math.Abs(want-lp.Content[0].Logprob) > 1e-4 {
		t.Errorf("first logprob %g, want %g", lp.Content[0].Logprob, want)
	}

	// Streaming reports the same tokens, spread over the chunks.
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body+`,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var streamed []contentJSON
	for _, ev := range sseEvents(t, resp.Body) {
		if ev == "[DONE]" {
			break
		}
		c := decode[chatLogprobsJSON](t, []byte(ev))
		if len(c.Choices) > 0 && c.Choices[0].Logprobs != nil {
			streamed = append(streamed, c.Choices[0].Logprobs.Content...)
		}
	}
	if fmt.Sprint(streamed) != fmt.Sprint(lp.Content) {
		t.Errorf("streamed logprobs\n%v\nwant\n%v", streamed, lp.Content)
	}

	// Without logprobs the field is null.
	_, b = post(t, srv.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}`)
	if !strings.Contains(string(b), `"logprobs":null`) {
		t.Errorf("logprobs not null: %s", b)
	}
}

func intsToBytes(v []int) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func TestCompletionLogprobs(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	status, b := post(t, srv.URL+"/v1/completions", `{"prompt":"Once upon a time","temperature":0,"max_tokens":64,"logprobs":2,"stop":"Lily"}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	res := decode[struct {
		Choices []struct {
			Text     string `json:"text"`
			Logprobs struct {
				Tokens        []string             `json:"tokens"`
				TokenLogprobs []float64            `json:"token_logprobs"`
				TopLogprobs   []map[string]float64 `json:"top_logprobs"`
				TextOffset    []int                `json:"text_offset"`
			} `json:"logprobs"`
		} `json:"choices"`
	}](t, b)
	c := res.Choices[0]
	l := c.Logprobs
	n := len(l.Tokens)
	if c.Text != ", there was a little girl named " || n == 0 || len(l.TokenLogprobs) != n || len(l.TopLogprobs) != n || len(l.TextOffset) != n {
		t.Fatalf("choice %s", b)
	}
	joined := strings.Join(l.Tokens, "")
	// The stop string's token begins inside the text (its leading space) and
	// is reported; nothing after it is.
	if !strings.HasPrefix(joined, c.Text) || strings.HasPrefix(strings.Join(l.Tokens[:n-1], ""), c.Text) {
		t.Errorf("tokens %q for text %q", l.Tokens, c.Text)
	}
	off := 0
	for i := range l.Tokens {
		if l.TextOffset[i] != off || len(l.TopLogprobs[i]) != 2 || l.TopLogprobs[i][l.Tokens[i]] != l.TokenLogprobs[i] {
			t.Errorf("entry %d: token %q offset %d top %v", i, l.Tokens[i], l.TextOffset[i], l.TopLogprobs[i])
		}
		off += len(l.Tokens[i])
	}
}

func TestPenaltiesAndBias(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	complete := func(extra string) string {
		t.Helper()
		status, b := post(t, srv.URL+"/v1/completions", `{"prompt":"Once upon a time","temperature":0,"max_tokens":64`+extra+`}`)
		if status != 200 {
			t.Fatalf("%s: status %d: %s", extra, status, b)
		}
		return decode[completionResponse](t, b).Choices[0].Text
	}
	if got := complete(""); got != greedyText {
		t.Fatalf("greedy %q", got)
	}
	tok := m.Tokenizer()
	comma, ok1 := tok.ID(",")
	the, ok2 := tok.ID("\u2581the")
	if !ok1 || !ok2 {
		t.Fatal("no ',' or '▁the' in the vocabulary")
	}
	if got := complete(fmt.Sprintf(`,"logit_bias":{"%d":-100}`, comma)); strings.Contains(got, ",") || got == "" {
		t.Errorf("banned comma: %q", got)
	}
	if got := complete(fmt.Sprintf(`,"logit_bias":{"%d":100},"max_tokens":5`, the)); got != strings.Repeat(" the", 5) {
		t.Errorf("forced ' the': %q", got)
	}
	// The greedy story repeats itself ("She ... She ...", "Lily ... Lily");
	// penalties must change the continuation and use fewer repeated tokens.
	repeats := func(text string) int {
		seen, n := map[int]bool{}, 0
		for _, id := range tok.Encode(text, false) {
			if seen[id] {
				n++
			}
			seen[id] = true
		}
		return n
	}
	for _, pen := range []string{`,"frequency_penalty":1.5`, `,"presence_penalty":1.5`} {
		got := complete(pen)
		if got == greedyText || repeats(got) >= repeats(greedyText) {
			t.Errorf("%s: %q (%d repeated tokens, greedy has %d)", pen, got, repeats(got), repeats(greedyText))
		}
	}
	for _, bad := range []struct{ body, param string }{
		{`"presence_penalty":2.5`, "presence_penalty"},
		{`"frequency_penalty":-3`, "frequency_penalty"},
		{`"logit_bias":{"abc":1}`, "logit_bias"},
		{`"logit_bias":{"100000":1}`, "logit_bias"},
		{`"logit_bias":{"5":101}`, "logit_bias"},
		{`"logprobs":21`, "logprobs"},
	} {
		status, b := post(t, srv.URL+"/v1/completions", `{"prompt":"x",`+bad.body+`}`)
		if e := decode[errorResponse](t, b).Error; status != 400 || e == nil || !nullable(e.Param, bad.param) {
			t.Errorf("%s: %d %s", bad.body, status, b)
		}
	}
	status, b := post(t, srv.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"top_logprobs":2}`)
	if e := decode[errorResponse](t, b).Error; status != 400 || e == nil || !nullable(e.Param, "top_logprobs") {
		t.Errorf("top_logprobs without logprobs: %d %s", status, b)
	}
}

func TestGenerationDefaults(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	zero, topK := 0.0, 1
	srv, _ := newServer(t, m, WithGenerationDefaults(symb.Generation{Temperature: &zero, TopK: &topK}))
	// Without temperature the model's default (greedy) applies ...
	status, b := post(t, srv.URL+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":64}`)
	if got := decode[completionResponse](t, b).Choices[0].Text; status != 200 || got != greedyText {
		t.Errorf("defaults: %d %q", status, got)
	}
	// ... and a request's own setting wins: at temperature 2 with top_k 0
	// some of 64 tokens differ from greedy's.
	status, b = post(t, srv.URL+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":64,"temperature":2,"top_k":0,"seed":1}`)
	if got := decode[completionResponse](t, b).Choices[0].Text; status != 200 || got == greedyText {
		t.Errorf("request settings: %d %q", status, got)
	}
}
