// Package hubtest runs an in-memory stand-in for the Hugging Face Hub on
// loopback, for tests of code that downloads models. It answers the requests
// the Hub's clients make:
//
//	GET  /api/models/{repo}/revision/{rev}[?blobs=true]  commit and file list
//	HEAD /{repo}/resolve/{rev}/{file}                    X-Repo-Commit, ETag, size
//	GET  /{repo}/resolve/{rev}/{file}                    content of a regular file
//
// with the Hub's error headers (X-Error-Code RepoNotFound, GatedRepo,
// RevisionNotFound, EntryNotFound). LFS files are answered with a redirect to
// a second server playing the CDN, on another port so that a client sending
// its token there can be caught. Every request is logged, and faults can be
// injected per file: a connection cut or a stall at a byte offset, corrupted
// content, a server ignoring Range.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Repo is the content of one model repository at one commit.
type Repo struct {
	// Commit is the 40-hex commit id that every revision of the repo
	// resolves to; "main" and the commit itself are the valid revisions.
	Commit string
	// Files maps repository paths ("config.json", "sub/x.json") to content.
	Files map[string][]byte
	// LFS marks the files stored in LFS: their ETag is the SHA-256 of the
	// content and their bytes come from the CDN server.
	LFS map[string]bool
	// Gated refuses file downloads unless the request carries a token given
	// to Grant; the listing stays public, as on the Hub.
	Gated bool
}

// ETag is the etag the Hub gives a file: the SHA-256 of an LFS file, the git
// blob id of a regular one. It is the name of the file's blob in the cache.
func (r Repo) ETag(name string) string {
	if r.LFS[name] {
		return SHA256(r.Files[name])
	}
	return GitBlobID(r.Files[name])
}

// SHA256 is the lowercase hex SHA-256 of data.
func SHA256(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// GitBlobID is the git object id of data stored as a blob.
func GitBlobID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// fileKey names one file of one repo, for the fault knobs.
type fileKey struct{ repo, file string }

// Server is a fake Hub and its CDN. It is safe for concurrent use; the knobs
// may be turned while requests are served.
type Server struct {
	hub, cdn *httptest.Server

	mu       sync.Mutex
	repos    map[string]*Repo
	renamed  map[string]string // old repo id → new repo id
	granted  map[string]bool   // tokens that accepted the gated licenses
	log      []string
	agents   []string
	hubAuth  int
	cdnAuth  int
	cdnGets  map[string]int // SHA-256 → GET count
	cutAt    map[fileKey]int64
	blockAt  map[fileKey]int64
	reached  map[fileKey]chan struct{}
	corrupt  map[fileKey]bool
	noRange  bool
	etag     string   // when set, every file reports this etag
	siblings []string // when set, the listing names these files
}

// New starts a Server that is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		repos:   map[string]*Repo{},
		renamed: map[string]string{},
		granted: map[string]bool{},
		cdnGets: map[string]int{},
		cutAt:   map[fileKey]int64{},
		blockAt: map[fileKey]int64{},
		reached: map[fileKey]chan struct{}{},
		corrupt: map[fileKey]bool{},
	}
	s.hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.cdn = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	t.Cleanup(s.Close)
	return s
}

// URL is the Hub endpoint, for hub.WithEndpoint or HF_ENDPOINT.
func (s *Server) URL() string { return s.hub.URL }

// CDNURL is the base URL of the server holding the LFS content.
func (s *Server) CDNURL() string { return s.cdn.URL }

// Close stops both servers; later requests fail to connect. It may be
// called more than once.
func (s *Server) Close() {
	s.hub.Close()
	s.cdn.Close()
}

// AddRepo serves r as the repository id ("org/name"), replacing any earlier
// one. The maps of r are copied, so the caller may reuse them.
func (s *Server) AddRepo(id string, r Repo) {
	c := &Repo{Commit: r.Commit, Gated: r.Gated, Files: map[string][]byte{}, LFS: map[string]bool{}}
	for n, d := range r.Files {
		c.Files[n] = d
	}
	for n, v := range r.LFS {
		c.LFS[n] = v
	}
	s.mu.Lock()
	s.repos[id] = c
	s.mu.Unlock()
}

// Rename makes file requests for the repo old answer with a relative
// redirect to the repo renamed to, as the Hub does after a rename.
func (s *Server) Rename(old, to string) {
	s.mu.Lock()
	s.renamed[old] = to
	s.mu.Unlock()
}

