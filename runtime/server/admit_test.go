package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbc/symbc/runtime"
)

func newScheduler(t *testing.T, m *runtime.Model, opts ...runtime.SchedulerOption) *runtime.Scheduler {
	t.Helper()
	sch, err := runtime.NewScheduler(m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sch.Close() })
	return sch
}

// TestSchedulerStreams runs concurrent streaming requests through a
// scheduler: every one gets the greedy reference text and ends with [DONE],
// and a repeated prompt reports the tokens it took from the prefix cache.
func TestSchedulerStreams(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	sch := newScheduler(t, m, runtime.WithSlots(4))
	srv, _ := newServer(t, m, WithScheduler(sch))
	body := `{"prompt":"Once upon a time","max_tokens":64,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`
	var wg sync.WaitGroup
	texts := make([]string, 6)
	for i := range texts {
		wg.Go(func() {
			resp, err := http.Post(srv.URL+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			events := sseEvents(t, resp.Body)
			if len(events) == 0 || events[len(events)-1] != "[DONE]" {
				t.Errorf("stream %d does not end with [DONE]: %q", i, events)
				return
			}
			var b strings.Builder
			for _, e := range events[:len(events)-1] {
				c := decode[completionResponse](t, []byte(e))
				if len(c.Choices) > 0 {
					b.WriteString(c.Choices[0].Text)
				}
			}
			texts[i] = b.String()
		})
	}
	wg.Wait()
	for i, text := range texts {
		if text != greedyText {
			t.Errorf("stream %d: %q, want %q", i, text, greedyText)
		}
	}

	type cachedUsage struct {
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			Details      struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	cachedOf := func(prompt string) (cached, prompted int) {
		status, b := post(t, srv.URL+"/v1/completions", fmt.Sprintf(`{"prompt":%q,"max_tokens":4}`, prompt))
		if status != http.StatusOK {
			t.Fatalf("%d %s", status, b)
		}
		u := decode[cachedUsage](t, b).Usage
		return u.Details.CachedTokens, u.PromptTokens
	}
	// The streams stored their prompt and text: a prompt made of them is
	// read from the cache, up to the last whole block before its last token.
	if c, n := cachedOf("Once upon a time" + greedyText); c < n-16 || c >= n {
		t.Errorf("prompt of %d tokens the streams had written: %d cached", n, c)
	}
	fresh := "The little dog ran to the big tree and barked at the bird. The bird sang a song."
	// Only its start-of-sequence token is shared with the earlier prompts
	// (copied from the start of their first block).
	if c, _ := cachedOf(fresh); c != 1 {
		t.Errorf("new prompt: %d cached tokens, want 1", c)
	}
	// The first request stored all of its prompt, the last partly filled
	// block included: the second reuses every token the two prompts share
	// (and perhaps some of the first's text), keeping one to run.
	a, err := m.Encode(fresh)
	if err != nil {
		t.Fatal(err)
	}
	more, err := m.Encode(fresh + " Then")
	if err != nil {
		t.Fatal(err)
	}
	common := 0
	for common < min(len(a), len(more)) && a[common] == more[common] {
		common++
	}
	if common%16 == 0 {
		t.Fatalf("the prompts share %d tokens, whole blocks: no tail to reuse", common)
	}
	if c, n := cachedOf(fresh + " Then"); c < min(common, n-1) || c >= n {
		t.Errorf("repeated prompt of %d tokens: %d cached, want at least the %d shared", n, c, min(common, n-1))
	}
}

// TestSchedulerBusy checks that a request finding every slot taken and the
// queue full is answered 503 with Retry-After at once, before its prompt is
// tokenized.
func TestSchedulerBusy(t *testing.T) {
	m := longModel(t)
	sch := newScheduler(t, m, runtime.WithSlots(1), runtime.WithMaxQueue(1))
	srv, logs := newServer(t, m, WithScheduler(sch))
	cancel := startStream(t, srv.URL)
	defer cancel()
	ctx, stopWaiting := context.WithCancel(context.Background())
	defer stopWaiting()
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/completions", strings.NewReader(`{"prompt":"Once","max_tokens":2}`))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, waiting := sch.Load(); waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second request never queued")
		}
	}
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	e := decode[errorResponse](t, readAll(t, resp))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || e.Error == nil || e.Error.Type != "server_error" {
		t.Errorf("busy: %s, Retry-After %q, error %+v", resp.Status, resp.Header.Get("Retry-After"), e.Error)
	}
	// A 3 MB prompt is refused the same way, unread: the request log shows
	// no prompt tokens (a tokenized request logs prompt=N).
	huge := `{"prompt":"` + strings.Repeat("Once upon a time there was a dog. ", 3<<20/34) + `","max_tokens":1}`
	status, b := post(t, srv.URL+"/v1/completions", huge)
	if status != http.StatusServiceUnavailable {
		t.Errorf("busy, huge prompt: %d %s", status, b)
	}
	line := logs.waitFor(t, 10*time.Second, "POST /v1/completions 503")
	if strings.Contains(line, "prompt=") {
		t.Errorf("the refused request was tokenized: %s", line)
	}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}
