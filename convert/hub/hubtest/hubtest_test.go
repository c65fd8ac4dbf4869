package hubtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
)

// The fake's own contract, checked with a plain HTTP client so a mistake in
// it cannot be hidden by a matching mistake in the Hub client.
func TestServerProtocol(t *testing.T) {
	s := New(t)
	weights := bytes.Repeat([]byte("0123456789"), 1000)
	s.AddRepo("org/m", Repo{
		Commit: "0123456789abcdef0123456789abcdef01234567",
		Files:  map[string][]byte{"config.json": []byte("{}"), "w.safetensors": weights},
		LFS:    map[string]bool{"w.safetensors": true},
	})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, url, rng string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	resp, body := do("GET", s.URL()+"/api/models/org/m/revision/main?blobs=true", "")
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			Name string `json:"rfilename"`
			Size int    `json:"size"`
			LFS  *struct {
				SHA256 string `json:"sha256"`
			} `json:"lfs"`
		} `json:"siblings"`
	}
	if err := json.Unmarshal(body, &info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("listing: %s %v", resp.Status, err)
	}
	if info.SHA != "0123456789abcdef0123456789abcdef01234567" || len(info.Siblings) != 2 ||
		info.Siblings[1].LFS == nil || info.Siblings[1].LFS.SHA256 != SHA256(weights) || info.Siblings[1].Size != len(weights) {
		t.Fatalf("listing %+v", info)
	}

	resp, _ = do("HEAD", s.URL()+"/org/m/resolve/main/w.safetensors", "")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Linked-Etag") != `"`+SHA256(weights)+`"` ||
		resp.Header.Get("X-Linked-Size") != "10000" || loc != s.CDNURL()+"/cdn/"+SHA256(weights)+"?X-Amz-Signature=abc" {
		t.Fatalf("HEAD of an LFS file: %s %v", resp.Status, resp.Header)
	}

	// A cut applies to one GET only, and a ranged GET answers from its offset.
	s.CutAt("org/m", "w.safetensors", 100)
	cut, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(cut.Body)
	cut.Body.Close()
	if err == nil || len(got) != 100 {
		t.Fatalf("cut transfer: %d bytes, %v; want 100 and an error", len(got), err)
	}
	if _, body = do("GET", loc, ""); !bytes.Equal(body, weights) {
		t.Fatalf("the transfer after a cut has %d bytes", len(body))
	}
	resp, body = do("GET", loc, "bytes=9990-")
	if resp.StatusCode != http.StatusPartialContent || string(body) != "0123456789" || resp.Header.Get("Content-Range") != "bytes 9990-9999/10000" {
		t.Fatalf("ranged GET: %s %q %v", resp.Status, body, resp.Header)
	}
	if n := s.CDNGets(SHA256(weights)); n != 3 {
		t.Errorf("CDNGets = %d, want 3", n)
	}

	resp, _ = do("GET", s.URL()+"/org/m/resolve/main/missing.json", "")
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" || resp.Header.Get("X-Repo-Commit") == "" {
		t.Errorf("missing file: %s %v", resp.Status, resp.Header)
	}
	want := []string{
		"GET /api/models/org/m/revision/main",
		"HEAD /org/m/resolve/main/w.safetensors",
	}
	if got := s.Requests(); len(got) < 2 || !slices.Equal(got[:2], want) {
		t.Errorf("log %q, want it to start with %q", got, want)
	}
}