// Grant gives the token access to every gated repo.
func (s *Server) Grant(token string) {
	s.mu.Lock()
	s.granted[token] = true
	s.mu.Unlock()
}

// CutAt drops the connection of the next transfer of the file after offset
// bytes of its body (a ranged answer counts from its own first byte). It
// applies once.
func (s *Server) CutAt(repo, file string, offset int64) {
	s.mu.Lock()
	s.cutAt[fileKey{repo, file}] = offset
	s.mu.Unlock()
}

// BlockAt stalls the next transfer of the file after offset bytes of its
// body until the client goes away. The channel is closed once those bytes
// are sent. It applies once.
func (s *Server) BlockAt(repo, file string, offset int64) <-chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	s.blockAt[fileKey{repo, file}] = offset
	s.reached[fileKey{repo, file}] = ch
	s.mu.Unlock()
	return ch
}

// Corrupt flips one byte in the middle of every transfer of the file while
// on is true.
func (s *Server) Corrupt(repo, file string, on bool) {
	s.mu.Lock()
	s.corrupt[fileKey{repo, file}] = on
	s.mu.Unlock()
}

// IgnoreRange makes the server answer ranged GETs with the whole file (200)
// while on is true, as some proxies do.
func (s *Server) IgnoreRange(on bool) {
	s.mu.Lock()
	s.noRange = on
	s.mu.Unlock()
}

// OverrideETag makes every file report etag instead of its own ("" restores
// the real ones): for tests of hostile servers.
func (s *Server) OverrideETag(etag string) {
	s.mu.Lock()
	s.etag = etag
	s.mu.Unlock()
}

// OverrideListing makes the model API list names instead of the repo's
// files (nil restores the real listing): for tests of hostile servers.
func (s *Server) OverrideListing(names []string) {
	s.mu.Lock()
	s.siblings = slices.Clone(names)
	s.mu.Unlock()
}

// Requests returns the requests received so far by both servers, in order,
// as "METHOD /path" with " bytes=N-" appended for a ranged request. CDN
// requests have the path /cdn/<sha256>.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// UserAgents returns the User-Agent header of every logged request.
func (s *Server) UserAgents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.agents)
}

// AuthorizedRequests counts the logged requests that carried an
// Authorization header, to the Hub and to the CDN.
func (s *Server) AuthorizedRequests() (hub, cdn int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hubAuth, s.cdnAuth
}

// CDNGets counts the GETs of the LFS content with this SHA-256 since the
// server started.
func (s *Server) CDNGets(sha256 string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cdnGets[sha256]
}

// ResetLog forgets the logged requests, user agents and authorization
// counts (not the CDN GET counts).
func (s *Server) ResetLog() {
	s.mu.Lock()
	s.log, s.agents, s.hubAuth, s.cdnAuth = nil, nil, 0, 0
	s.mu.Unlock()
}

func (s *Server) record(r *http.Request, cdn bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry := r.Method + " " + r.URL.Path
	if rg := r.Header.Get("Range"); rg != "" {
		entry += " " + rg
	}
	s.log = append(s.log, entry)
	s.agents = append(s.agents, r.Header.Get("User-Agent"))
	if r.Header.Get("Authorization") != "" {
		if cdn {
			s.cdnAuth++
		} else {
			s.hubAuth++
		}
	}
}

// keysOf returns the files of all repos whose LFS content has this SHA-256.
func (s *Server) keysOf(sha string) (data []byte, keys []fileKey) {
	for id, r := range s.repos {
		for n, d := range r.Files {
			if r.LFS[n] && SHA256(d) == sha {
				data = d
				keys = append(keys, fileKey{id, n})
			}
		}
	}
	return data, keys
}

// faults takes the faults set for any of keys; cut and block apply once.
func (s *Server) faults(keys []fileKey) (f faultSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.noRange = s.noRange
	for _, k := range keys {
		if s.corrupt[k] {
			f.corrupt = true
		}
		if n, ok := s.cutAt[k]; ok && !f.cut {
			f.cut, f.cutAt = true, n
			delete(s.cutAt, k)
		}
		if n, ok := s.blockAt[k]; ok && !f.block {
			f.block, f.blockAt, f.reached = true, n, s.reached[k]
			delete(s.blockAt, k)
			delete(s.reached, k)
		}
	}
	return f
}
