package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeHub is a loopback stand-in for the Hub: the model API, HEAD/GET on
// resolve URLs with the Hub's headers, and LFS files redirected to a second
// server playing the CDN (another host, so the token must not reach it).
type fakeHub struct {
	hub, cdn *httptest.Server

	mu       sync.Mutex
	repos    map[string]*fakeRepo
	renamed  map[string]string // old repo id → new repo id (relative redirect)
	granted  map[string]bool   // tokens that accepted gated licenses
	log      []string          // "METHOD path [range]" of every request
	cdnAuth  int               // CDN requests that carried Authorization
	hubAuth  int               // hub requests that carried Authorization
	agents   []string
	cdnGets  map[string]int // sha256 → GET count
	cutAt    map[string]int64
	blockAt  map[string]int64
	reached  chan struct{} // closed when a blocked transfer reaches its point
	corrupt  map[string]bool
	noRange  bool
	badEtag  string
	siblings []string // when set, the listing reports these names instead
}

type fakeRepo struct {
	commit string
	files  map[string][]byte
	lfs    map[string]bool
	gated  bool
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	f := &fakeHub{
		repos:   map[string]*fakeRepo{},
		renamed: map[string]string{},
		granted: map[string]bool{},
		cdnGets: map[string]int{},
		cutAt:   map[string]int64{},
		blockAt: map[string]int64{},
		corrupt: map[string]bool{},
	}
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	t.Cleanup(func() { f.hub.Close(); f.cdn.Close() })
	return f
}

func (f *fakeHub) addRepo(id string, r *fakeRepo) { f.mu.Lock(); f.repos[id] = r; f.mu.Unlock() }

func (f *fakeHub) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakeHub) resetLog() { f.mu.Lock(); f.log = nil; f.mu.Unlock() }

func (f *fakeHub) record(r *http.Request, auth *int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	entry := r.Method + " " + r.URL.Path
	if rg := r.Header.Get("Range"); rg != "" {
		entry += " " + rg
	}
	f.log = append(f.log, entry)
	f.agents = append(f.agents, r.Header.Get("User-Agent"))
	if r.Header.Get("Authorization") != "" {
		*auth++
	}
}

func gitBlobID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// etagOf is what the Hub uses as a file's etag: the LFS SHA-256, or the git
// blob id of a regular file.
func (r *fakeRepo) etagOf(name string) string {
	if r.lfs[name] {
		return sha256Hex(r.files[name])
	}
	return gitBlobID(r.files[name])
}

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.record(r, &f.hubAuth)
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
		repo, rev, ok := strings.Cut(rest, "/revision/")
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		f.serveInfo(w, r, repo, rev)
		return
	}
	repo, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/resolve/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	to, renamed := f.renamed[repo]
	f.mu.Unlock()
	if renamed {
		w.Header().Set("Location", "/"+to+"/resolve/"+rest)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	rev, name, _ := strings.Cut(rest, "/")
	f.serveResolve(w, r, repo, rev, name)
}

