// Package hub fetches model files from the Hugging Face Hub into the cache
// layout shared with the Hub's Python client, so a model downloaded by either
// tool is reused by the other:
//
//	<cache>/models--org--name/refs/<revision>          commit id of a branch or tag
//	<cache>/models--org--name/snapshots/<commit>/<path> relative symlink to the blob
//	<cache>/models--org--name/blobs/<etag>             file content (<etag>.incomplete while downloading;
//	                                                   <etag>.ranged and .ranged.parts for a file fetched in parts)
//	<cache>/models--org--name/trees/<commit>.json      file list of the commit
//	<cache>/models--org--name/.no_exist/<commit>/<path> marker for a file known to be absent
//	<cache>/.locks/models--org--name/<etag>.lock       held while a blob is written
//
// A file already in the cache is used without any network request. Files
// that huggingface_hub fetched through Xet storage sit in the same layout
// (Xet's own ~/.cache/huggingface/xet holds deduplication chunks, not files).
package hub

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/symbc/symbc/internal/workers"
)

// DefaultEndpoint is the public Hub.
const DefaultEndpoint = "https://huggingface.co"

// Client downloads from one Hub endpoint into one cache folder. It is safe
// for concurrent use.
type Client struct {
	endpoint  string
	token     string
	cacheDir  string
	offline   bool
	http      *http.Client
	progress  func(file string, done, total int64)
	jobs      int
	userAgent string

	connections int   // ranged requests at once for one large file
	partSize    int64 // files larger than this are fetched in parts of this size

	metaTimeout  time.Duration // bound on one metadata request (API, HEAD)
	stallTimeout time.Duration // a download receiving nothing this long is retried
	retries      int           // attempts to resume a transfer that broke mid-body
}

// Option configures a Client; an option given a value it cannot take makes
// New fail.
type Option func(*Client) error

// WithEndpoint sets the Hub URL (default https://huggingface.co): an
// http or https URL with a host.
func WithEndpoint(endpoint string) Option {
	return func(c *Client) error {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("hub endpoint %q: want an http or https URL with a host", endpoint)
		}
		c.endpoint = strings.TrimRight(endpoint, "/")
		return nil
	}
}

// WithToken sets the access token sent as a Bearer credential; empty means
// anonymous access.
func WithToken(token string) Option { return func(c *Client) error { c.token = token; return nil } }

// WithCacheDir sets the cache folder (the Hub cache root, holding models--*).
func WithCacheDir(dir string) Option { return func(c *Client) error { c.cacheDir = dir; return nil } }

// WithOffline forbids all network access: only the cache answers.
func WithOffline(offline bool) Option {
	return func(c *Client) error { c.offline = offline; return nil }
}

// WithHTTPClient sets the HTTP client (transport, proxy, TLS). Redirects are
// always handled by this package, whatever the client's CheckRedirect says.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) error { c.http = hc; return nil } }

// WithProgress sets a callback told of download progress: file is the
// repository path, done the bytes on disk so far (including a resumed part),
// total the expected size. It is called from several goroutines when more
// than one job runs, and only for files that are transferred.
func WithProgress(fn func(file string, done, total int64)) Option {
	return func(c *Client) error { c.progress = fn; return nil }
}

// WithJobs sets how many files Snapshot downloads at once (default 8; 0:
// one per CPU; negative is an error).
func WithJobs(n int) Option {
	return func(c *Client) error {
		if err := workers.Check("hub jobs", n); err != nil {
			return err
		}
		c.jobs = workers.Count(n)
		return nil
	}
}

// WithConnections sets how many HTTP Range requests download one large
// file at once (default 4; 1 turns parallel parts off). Files larger than
// 64 MiB are fetched in 64 MiB parts, each resumed where it stopped.
func WithConnections(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("hub connections %d: want at least 1", n)
		}
		c.connections = n
		return nil
	}
}

// WithUserAgent replaces the User-Agent header (default "symbc/<version>; go/<version>").
func WithUserAgent(ua string) Option { return func(c *Client) error { c.userAgent = ua; return nil } }

// New builds a Client from options only; see NewFromEnv for the usual
// environment variables. Without WithCacheDir the cache is
// ~/.cache/huggingface/hub. The first option that fails is the error.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		endpoint:     DefaultEndpoint,
		jobs:         8,
		connections:  defaultConnections,
		partSize:     defaultPartSize,
		metaTimeout:  10 * time.Second,
		stallTimeout: 10 * time.Second,
		retries:      5,
	}
	if home, err := os.UserHomeDir(); err == nil {
		c.cacheDir = filepath.Join(home, ".cache", "huggingface", "hub")
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.cacheDir != "" {
		if abs, err := filepath.Abs(c.cacheDir); err == nil {
			c.cacheDir = abs
		}
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent()
	}
	base := c.http
	if base == nil {
		base = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	// A copy, so the caller's client is not changed: redirects are followed
	// by hand to decide per hop whether the token may travel.
	hc := *base
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	return c, nil
}

func defaultUserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("symbc/%s; go/%s", v, strings.TrimPrefix(runtime.Version(), "go"))
}

