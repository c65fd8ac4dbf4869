package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	maxRedirects = 10
	maxInfoBytes = 64 << 20 // a model listing is a few hundred KB at most
)

// newRequest builds a Hub request. The token is attached only when the
// target is the endpoint's own host: a redirect to a CDN or storage bucket
// carries a signed URL and must not receive the credential.
func (c *Client) newRequest(ctx context.Context, method string, u *url.URL) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("build request for %s://%s: %w", u.Scheme, u.Host, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	// Compression would hide the real size and break byte ranges.
	req.Header.Set("Accept-Encoding", "identity")
	if c.token != "" && c.sameHostAsEndpoint(u) {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

func (c *Client) sameHostAsEndpoint(u *url.URL) bool {
	ep, err := url.Parse(c.endpoint)
	return err == nil && strings.EqualFold(ep.Scheme, u.Scheme) && strings.EqualFold(ep.Host, u.Host)
}

// do sends a request and follows redirects by hand. With onlyRelative, only
// redirects without a host are followed (a renamed repo), and a redirect to
// another host is returned as is: its headers hold the metadata of an LFS
// file, and following it would fetch from the CDN instead.
func (c *Client) do(ctx context.Context, method string, u *url.URL, header http.Header, onlyRelative bool, w what) (*http.Response, error) {
	for hop := 0; ; hop++ {
		req, err := c.newRequest(ctx, method, u)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, c.netError(ctx, err, req, w)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return resp, nil
		}
		target, err := url.Parse(loc)
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: fetching %s: bad redirect location", ErrHTTP, w)
		}
		if onlyRelative && target.Host != "" {
			return resp, nil
		}
		resp.Body.Close()
		if hop >= maxRedirects {
			return nil, fmt.Errorf("%w: fetching %s: more than %d redirects", ErrHTTP, w, maxRedirects)
		}
		u = u.ResolveReference(target)
	}
}

// endpointURL joins an already escaped path onto the endpoint.
func (c *Client) endpointURL(escapedPath string) (*url.URL, error) {
	u, err := url.Parse(c.endpoint + escapedPath)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: endpoint %q is not an http(s) URL", ErrHTTP, c.endpoint)
	}
	return u, nil
}

// modelInfo is what Snapshot needs from the model API.
type modelInfo struct {
	commit string
	files  []sibling
}

type sibling struct {
	Name   string `json:"rfilename"`
	BlobID string `json:"blobId"`
	Size   *int64 `json:"size"`
	LFS    *struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"lfs"`
}

func (m *modelInfo) names() []string {
	out := make([]string, len(m.files))
	for i, f := range m.files {
		out[i] = f.Name
	}
	return out
}

// modelInfo asks GET /api/models/{repo}/revision/{revision}?blobs=true for the
// commit a revision points to and the files it holds.
func (c *Client) modelInfo(ctx context.Context, repo, revision string) (*modelInfo, error) {
	w := what{repo: repo, revision: revision}
	u, err := c.endpointURL("/api/models/" + repo + "/revision/" + quotePath(revision, "") + "?blobs=true")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.metaTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, u, http.Header{"Accept": {"application/json"}}, false, w)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, c.statusError(resp, w)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInfoBytes+1))
	if err != nil {
		return nil, c.netError(ctx, err, resp.Request, w)
	}
	if len(body) > maxInfoBytes {
		return nil, fmt.Errorf("%w: listing of %s is larger than %d bytes", ErrHTTP, w, maxInfoBytes)
	}
	var raw struct {
		SHA      string    `json:"sha"`
		Siblings []sibling `json:"siblings"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: listing of %s is not valid JSON: %s", ErrHTTP, w, oneLine(err.Error(), 200))
	}
	if raw.SHA == "" {
		return nil, fmt.Errorf("%w: listing of %s has no commit sha", ErrHTTP, w)
	}
	if err := checkBlobName("commit", raw.SHA); err != nil {
		return nil, fmt.Errorf("listing of %s: %w", w, err)
	}
	seen := make(map[string]bool, len(raw.Siblings))
	for _, s := range raw.Siblings {
		// One hostile name condemns the whole listing: an honest Hub never
		// sends one, so nothing else from this response is trusted either.
		if err := checkRelPath("filename", s.Name); err != nil {
			return nil, fmt.Errorf("listing of %s: %w", w, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%w: listing of %s names %q twice", ErrHTTP, w, s.Name)
		}
		seen[s.Name] = true
	}
	return &modelInfo{commit: raw.SHA, files: raw.Siblings}, nil
}

// fileMeta is what HEAD /{repo}/resolve/{revision}/{file} tells about a file.
type fileMeta struct {
	commit   string
	etag     string
	size     int64
	location *url.URL // where to GET the content (the CDN for LFS files)
}

func (c *Client) resolveURL(repo, revision, filename string) (*url.URL, error) {
	return c.endpointURL("/" + repo + "/resolve/" + quotePath(revision, "") + "/" + quotePath(filename, "/"))
}

// headFile reads a file's commit, etag and size. A file known to be absent is
// remembered in the cache so later runs need no request to learn it again.
func (c *Client) headFile(ctx context.Context, rc repoCache, repo, revision, filename string) (*fileMeta, error) {
	w := what{repo: repo, revision: revision, file: filename}
	u, err := c.resolveURL(repo, revision, filename)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.metaTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodHead, u, nil, true, w)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode >= 400 {
		err := c.statusError(resp, w)
		if commit := h.Get("X-Repo-Commit"); errors.Is(err, ErrEntryNotFound) && commit != "" && checkBlobName("commit", commit) == nil {
			rc.markMissing(commit, filename)
			_ = rc.writeRef(revision, commit)
		}
		return nil, err
	}
	isRedirect := resp.StatusCode >= 300
	if resp.StatusCode < 200 || (isRedirect && h.Get("Location") == "") {
		return nil, fmt.Errorf("%w: fetching %s: unexpected %s", ErrHTTP, w, resp.Status)
	}
	m := &fileMeta{commit: h.Get("X-Repo-Commit"), location: resp.Request.URL}
	if m.commit == "" {
		return nil, fmt.Errorf("%w: the answer for %s has no X-Repo-Commit header; is %s a Hugging Face Hub?", ErrHTTP, w, c.endpoint)
	}
	if err := checkBlobName("commit", m.commit); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", w, err)
	}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	m.etag = normalizeEtag(etag)
	if m.etag == "" {
		return nil, fmt.Errorf("%w: the answer for %s has no ETag, so the download cannot be cached safely", ErrHTTP, w)
	}
	if err := checkBlobName("etag", m.etag); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", w, err)
	}
	sizeText := h.Get("X-Linked-Size")
	if sizeText == "" && !isRedirect {
		sizeText = h.Get("Content-Length")
	}
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("%w: the answer for %s has no valid size (X-Linked-Size or Content-Length)", ErrHTTP, w)
	}
	m.size = size
	if isRedirect {
		target, err := url.Parse(h.Get("Location"))
		if err != nil {
			return nil, fmt.Errorf("%w: fetching %s: bad redirect location", ErrHTTP, w)
		}
		m.location = resp.Request.URL.ResolveReference(target)
	}
	return m, nil
}
