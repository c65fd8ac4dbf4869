package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Sentinel errors to branch on with errors.Is. Every error returned by this
// package wraps at most one of them and reads as a single line.
var (
	// ErrGated: the model needs its license accepted and a token.
	ErrGated = errors.New("gated model")
	// ErrUnauthorized: the token was rejected or lacks permission.
	ErrUnauthorized = errors.New("access denied")
	// ErrRepoNotFound: no such model (or it is private and no valid token was sent).
	ErrRepoNotFound = errors.New("model not found")
	// ErrRevisionNotFound: the model exists but the branch, tag or commit does not.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrEntryNotFound: the revision exists but the file does not.
	ErrEntryNotFound = errors.New("file not found")
	// ErrOffline: offline mode is on and the cache cannot answer.
	ErrOffline = errors.New("offline mode is on")
	// ErrNetwork: the Hub could not be reached or the transfer broke.
	ErrNetwork = errors.New("network error")
	// ErrHTTP: the Hub answered with an unexpected status.
	ErrHTTP = errors.New("unexpected Hub response")
	// ErrChecksum: downloaded bytes do not match the expected size or SHA-256.
	ErrChecksum = errors.New("download corrupted")
	// ErrUnsafeName: a repo id, revision, filename or etag could escape the cache folder.
	ErrUnsafeName = errors.New("unsafe name")
	// ErrInvalidRepoID: the string is not a Hub repo id.
	ErrInvalidRepoID = errors.New("invalid Hub repo id")
)

// HTTPError describes a failed Hub request. It unwraps to one of the
// sentinels above; it never carries request headers, so the token cannot leak
// through it.
type HTTPError struct {
	Sentinel error  // ErrGated, ErrRepoNotFound, ...
	Status   int    // HTTP status code
	Code     string // X-Error-Code header, if any
	Msg      string // complete human message
}

func (e *HTTPError) Error() string { return e.Msg }
func (e *HTTPError) Unwrap() error { return e.Sentinel }

// kindError is a message that reads on its own yet unwraps to a sentinel,
// for errors found without an HTTP answer.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// what names a request for messages: "model X", "file F of model X".
type what struct {
	repo     string
	revision string
	file     string // empty for repo-level requests
}

func (w what) String() string {
	if w.file == "" {
		return fmt.Sprintf("model %s (revision %s)", w.repo, w.revision)
	}
	return fmt.Sprintf("file %s of model %s (revision %s)", w.file, w.repo, w.revision)
}

// statusError turns a non-success response into an HTTPError. The server's
// own X-Error-Message is kept (trimmed to one short line) because it often
// says exactly what to do.
func (c *Client) statusError(resp *http.Response, w what) error {
	code := resp.Header.Get("X-Error-Code")
	serverMsg := oneLine(resp.Header.Get("X-Error-Message"), 200)
	e := &HTTPError{Status: resp.StatusCode, Code: code}
	suffix := ""
	if serverMsg != "" {
		suffix = " (Hub says: " + serverMsg + ")"
	}
	loginHint := "set HF_TOKEN or run huggingface-cli login"
	switch {
	case code == "GatedRepo":
		e.Sentinel = ErrGated
		e.Msg = fmt.Sprintf("model %s is gated: accept its license at %s/%s and %s", w.repo, c.endpoint, w.repo, loginHint)
		if c.token != "" {
			e.Msg = fmt.Sprintf("model %s is gated and the token has no access yet: accept its license at %s/%s (the token must belong to the account that accepted it)", w.repo, c.endpoint, w.repo)
		}
	case code == "RevisionNotFound":
		e.Sentinel = ErrRevisionNotFound
		e.Msg = fmt.Sprintf("revision %q not found in model %s", w.revision, w.repo)
	case code == "EntryNotFound":
		e.Sentinel = ErrEntryNotFound
		e.Msg = fmt.Sprintf("%s not found on the Hub", w)
	case resp.StatusCode == http.StatusUnauthorized && serverMsg == "Invalid credentials in Authorization header":
		e.Sentinel = ErrUnauthorized
		e.Msg = fmt.Sprintf("the Hub rejected the token while fetching %s: it is invalid or expired; set a valid HF_TOKEN or run huggingface-cli login", w)
	case code == "RepoNotFound" || resp.StatusCode == http.StatusUnauthorized:
		// The Hub answers 401 for private, gated and missing repos alike when
		// no token is sent, so this is reported as "not found" with a hint.
		e.Sentinel = ErrRepoNotFound
		e.Msg = fmt.Sprintf("model %s not found at %s", w.repo, c.endpoint)
		if c.token == "" {
			e.Msg += "; if it is private or gated, " + loginHint
		} else {
			e.Msg += "; check the id and that the token can read it"
		}
	case resp.StatusCode == http.StatusForbidden:
		e.Sentinel = ErrUnauthorized
		e.Msg = fmt.Sprintf("access to %s denied (403)%s; check the token's permissions", w, suffix)
	case resp.StatusCode == http.StatusNotFound:
		e.Sentinel = ErrEntryNotFound
		if w.file == "" {
			e.Sentinel = ErrRepoNotFound
		}
		e.Msg = fmt.Sprintf("%s not found (404)%s", w, suffix)
	default:
		e.Sentinel = ErrHTTP
		e.Msg = fmt.Sprintf("fetching %s: %s from %s%s", w, resp.Status, hostOf(resp.Request), suffix)
	}
	e.Msg = c.redact(e.Msg)
	return e
}

// netError summarises a transport failure in one line: the host and the
// innermost cause, without the URL's query (which may carry a signature).
func (c *Client) netError(ctx context.Context, err error, req *http.Request, w what) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("fetching %s: %w", w, ctxErr)
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	var oe *net.OpError
	if errors.As(cause, &oe) && oe.Err != nil {
		cause = oe.Err
	}
	msg := c.redact(oneLine(cause.Error(), 300))
	return fmt.Errorf("%w: fetching %s from %s: %s", ErrNetwork, w, hostOf(req), msg)
}

// redact removes the token from text that may echo server or transport
// output; a message built here must never reveal it.
func (c *Client) redact(s string) string {
	if len(c.token) < 8 {
		// Real tokens are long; replacing a very short string would garble
		// messages without protecting anything.
		return s
	}
	return strings.ReplaceAll(s, c.token, "***")
}

func hostOf(req *http.Request) string {
	if req == nil || req.URL == nil {
		return "the Hub"
	}
	return req.URL.Scheme + "://" + req.URL.Host
}

// oneLine collapses whitespace runs and bounds the length of text that ends
// up in an error message.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
