package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime"
)

// greedyText is stories260k's reference greedy continuation of "Once upon
// a time" (64 tokens), from testdata/models/stories260k/README.md.
const greedyText = ", there was a little girl named Lily. She loved to play outside in the park. " +
	"One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said"

// storiesDir converts testdata's stories260k to an f32 .symb folder (so its
// greedy output is the reference's) and adds testdata/chat_template.jinja,
// since the model has no chat template of its own.
func storiesDir(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	out := filepath.Join(t.TempDir(), "stories260k")
	policy := quantize.PolicyFromSpec(quantize.Spec{Type: quantize.F32})
	if _, err := convert.Convert(context.Background(), src, out, convert.WithPolicy(policy), convert.WithJobs(1)); err != nil {
		t.Fatalf("convert %s: %v", src, err)
	}
	tmpl, err := os.ReadFile(filepath.Join("testdata", "chat_template.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "tokenizer", "chat_template.jinja"), tmpl, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadModel(t *testing.T, dir string, opts ...runtime.Option) *runtime.Model {
	t.Helper()
	m, err := runtime.Load(dir, append([]runtime.Option{runtime.WithThreads(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// logLines collects the request log, one line per request.
type logLines struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newLogLines() *logLines { return &logLines{added: make(chan struct{}, 1000)} }

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, strings.TrimRight(string(b), "\n"))
	l.mu.Unlock()
	l.added <- struct{}{}
	return len(b), nil
}

// waitFor returns the first line containing all of parts, waiting up to d.
func (l *logLines) waitFor(t *testing.T, d time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.After(d)
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				l.mu.Unlock()
				return line
			}
		}
		all := strings.Join(l.lines, "\n")
		l.mu.Unlock()
		select {
		case <-l.added:
		case <-deadline:
			t.Fatalf("no log line with %q within %v; log:\n%s", parts, d, all)
		}
	}
}

// post sends a JSON body and returns the status and the body.
func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
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

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	return v
}

// Response shapes as a client reads them.
type (
	usageJSON struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	chatResponse struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		Model   string `json:"model"`
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage usageJSON `json:"usage"`
	}
	completionResponse struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Text         string `json:"text"`
			Index        int    `json:"index"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage usageJSON `json:"usage"`
	}
	errorResponse struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
)

// sseEvents reads a Server-Sent Events body: the data of each event, in
// order, checking that every event is one "data: " line and a blank line.
func sseEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("event line %q does not start with \"data: \"", line)
		}
		if !sc.Scan() || sc.Text() != "" {
			t.Fatalf("event %q is not followed by a blank line", data)
		}
		events = append(events, data)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

// newServer serves m with opts and a collected request log.
func newServer(t *testing.T, m *runtime.Model, opts ...Option) (*httptest.Server, *logLines) {
	t.Helper()
	logs := newLogLines()
	h, err := New(m, append([]Option{WithModelName("stories"), WithRequestLog(logs)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, logs
}
