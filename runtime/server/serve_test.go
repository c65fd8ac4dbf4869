package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServeShutdown(t *testing.T) {
	m := longModel(t)
	logs := newLogLines()
	h, err := New(m, WithModelName("stories"), WithMaxConcurrent(2), WithRequestLog(logs))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		grace     time.Duration
		maxTokens int
		finished  bool // whether the in-flight request completes
	}{
		{"graceful", 30 * time.Second, 1000, true},
		{"grace over", 100 * time.Millisecond, 90000, false},
	} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + l.Addr().String()
		ctx, stop := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- Serve(ctx, l, h, tc.grace) }()

		if status, b := post(t, url+"/v1/completions", `{"prompt":"Once","max_tokens":2}`); status != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, status, b)
		}
		type result struct {
			body string
			err  error
		}
		inFlight := make(chan result, 1)
		started := make(chan struct{})
		go func() {
			resp, err := http.Post(url+"/v1/completions", "application/json",
				strings.NewReader(`{"prompt":"Once upon a time","stream":true,"temperature":0,"max_tokens":`+strconv.Itoa(tc.maxTokens)+`}`))
			close(started)
			if err != nil {
				inFlight <- result{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			inFlight <- result{string(b), err}
		}()
		<-started // the response headers arrived: the generation runs
		stop()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("%s: Serve: %v", tc.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: Serve did not return after shutdown", tc.name)
		}
		r := <-inFlight
		complete := r.err == nil && strings.HasSuffix(r.body, "data: [DONE]\n\n")
		if complete != tc.finished {
			t.Errorf("%s: in-flight request complete = %v (err %v, %d bytes)", tc.name, complete, r.err, len(r.body))
		}
		if !tc.finished {
			// The stream ends with an error event saying why, and the log
			// blames the shutdown, not the client.
			events := strings.Split(strings.TrimSpace(r.body), "\n\n")
			if last := events[len(events)-1]; !strings.Contains(last, `"code":"server_shutdown"`) || !strings.HasPrefix(last, "data: {\"error\"") {
				t.Errorf("%s: last event %q", tc.name, last)
			}
			logs.waitFor(t, 5*time.Second, "POST /v1/completions 200", "stopped by shutdown")
		}
		if _, err := http.Get(url + "/health"); err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("%s: server still answers after Serve returned", tc.name)
		}
	}
}