// CacheDir returns the cache folder in use.
func (c *Client) CacheDir() string { return c.cacheDir }

func (c *Client) checkArgs(repo, revision string) (string, error) {
	if !validRepoID(repo) {
		return "", fmt.Errorf("%w: %q (expected \"name\" or \"org/name\")", ErrInvalidRepoID, repo)
	}
	if revision == "" {
		revision = "main"
	}
	if err := checkRelPath("revision", revision); err != nil {
		return "", err
	}
	if c.cacheDir == "" {
		return "", fmt.Errorf("no cache folder: the home folder is unknown; set HF_HUB_CACHE")
	}
	return revision, nil
}

// File makes one file of a model revision available and returns its path in
// the snapshot folder. revision "" means "main". A file already cached is
// returned without any network request.
func (c *Client) File(ctx context.Context, repo, revision, filename string) (string, error) {
	revision, err := c.checkArgs(repo, revision)
	if err != nil {
		return "", err
	}
	if err := checkRelPath("filename", filename); err != nil {
		return "", err
	}
	rc := c.repoCache(repo)
	w := what{repo: repo, revision: revision, file: filename}

	if commit := rc.resolveLocal(revision); commit != "" {
		if p, ok := rc.cachedFile(commit, filename); ok {
			return p, nil
		}
		if rc.knownMissing(commit, filename) {
			return "", &kindError{ErrEntryNotFound, fmt.Sprintf("%s not found on the Hub (absence remembered in the cache)", w)}
		}
	}
	if c.offline {
		return "", &kindError{ErrOffline, fmt.Sprintf("offline mode is on: %s is not in the cache at %s (unset HF_HUB_OFFLINE to download it)", w, rc.dir)}
	}
	return c.fetchFile(ctx, rc, repo, revision, filename)
}

// Snapshot makes the files of a model revision for which allow returns true
// (all files when allow is nil) available and returns the snapshot folder.
// When the cache already holds the file list of the revision and every
// selected file, no network request is made.
func (c *Client) Snapshot(ctx context.Context, repo, revision string, allow func(name string) bool) (string, error) {
	revision, err := c.checkArgs(repo, revision)
	if err != nil {
		return "", err
	}
	if allow == nil {
		allow = func(string) bool { return true }
	}
	rc := c.repoCache(repo)
	w := what{repo: repo, revision: revision}

	commit := rc.resolveLocal(revision)
	if commit != "" {
		if names, ok := rc.readTree(commit); ok {
			wanted := selectNames(names, allow)
			if len(wanted) == 0 {
				return "", &kindError{ErrEntryNotFound, fmt.Sprintf("no file of %s matches the requested set", w)}
			}
			missing := rc.missingFiles(commit, wanted)
			if len(missing) == 0 {
				return rc.snapshotDir(commit), nil
			}
			if c.offline {
				return "", &kindError{ErrOffline, fmt.Sprintf("offline mode is on: the cached %s lacks %d file(s) (%s) (unset HF_HUB_OFFLINE to download them)",
					w, len(missing), sample(missing))}
			}
			// The commit's file list is known and a commit never changes,
			// so an interrupted snapshot is completed at the same commit
			// without asking the API again.
			if err := c.fetchAll(ctx, rc, repo, commit, missing); err != nil {
				return "", err
			}
			return rc.snapshotDir(commit), nil
		} else if c.offline {
			// Without a cached file list the snapshot cannot be proven
			// complete; like the Hub's client, trust it when it holds at
			// least one selected file.
			if rc.hasSelectedFile(commit, allow) {
				return rc.snapshotDir(commit), nil
			}
		}
	}
	if c.offline {
		return "", &kindError{ErrOffline, fmt.Sprintf("offline mode is on: %s is not in the cache at %s (unset HF_HUB_OFFLINE to download it)", w, rc.dir)}
	}

	info, err := c.modelInfo(ctx, repo, revision)
	if err != nil {
		return "", err
	}
	if err := rc.writeRef(revision, info.commit); err != nil {
		return "", err
	}
	if err := rc.writeTree(info); err != nil {
		return "", err
	}
	wanted := selectNames(info.names(), allow)
	if len(wanted) == 0 {
		return "", &kindError{ErrEntryNotFound, fmt.Sprintf("no file of %s matches the requested set", w)}
	}
	if err := c.fetchAll(ctx, rc, repo, info.commit, wanted); err != nil {
		return "", err
	}
	return rc.snapshotDir(info.commit), nil
}

func selectNames(names []string, allow func(string) bool) []string {
	var out []string
	for _, n := range names {
		if allow(n) {
			out = append(out, n)
		}
	}
	return out
}

func sample(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, ... %d more", strings.Join(names[:3], ", "), len(names)-3)
}