// lookup applies the Hub's access rules; it writes the error answer and
// returns nil when access is refused.
func (f *fakeHub) lookup(w http.ResponseWriter, r *http.Request, repo, rev string, files bool) *fakeRepo {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	fr := f.repos[repo]
	granted := f.granted[auth]
	f.mu.Unlock()
	fail := func(status int, code, msg string) *fakeRepo {
		w.Header().Set("X-Error-Code", code)
		w.Header().Set("X-Error-Message", msg)
		w.WriteHeader(status)
		return nil
	}
	if fr == nil {
		if auth == "" {
			return fail(http.StatusUnauthorized, "RepoNotFound", "Invalid username or password.")
		}
		return fail(http.StatusNotFound, "RepoNotFound", "Repository not found")
	}
	if files && fr.gated && !granted {
		msg := "Access to model " + repo + " is restricted. You must have access to it and be authenticated to access it. Please log in."
		if auth == "" {
			return fail(http.StatusUnauthorized, "GatedRepo", msg)
		}
		return fail(http.StatusForbidden, "GatedRepo", "Access to model "+repo+" is restricted and you are not in the authorized list.")
	}
	if rev != "main" && rev != fr.commit {
		return fail(http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
	}
	return fr
}

func (f *fakeHub) serveInfo(w http.ResponseWriter, r *http.Request, repo, rev string) {
	fr := f.lookup(w, r, repo, rev, false)
	if fr == nil {
		return
	}
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sib struct {
		Name   string `json:"rfilename"`
		BlobID string `json:"blobId,omitempty"`
		Size   *int   `json:"size,omitempty"`
		LFS    *lfs   `json:"lfs,omitempty"`
	}
	var sibs []sib
	f.mu.Lock()
	names := slices.Clone(f.siblings)
	f.mu.Unlock()
	if names == nil {
		for n := range fr.files {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	for _, n := range names {
		s := sib{Name: n}
		if r.URL.Query().Get("blobs") == "true" {
			data := fr.files[n]
			size := len(data)
			s.Size = &size
			s.BlobID = gitBlobID(data)
			if fr.lfs[n] {
				s.LFS = &lfs{SHA256: sha256Hex(data), Size: size, PointerSize: 134}
			}
		}
		sibs = append(sibs, s)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": repo, "sha": fr.commit, "siblings": sibs})
}

func (f *fakeHub) serveResolve(w http.ResponseWriter, r *http.Request, repo, rev, name string) {
	fr := f.lookup(w, r, repo, rev, true)
	if fr == nil {
		return
	}
	w.Header().Set("X-Repo-Commit", fr.commit)
	data, ok := fr.files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	etag := fr.etagOf(name)
	f.mu.Lock()
	if f.badEtag != "" {
		etag = f.badEtag
	}
	f.mu.Unlock()
	if fr.lfs[name] {
		w.Header().Set("X-Linked-Etag", `"`+etag+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		w.Header().Set("ETag", `W/"`+gitBlobID([]byte(name))+`"`)
		w.Header().Set("Location", f.cdn.URL+"/cdn/"+sha256Hex(data)+"?X-Amz-Signature=abc")
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusFound)
		if r.Method == http.MethodGet {
			w.Write([]byte("Found"))
		}
		return
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	f.serveBytes(w, r, data, name)
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.record(r, &f.cdnAuth)
	sha := strings.TrimPrefix(r.URL.Path, "/cdn/")
	f.mu.Lock()
	var data []byte
	for _, fr := range f.repos {
		for n, d := range fr.files {
			if fr.lfs[n] && sha256Hex(d) == sha {
				data = d
			}
		}
	}
	f.cdnGets[sha]++
	f.mu.Unlock()
	if data == nil {
		http.NotFound(w, r)
		return
	}
	f.serveBytes(w, r, data, sha)
}

// serveBytes answers GET/HEAD with "Range: bytes=N-" support and the
// injected faults: a connection cut at a byte (once), a stall at a byte
// until the client gives up, corrupted content.
func (f *fakeHub) serveBytes(w http.ResponseWriter, r *http.Request, data []byte, key string) {
	f.mu.Lock()
	if f.corrupt[key] {
		data = slices.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	cut, cutOK := f.cutAt[key]
	delete(f.cutAt, key)
	block, blockOK := f.blockAt[key]
	delete(f.blockAt, key)
	noRange := f.noRange
	f.mu.Unlock()

	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" && !noRange {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		if err != nil || n >= int64(len(data)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)-int(start)))
	w.Header().Set("Accept-Ranges", "bytes")
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return
	}
	body := data[start:]
	switch {
	case cutOK:
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	case blockOK:
		w.Write(body[:block])
		w.(http.Flusher).Flush()
		close(f.reached)
		<-r.Context().Done()
		return
	}
	w.Write(body)
}
