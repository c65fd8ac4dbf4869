package registry

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/symbc/symbc/internal/testmodel"
	"github.com/symbc/symbc/symb"
)

// testRegistry is go-containerregistry's in-memory registry behind a
// recorder of the requests it served.
type testRegistry struct {
	host string
	mu   sync.Mutex
	reqs []string // "METHOD /v2/..."
	// fault, when set, may answer a request instead of the registry.
	fault func(w http.ResponseWriter, r *http.Request) bool
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	h := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, r.Method+" "+r.URL.Path)
		fault := tr.fault
		tr.mu.Unlock()
		if fault != nil && fault(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// count returns how many recorded requests have the method and contain part
// in their path, and forgets all requests when reset is true.
func (tr *testRegistry) count(method, part string, reset bool) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, r := range tr.reqs {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, part) {
			n++
		}
	}
	if reset {
		tr.reqs = nil
	}
	return n
}

func (tr *testRegistry) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	tr.mu.Lock()
	tr.fault = f
	tr.mu.Unlock()
}

// fast keeps retries quick in tests and ignores the machine's Docker config.
func fast(opts ...Option) []Option {
	return append([]Option{WithRetry(3, time.Millisecond), WithKeychain(anonKeychain{})}, opts...)
}

const testReport = `{"pass": true, "tool_version": "symbc test (abc)", "reference": {"id": "hf-transformers-fp32", "dtype": "float32"},
 "overall": {"mean_kld": 0.0123, "top1_agreement": 0.975, "positions": 64}, "thresholds": {"max_kld": 0.05}}`

// writeModel writes a random model folder and returns it.
func writeModel(t *testing.T, s testmodel.Spec) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := testmodel.Write(context.Background(), dir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readTree maps every file under dir to its content.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			t.Errorf("%s is not a regular file", p)
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails unless the two folders hold the same files, byte for byte.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	a, b := readTree(t, want), readTree(t, got)
	if len(a) != len(b) {
		t.Errorf("%s has %d files, %s has %d", want, len(a), got, len(b))
	}
	for p, wb := range a {
		gb, ok := b[p]
		if !ok {
			t.Errorf("%s missing from %s", p, got)
		} else if !bytes.Equal(wb, gb) {
			t.Errorf("%s differs after the round trip", p)
		}
	}
}

// checkClean fails unless dir matches its manifest.json.
func checkClean(t *testing.T, dir string) {
	t.Helper()
	m, err := symb.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	probs, err := m.Check(context.Background(), dir, 2)
	if err != nil || len(probs) > 0 {
		t.Fatalf("%s does not check clean: %v %v", dir, err, probs)
	}
}

// noLeftovers fails if parent holds anything but the names given.
func noLeftovers(t *testing.T, parent string, allowed ...string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		ok := false
		for _, a := range allowed {
			ok = ok || e.Name() == a
		}
		if !ok {
			t.Errorf("%s left behind in %s", e.Name(), parent)
		}
	}
}

type anonKeychain struct{}

func (anonKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

// defaultOptions is makeOptions without options, which cannot fail.
func defaultOptions(t testing.TB) *options {
	t.Helper()
	o, err := makeOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
