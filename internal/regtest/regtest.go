// Package regtest is an in-memory OCI registry for tests that counts the
// requests it serves, so that a test can assert that a stored model is used
// without any request, or without any blob download.
package regtest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// Registry is go-containerregistry's in-memory registry behind a counter.
type Registry struct {
	Host string // host:port, plain HTTP on the loopback interface

	mu         sync.Mutex
	all, blobs int
}

// New starts a registry that stops with the test. It also points
// DOCKER_CONFIG at an empty folder, so that no credentials of the machine
// are used.
func New(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{}
	h := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.all++
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			r.blobs++
		}
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Counts returns the requests served and the blob downloads among them
// since the last reset, and starts counting from zero when reset is true.
func (r *Registry) Counts(reset bool) (all, blobs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all, blobs = r.all, r.blobs
	if reset {
		r.all, r.blobs = 0, 0
	}
	return all, blobs
}
