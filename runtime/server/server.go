// Package server exposes a loaded model over HTTP with the OpenAI API shape,
// so that OpenAI client libraries and tools can talk to it unchanged:
//
//	GET  /v1/models            the one model served
//	GET  /v1/models/{id}       that model
//	POST /v1/chat/completions  chat, with Server-Sent Events when stream is true
//	POST /v1/completions       plain prompt continuation
//	GET  /health               {"status":"ok"}
//
// Every error is answered in OpenAI's shape, {"error": {"message", "type",
// "param", "code"}}, with the matching HTTP status. Generations share the
// model and run under a semaphore (WithMaxConcurrent); each has its own
// session and stops when its client goes away.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/symb"
)

// Defaults of the options.
const (
	DefaultModelName     = "symbc"
	DefaultMaxConcurrent = 1
	DefaultMaxBodyBytes  = 4 << 20
)

// Option configures New; an option given a value it cannot take makes New
// fail.
type Option func(*config) error

type config struct {
	modelName      string
	maxConcurrent  int
	maxBodyBytes   int64
	logger         *log.Logger
	sched          *runtime.Scheduler // nil: one session per generation under sem
	now            func() time.Time
	apiKeys        [][sha256.Size]byte
	aliases        []string
	defaults       symb.Generation
	templateKwargs map[string]json.RawMessage
	corsOrigins    []string
}

// WithModelName sets the model id that /v1/models lists and responses carry
// (default DefaultModelName). Requests naming another model get 404
// model_not_found; a request without a model gets this one.
func WithModelName(name string) Option {
	return func(c *config) error { c.modelName = name; return nil }
}

// WithAliases adds further names requests may use for the model (listed by
// /v1/models too); responses still carry the WithModelName name.
func WithAliases(names ...string) Option {
	return func(c *config) error {
		for _, n := range names {
			if n != "" {
				c.aliases = append(c.aliases, n)
			}
		}
		return nil
	}
}

// WithGenerationDefaults sets the sampling settings for requests that
// leave them out (usually symb.ReadGeneration of the model's folder);
// OpenAI's defaults apply to what d leaves unset. A value out of its
// range is an error.
func WithGenerationDefaults(d symb.Generation) Option {
	return func(c *config) error {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("generation defaults: %w", err)
		}
		c.defaults = d
		return nil
	}
}

// WithChatTemplateKwargs sets extra chat template variables (such as
// {"enable_thinking": false}) for every chat request; a request's
// chat_template_kwargs override them one by one.
func WithChatTemplateKwargs(kw map[string]json.RawMessage) Option {
	return func(c *config) error { c.templateKwargs = kw; return nil }
}

// WithMaxConcurrent sets how many generations run at once (default 1: the
// kernels already use every thread, so more mostly adds latency). Further
// requests wait for a slot, or until their client gives up. 0 keeps the
// default; a negative count is an error.
func WithMaxConcurrent(n int) Option {
	return func(c *config) error { return setPositive(&c.maxConcurrent, n, "max concurrent generations") }
}

// WithMaxBodyBytes limits request bodies (default 4 MiB); larger ones get
// 413. 0 keeps the default; a negative size is an error.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) error { return setPositive(&c.maxBodyBytes, n, "max body bytes") }
}

// setPositive sets *dst to n when n is positive; 0 keeps the default and a
// negative n is an error naming what.
func setPositive[T int | int64](dst *T, n T, what string) error {
	if n < 0 {
		return fmt.Errorf("%s is %d, want 0 (the default) or more", what, n)
	}
	if n > 0 {
		*dst = n
	}
	return nil
}

// WithRequestLog writes one line per request to w: method, path, status,
// duration and, for generations, token counts and the finish reason.
func WithRequestLog(w io.Writer) Option {
	return func(c *config) error {
		if w == nil {
			return errors.New("nil request log writer")
		}
		c.logger = log.New(w, "", log.LstdFlags)
		return nil
	}
}

// server holds the shared model and the generation semaphore.
type server struct {
	m   *runtime.Model
	cfg config
	sem chan struct{}

	tokOnce  sync.Once
	tokBytes [][]byte // see tokenBytes
	metrics  *metrics
}

// New returns the HTTP handler serving m. m must stay open while the
// handler is in use. The first option that fails is the error.
func New(m *runtime.Model, opts ...Option) (http.Handler, error) {
	c := config{modelName: DefaultModelName, maxConcurrent: DefaultMaxConcurrent, maxBodyBytes: DefaultMaxBodyBytes, now: time.Now}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if c.modelName == "" {
		c.modelName = DefaultModelName
	}
	s := &server{m: m, cfg: c, sem: make(chan struct{}, c.maxConcurrent), metrics: newMetrics()}
	return http.HandlerFunc(s.serveHTTP), nil
}

// route is one path with its handlers by method.
type route struct {
	get, post http.HandlerFunc
}

