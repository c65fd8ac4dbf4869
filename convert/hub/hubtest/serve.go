package hubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record(r, false)
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
		repo, rev, ok := strings.Cut(rest, "/revision/")
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		s.serveInfo(w, r, repo, rev)
		return
	}
	repo, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/resolve/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	to, renamed := s.renamed[repo]
	s.mu.Unlock()
	if renamed {
		w.Header().Set("Location", "/"+to+"/resolve/"+rest)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	rev, name, _ := strings.Cut(rest, "/")
	s.serveResolve(w, r, repo, rev, name)
}

// lookup applies the Hub's access rules; it writes the error answer and
// returns nil when access is refused. Like the Hub, it answers 401 for a
// missing repo when no token is sent, so private and missing look alike.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, repo, rev string, files bool) *Repo {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	fr := s.repos[repo]
	granted := auth != "" && s.granted[auth]
	s.mu.Unlock()
	fail := func(status int, code, msg string) *Repo {
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
	if files && fr.Gated && !granted {
		if auth == "" {
			return fail(http.StatusUnauthorized, "GatedRepo", "Access to model "+repo+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
		}
		return fail(http.StatusForbidden, "GatedRepo", "Access to model "+repo+" is restricted and you are not in the authorized list.")
	}
	if rev != "main" && rev != fr.Commit {
		return fail(http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
	}
	return fr
}

func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request, repo, rev string) {
	fr := s.lookup(w, r, repo, rev, false)
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
	s.mu.Lock()
	names := slices.Clone(s.siblings)
	s.mu.Unlock()
	if names == nil {
		for n := range fr.Files {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	sibs := []sib{}
	for _, n := range names {
		e := sib{Name: n}
		if r.URL.Query().Get("blobs") == "true" {
			data := fr.Files[n]
			size := len(data)
			e.Size = &size
			e.BlobID = GitBlobID(data)
			if fr.LFS[n] {
				e.LFS = &lfs{SHA256: SHA256(data), Size: size, PointerSize: 134}
			}
		}
		sibs = append(sibs, e)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": repo, "sha": fr.Commit, "siblings": sibs})
}

func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, repo, rev, name string) {
	fr := s.lookup(w, r, repo, rev, true)
	if fr == nil {
		return
	}
	w.Header().Set("X-Repo-Commit", fr.Commit)
	data, ok := fr.Files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	etag := fr.ETag(name)
	s.mu.Lock()
	if s.etag != "" {
		etag = s.etag
	}
	s.mu.Unlock()
	if fr.LFS[name] {
		// The Hub's answer for an LFS file: a redirect to signed storage,
		// with the real etag and size in X-Linked-* headers.
		w.Header().Set("X-Linked-Etag", `"`+etag+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
		w.Header().Set("ETag", `W/"`+GitBlobID([]byte(name))+`"`)
		w.Header().Set("Location", s.cdn.URL+"/cdn/"+SHA256(data)+"?X-Amz-Signature=abc")
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusFound)
		if r.Method == http.MethodGet {
			w.Write([]byte("Found"))
		}
		return
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	s.serveBytes(w, r, data, []fileKey{{repo, name}})
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record(r, true)
	sha := strings.TrimPrefix(r.URL.Path, "/cdn/")
	s.mu.Lock()
	data, keys := s.keysOf(sha)
	if r.Method == http.MethodGet {
		s.cdnGets[sha]++
	}
	s.mu.Unlock()
	if keys == nil {
		http.NotFound(w, r)
		return
	}
	s.serveBytes(w, r, data, keys)
}

// faultSet is what serveBytes injects into one answer.
type faultSet struct {
	corrupt, noRange bool
	cut, block       bool
	cutAt, blockAt   int64
	reached          chan struct{}
}

// serveBytes answers GET and HEAD with "Range: bytes=N-" and "bytes=N-M"
// support and the faults set for the file.
func (s *Server) serveBytes(w http.ResponseWriter, r *http.Request, data []byte, keys []fileKey) {
	var f faultSet
	if r.Method == http.MethodGet {
		f = s.faults(keys)
	} else {
		s.mu.Lock()
		f.noRange = s.noRange
		s.mu.Unlock()
	}
	if f.corrupt && len(data) > 0 {
		data = slices.Clone(data)
		data[len(data)/2] ^= 0xff
	}

	start, end := int64(0), int64(len(data))
	if rg := r.Header.Get("Range"); rg != "" && !f.noRange {
		first, last, _ := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
		n, err := strconv.ParseInt(first, 10, 64)
		if err == nil && last != "" {
			var m int64
			if m, err = strconv.ParseInt(last, 10, 64); err == nil && m >= n {
				end = min(m+1, end)
			} else if err == nil {
				err = fmt.Errorf("bad range")
			}
		}
		if err != nil || n < 0 || n >= int64(len(data)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, end-1, len(data)))
	}
	body := data[start:end]
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Accept-Ranges", "bytes")
	if start > 0 || end < int64(len(data)) {
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return
	}
	switch {
	case f.cut:
		w.Write(body[:min(f.cutAt, int64(len(body)))])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	case f.block:
		w.Write(body[:min(f.blockAt, int64(len(body)))])
		w.(http.Flusher).Flush()
		close(f.reached)
		<-r.Context().Done()
		return
	}
	w.Write(body)
}
