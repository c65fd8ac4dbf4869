package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAPIKeys(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, logs := newServer(t, m, WithAPIKeys("sk-first", "", "sk-second"), WithAliases("gpt-4o-mini"))
	do := func(method, path, auth, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":2}`
	for _, tc := range []struct {
		method, path, auth, body string
		want                     int
	}{
		{"GET", "/health", "", "", 200}, // open for load balancers
		{"GET", "/v1/models", "", "", 401},
		{"GET", "/v1/models", "Bearer sk-wrong", "", 401},
		{"GET", "/v1/models", "Bearer sk-first-and-more", "", 401},
		{"GET", "/v1/models", "Basic sk-first", "", 401},
		{"GET", "/v1/models", "sk-first", "", 401},
		{"GET", "/v1/models", "Bearer sk-first", "", 200},
		{"GET", "/v1/models", "bearer sk-second", "", 200},
		{"GET", "/v1/nothing", "", "", 401}, // no hint of which paths exist
		{"POST", "/v1/chat/completions", "", chat, 401},
		{"POST", "/v1/chat/completions", "Bearer sk-second", chat, 200},
	} {
		status, h, body := do(tc.method, tc.path, tc.auth, tc.body)
		if status != tc.want {
			t.Errorf("%s %s with %q: status %d, want %d: %s", tc.method, tc.path, tc.auth, status, tc.want, body)
			continue
		}
		if status != 401 {
			continue
		}
		e := decode[errorResponse](t, []byte(body)).Error
		if e == nil || e.Type != "invalid_request_error" || !nullable(e.Code, "invalid_api_key") || e.Param != nil ||
			h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s with %q: 401 body %s, WWW-Authenticate %q", tc.method, tc.path, tc.auth, body, h.Get("WWW-Authenticate"))
		}
		if strings.Contains(body, "sk-") {
			t.Errorf("the 401 repeats a key: %s", body)
		}
	}
	// The alias is listed and retrievable; responses carry the model's name.
	if status, _, body := do("GET", "/v1/models/gpt-4o-mini", "Bearer sk-first", ""); status != 200 || !strings.Contains(body, `"id":"gpt-4o-mini"`) {
		t.Errorf("retrieve alias: %d %s", status, body)
	}
	if _, _, body := do("GET", "/v1/models", "Bearer sk-first", ""); !strings.Contains(body, `"stories"`) || !strings.Contains(body, `"gpt-4o-mini"`) {
		t.Errorf("list: %s", body)
	}
	logs.waitFor(t, 5*time.Second, "POST /v1/chat/completions 200")
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, l := range logs.lines {
		if strings.Contains(l, "sk-") {
			t.Errorf("log line shows a key: %s", l)
		}
	}
}