// serveHTTP routes by hand rather than with http.ServeMux so that unknown
// paths and wrong methods also get OpenAI-shaped JSON errors.
func (s *server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	lw := &logWriter{ResponseWriter: w, start: s.cfg.now()}
	info := &requestInfo{start: time.Now()}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	defer s.logRequest(lw, r, info)

	var rt route
	path := strings.TrimSuffix(r.URL.Path, "/")
	if s.cors(lw, r) { // a preflight, answered without a key as browsers send none
		return
	}
	if path != "/health" && !s.authorized(r) {
		lw.Header().Set("WWW-Authenticate", `Bearer realm="symbc"`)
		writeError(lw, unauthorized(r))
		return
	}
	switch {
	case path == "/health":
		rt.get = s.health
	case path == "/metrics":
		rt.get = s.serveMetrics
	case path == "/v1/models":
		rt.get = s.listModels
	case strings.HasPrefix(path, "/v1/models/"):
		rt.get = s.getModel
	case path == "/v1/chat/completions":
		rt.post = s.chat
	case path == "/v1/completions":
		rt.post = s.completions
	default:
		writeError(lw, &apiError{status: http.StatusNotFound,
			Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path),
			Type:    errInvalidRequest, Code: "unknown_url",
		})
		return
	}
	switch {
	case rt.get != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		rt.get(lw, r)
	case rt.post != nil && r.Method == http.MethodPost:
		rt.post(lw, r)
	default:
		allow := "GET, HEAD"
		if rt.post != nil {
			allow = "POST"
		}
		lw.Header().Set("Allow", allow)
		writeError(lw, &apiError{status: http.StatusMethodNotAllowed,
			Message: fmt.Sprintf("Method %s is not allowed for %s (use %s)", r.Method, r.URL.Path, allow),
			Type:    errInvalidRequest, Code: "method_not_allowed",
		})
	}
}

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// modelObject is OpenAI's Model object.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func modelOf(id string) modelObject {
	return modelObject{ID: id, Object: "model", Created: 0, OwnedBy: "symbc"}
}

// modelNames is the served model's name followed by its aliases.
func (s *server) modelNames() []string {
	return append([]string{s.cfg.modelName}, s.cfg.aliases...)
}

func (s *server) servesModel(name string) bool {
	for _, n := range s.modelNames() {
		if n == name {
			return true
		}
	}
	return false
}

// modelList names the served models for error messages.
func (s *server) modelList() string {
	q := make([]string, 0, len(s.cfg.aliases)+1)
	for _, n := range s.modelNames() {
		q = append(q, "'"+n+"'")
	}
	return strings.Join(q, ", ")
}

func (s *server) listModels(w http.ResponseWriter, r *http.Request) {
	var data []modelObject
	for _, n := range s.modelNames() {
		data = append(data, modelOf(n))
	}
	writeJSON(w, http.StatusOK, struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{"list", data})
}

func (s *server) getModel(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/"), "/v1/models/")
	if !s.servesModel(id) {
		writeError(w, s.modelNotFound(id))
		return
	}
	writeJSON(w, http.StatusOK, modelOf(id))
}

// acquire takes a generation slot, or gives up when ctx ends first.
func (s *server) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// infoKey keys the *requestInfo in a request's context.
type infoKey struct{}

// requestInfo carries what handlers report for the request log.
type requestInfo struct {
	prompt, completion int
	finish             string
	stream             bool
	canceled           bool
	err                string
	start              time.Time // arrival, for the time to first token
	shutdown           bool      // stopped because the server shut down
}

func infoOf(r *http.Request) *requestInfo {
	if i, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

// logWriter records the status for the request log and passes flushes on
// (streaming depends on them).
type logWriter struct {
	http.ResponseWriter
	status int
	start  time.Time
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's Flush.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *server) logRequest(w *logWriter, r *http.Request, info *requestInfo) {
	status := w.status
	switch {
	case status == 0 && info.canceled:
		status = 499 // nothing was sent: the client closed the request first
	case status == 0:
		status = http.StatusOK
	}
	s.metrics.request(r.URL.Path, status, s.cfg.now().Sub(w.start), info)
	if s.cfg.logger == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %d %s", r.RemoteAddr, r.Method, r.URL.Path, status,
		s.cfg.now().Sub(w.start).Round(time.Millisecond))
	if info.prompt > 0 {
		fmt.Fprintf(&b, " prompt=%d", info.prompt)
	}
	if info.finish != "" {
		fmt.Fprintf(&b, " completion=%d finish=%s", info.completion, info.finish)
	}
	if info.stream {
		b.WriteString(" stream")
	}
	if info.canceled {
		b.WriteString(" canceled by client")
	}
	if info.shutdown {
		b.WriteString(" stopped by shutdown")
	}
	if info.err != "" {
		fmt.Fprintf(&b, " error=%q", info.err)
	}
	s.cfg.logger.Print(b.String())
}
