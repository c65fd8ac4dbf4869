package server

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMetrics(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m)
	post(t, srv.URL+"/v1/completions", `{"prompt":"Once upon a time","temperature":0,"max_tokens":10}`)
	post(t, srv.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"Once upon a time"}],"temperature":0,"max_tokens":7,"stream":true}`)
	post(t, srv.URL+"/v1/completions", `{"prompt":"x","temperature":5}`)
	get(t, srv.URL+"/nowhere/42")
	resp, body := get(t, srv.URL+"/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	value := func(series string) float64 {
		t.Helper()
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in\n%s", series, body)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	for series, want := range map[string]float64{
		`symbc_requests_total{endpoint="/v1/completions",status="200"}`:      1,
		`symbc_requests_total{endpoint="/v1/completions",status="400"}`:      1,
		`symbc_requests_total{endpoint="/v1/chat/completions",status="200"}`: 1,
		`symbc_requests_total{endpoint="other",status="404"}`:                1,
		`symbc_prompt_tokens_total`:                                          10,
		`symbc_generation_tokens_total`:                                      17,
		`symbc_requests_running`:                                             0,
		`symbc_requests_waiting`:                                             0,
		`symbc_time_to_first_token_seconds_count`:                            2,
		`symbc_time_per_output_token_seconds_count`:                          2,
		`symbc_time_to_first_token_seconds_bucket{le="+Inf"}`:                2,
		`symbc_request_duration_seconds_count{endpoint="/v1/completions"}`:   2,
	} {
		if got := value(series); got != want {
			t.Errorf("%s = %g, want %g", series, got, want)
		}
	}
	if ttft := value(`symbc_time_to_first_token_seconds_sum`); ttft <= 0 || ttft > 60 {
		t.Errorf("time to first token sum %g", ttft)
	}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "# ") && !regexp.MustCompile(`^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$`).MatchString(line) {
			t.Errorf("not a Prometheus line: %q", line)
		}
	}
}

func TestCORS(t *testing.T) {
	m := loadModel(t, storiesDir(t))
	srv, _ := newServer(t, m, WithCORSOrigins("http://app.example", "http://localhost:3000/"), WithAPIKeys("sk-1"))
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", srv.URL+"/v1/chat/completions", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, x-stainless-os")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight("http://localhost:3000")
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "authorization") ||
		h.Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
	if resp := preflight("http://evil.example"); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
	}
	// Actual requests carry the header (also on errors, so pages can read them).
	resp, _ = get(t, srv.URL+"/v1/models", "Origin", "http://app.example", "Authorization", "Bearer sk-1")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Errorf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = get(t, srv.URL+"/v1/models", "Origin", "http://app.example")
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Errorf("401: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = get(t, srv.URL+"/v1/models", "Origin", "http://evil.example", "Authorization", "Bearer sk-1")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin got %v", resp.Header)
	}
	// Without --cors-origin, no CORS at all.
	plain, _ := newServer(t, m)
	req, _ := http.NewRequest("OPTIONS", plain.URL+"/v1/models", nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get("Access-Control-Allow-Origin") != "" || r2.StatusCode != 405 {
		t.Errorf("no CORS configured: %d %v", r2.StatusCode, r2.Header)
	}
}
