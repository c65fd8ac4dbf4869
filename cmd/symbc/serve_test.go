package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the server's log writes while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeCommand(t *testing.T) {
	dir := storiesFolder(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stdout, stderr lockedBuffer
	root := newRootCmd()
	t.Setenv("SYMBC_API_KEY", "sk-env-one, sk-env-two")
	root.SetArgs([]string{"serve", dir, "--addr", "127.0.0.1:0", "-t", "2", "--model-name", "tiny", "--api-key", "sk-flag"})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	addrRE := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)/v1`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			url = "http://" + m[1]
		}
	}
	if url == "" {
		stop()
		t.Fatalf("no listening line; stderr: %s (exit: %v)", stderr.String(), <-done)
	}
	complete := func(key string) *http.Response {
		req, _ := http.NewRequest("POST", url+"/v1/completions",
			strings.NewReader(`{"prompt":"Once upon a time","temperature":0,"max_tokens":64}`))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, key := range []string{"", "sk-wrong", "sk-env-one,"} {
		if resp := complete(key); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("key %q: status %d, want 401", key, resp.StatusCode)
		} else {
			resp.Body.Close()
		}
	}
	for _, key := range []string{"sk-flag", "sk-env-one"} {
		if resp := complete(key); resp.StatusCode != http.StatusOK {
			t.Errorf("key %q: status %d, want 200", key, resp.StatusCode)
		} else {
			resp.Body.Close()
		}
	}
	resp := complete("sk-env-two")
	var res struct {
		Model   string
		Choices []struct {
			Text         string
			FinishReason string `json:"finish_reason"`
		}
	}
	err := json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil || res.Model != "tiny" || len(res.Choices) != 1 || res.Choices[0].Text != greedyText || res.Choices[0].FinishReason != "length" {
		t.Errorf("completion %+v (%v), want %q", res, err, greedyText)
	}

	stop() // what Ctrl-C does through cmd.Context()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after its context was canceled")
	}
	log := stderr.String()
	if strings.Contains(log, "sk-") {
		t.Errorf("the log shows an API key:\n%s", log)
	}
	if !strings.Contains(log, "API key required (3 key(s) accepted)") {
		t.Errorf("the log does not say that keys are required:\n%s", log)
	}
	if !strings.Contains(log, "POST /v1/completions 200") || !strings.Contains(log, "prompt=5 completion=64 finish=length") ||
		!strings.Contains(log, "server stopped") {
		t.Errorf("stderr lacks the request line or the stop line:\n%s", log)
	}

	if _, stderr, code := symbcRun(t, "serve", dir, "--parallel", "0"); code != 2 || !strings.Contains(stderr, "--parallel") {
		t.Errorf("--parallel 0: exit %d, %s", code, stderr)
	}
}
