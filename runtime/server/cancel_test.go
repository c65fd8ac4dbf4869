package server

import (
	"bufio"
	"context"
	"net/http"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/symbc/symbc/runtime"
)

// longModel serves stories260k with a context far beyond its trained 512
// positions, so that a generation asked for 90,000 tokens runs for much
// longer than any test waits: a request that ends quickly was stopped.
func longModel(t *testing.T) *runtime.Model {
	return loadModel(t, storiesDir(t), runtime.WithMaxContext(100_000))
}

const longChat = `{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":90000,"temperature":0.7`

// startStream posts a streaming request and returns once its first content
// chunk has arrived; cancel stops the client.
func startStream(t *testing.T, url string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", strings.NewReader(longChat+`,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"content":"`) && !strings.Contains(sc.Text(), `"role"`) {
			return func() { cancel(); resp.Body.Close() }
		}
	}
	cancel()
	t.Fatalf("stream ended before any content: %v", sc.Err())
	return nil
}

func TestClientCancellationStopsGeneration(t *testing.T) {
	baseline := goruntime.NumGoroutine()
	m := longModel(t)
	srv, logs := newServer(t, m)

	// Streaming: the client leaves after the first piece of text.
	cancel := startStream(t, srv.URL)
	cancel()
	line := logs.waitFor(t, 10*time.Second, "POST /v1/chat/completions 200", "canceled by client")
	if strings.Contains(line, "finish=") {
		t.Errorf("canceled stream logged as finished: %s", line)
	}

	// Non-streaming: the client gives up while the server generates.
	ctx, cancelReq := context.WithTimeout(context.Background(), 300*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions", strings.NewReader(longChat+"}"))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a 90,000-token generation answered within 300ms: %s", resp.Status)
	}
	cancelReq()
	logs.waitFor(t, 10*time.Second, "POST /v1/chat/completions 499", "prompt=5 canceled by client")

	// The slot was given back: with one allowed, a new request runs.
	status, b := post(t, srv.URL+"/v1/completions", `{"prompt":"Once","max_tokens":3}`)
	if status != http.StatusOK {
		t.Fatalf("after cancellations: %d %s", status, b)
	}

	// Everything the requests started has ended once the server is closed.
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left, %d before:\n%s", n, baseline, buf[:goruntime.Stack(buf, true)])
	}
}

func TestConcurrencyLimit(t *testing.T) {
	m := longModel(t)
	quick := `{"prompt":"Once","max_tokens":2}`
	for _, limit := range []int{1, 2} {
		srv, _ := newServer(t, m, WithMaxConcurrent(limit))
		cancel := startStream(t, srv.URL)

		// A two-token request takes milliseconds once it has a slot.
		ctx, cancelReq := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/completions", strings.NewReader(quick))
		resp, err := http.DefaultClient.Do(req)
		cancelReq()
		switch {
		case limit == 1 && err == nil:
			resp.Body.Close()
			t.Errorf("limit 1: a second generation ran beside the first (%s)", resp.Status)
		case limit == 2 && err != nil:
			t.Errorf("limit 2: the second generation did not run beside the first: %v", err)
		case err == nil:
			resp.Body.Close()
		}
		cancel()
		// Once the long one is gone, the slot is free again.
		if status, b := post(t, srv.URL+"/v1/completions", quick); status != http.StatusOK {
			t.Errorf("limit %d, after the long request: %d %s", limit, status, b)
		}
		srv.Close()
	}
}
