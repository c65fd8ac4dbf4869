// Package registry moves .symb model folders through OCI registries as CNCF
// ModelPack artifacts (github.com/modelpack/model-spec): Push uploads a folder,
// Pull restores it, Inspect reads what a reference holds without downloading
// weights. README.md in this folder describes the artifact layout.
//
// Start with Push (push.go), whose plan (plan.go) decides the layers; Pull
// (pull.go) undoes it with every path and digest checked before anything
// reaches the destination folder.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/symbc/symbc/internal/workers"
)

// Media types and annotation keys of the ModelPack specification.
const (
	ArtifactType          = "application/vnd.cncf.model.manifest.v1+json"
	MediaTypeConfig       = "application/vnd.cncf.model.config.v1+json"
	MediaTypeWeight       = "application/vnd.cncf.model.weight.v1.raw"
	MediaTypeWeightTar    = "application/vnd.cncf.model.weight.v1.tar"
	MediaTypeWeightTarGz  = "application/vnd.cncf.model.weight.v1.tar+gzip"
	MediaTypeWeightConfig = "application/vnd.cncf.model.weight.config.v1.raw"
	MediaTypeDoc          = "application/vnd.cncf.model.doc.v1.raw"

	AnnotationFilepath     = "org.cncf.model.filepath"
	AnnotationFileMetadata = "org.cncf.model.file.metadata+json"
	AnnotationUntested     = "org.cncf.model.file.mediatype.untested"
	AnnotationTitle        = "org.opencontainers.image.title"

	// oras unpacks a gzip'd tar layer into the folder its title names when
	// these two are set; the digest is that of the uncompressed tar.
	annotationOrasDigest = "io.deis.oras.content.digest"
	annotationOrasUnpack = "io.deis.oras.content.unpack"
)

// Manifest annotation keys symbc writes (README.md lists them with examples).
const (
	AnnotationFormatVersion = "org.symbc.format_version"
	AnnotationArchitecture  = "org.symbc.architecture"
	AnnotationParams        = "org.symbc.params"
	AnnotationParamSize     = "org.symbc.param_size"
	AnnotationQuantization  = "org.symbc.quantization"
	AnnotationSource        = "org.symbc.source"
	AnnotationTool          = "org.symbc.tool"
	AnnotationVerifyPass    = "org.symbc.verify.pass"
	AnnotationVerifyKLD     = "org.symbc.verify.mean_kld"
	AnnotationVerifyTop1    = "org.symbc.verify.top1_agreement"
	AnnotationVerifyRef     = "org.symbc.verify.reference"
	AnnotationVerifyTool    = "org.symbc.verify.tool_version"
)

// ErrNotModel reports a reference that holds something other than a .symb
// model artifact.
var ErrNotModel = errors.New("not a .symb model artifact")

// DefaultPackThreshold is the file count above which Push packs each
// layers/layer_NN/ folder into one tar layer (README.md, "Big models").
const DefaultPackThreshold = 256

// Option configures Push, Pull and Inspect.
type Option func(*options) error

type options struct {
	keychain      authn.Keychain
	auth          authn.Authenticator
	plainHTTP     bool
	jobs          int
	progress      func(Event)
	transport     http.RoundTripper
	retries       int
	backoff       time.Duration
	force         bool
	packThreshold int
	userAgent     string
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{
		keychain:      authn.DefaultKeychain,
		jobs:          8,
		retries:       5,
		backoff:       500 * time.Millisecond,
		packThreshold: DefaultPackThreshold,
		userAgent:     "symbc",
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.retries < 1 {
		o.retries = 1
	}
	return o, nil
}

// WithKeychain resolves credentials per registry (default: authn.DefaultKeychain,
// which reads the Docker config and its credential helpers).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error { o.keychain = k; return nil }
}

// WithBasicAuth uses a user name and password instead of the keychain.
func WithBasicAuth(username, password string) Option {
	return func(o *options) error {
		o.auth = authn.FromConfig(authn.AuthConfig{Username: username, Password: password})
		return nil
	}
}

// WithPlainHTTP allows plain HTTP to any registry. Without it, HTTP is used
// only for loopback registries (localhost, 127.0.0.0/8, ::1) that do not offer TLS.
func WithPlainHTTP(allow bool) Option {
	return func(o *options) error { o.plainHTTP = allow; return nil }
}

// WithJobs sets how many blobs move at once (default 8; 0: one per CPU;
// negative: an error).
func WithJobs(n int) Option {
	return func(o *options) error {
		if err := workers.Check("registry: jobs", n); err != nil {
			return err
		}
		o.jobs = workers.Count(n)
		return nil
	}
}

// WithProgress receives transfer events. fn is called from several goroutines
// at once and must synchronise itself.
func WithProgress(fn func(Event)) Option {
	return func(o *options) error { o.progress = fn; return nil }
}

// WithTransport replaces the HTTP transport (tests; proxies).
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error { o.transport = t; return nil }
}

// WithRetry sets the attempts per request or blob (default 5) and the first
// wait between them (default 500ms, doubling each time).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) error { o.retries, o.backoff = attempts, backoff; return nil }
}

// WithForce lets Pull replace an existing destination folder.
func WithForce(force bool) Option { return func(o *options) error { o.force = force; return nil } }

// WithPackThreshold sets the file count above which Push packs
// layers/layer_NN/ folders into tar layers (default DefaultPackThreshold).
func WithPackThreshold(n int) Option {
	return func(o *options) error { o.packThreshold = n; return nil }
}

// WithUserAgent sets the User-Agent header (default "symbc").
func WithUserAgent(ua string) Option { return func(o *options) error { o.userAgent = ua; return nil } }

func (o *options) emit(ev Event) {
	if o.progress != nil {
		o.progress(ev)
	}
}

// parseRef parses a tag or digest reference; plain HTTP makes the registry
// insecure in go-containerregistry's sense (it may then fall back to HTTP).
func (o *options) parseRef(ref string) (name.Reference, error) {
	var nopts []name.Option
	if o.plainHTTP {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", ref, err)
	}
	return r, nil
}

// refName is the fully qualified repository with its tag, if any: a form
// that Ref+"@"+digest extends into a valid reference.
func refName(r name.Reference) string {
	if t, ok := r.(name.Tag); ok {
		return t.Name()
	}
	return r.Context().Name()
}

// baseTransport is the transport below authentication: the caller's or a
// clone of remote.DefaultTransport, guarded against unwanted plain HTTP.
func (o *options) baseTransport() http.RoundTripper {
	t := o.transport
	if t == nil {
		t = remote.DefaultTransport.(*http.Transport).Clone()
	}
	return &httpGuard{inner: t, allowAll: o.plainHTTP}
}

// authenticator picks explicit credentials over the keychain.
func (o *options) authenticator(ctx context.Context, repo name.Repository) (authn.Authenticator, error) {
	if o.auth != nil {
		return o.auth, nil
	}
	a, err := authn.Resolve(ctx, o.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
	}
	return a, nil
}

// remoteOptions configure go-containerregistry's pusher the same way.
func (o *options) remoteOptions(ctx context.Context, repo name.Repository) ([]remote.Option, error) {
	a, err := o.authenticator(ctx, repo)
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(a),
		remote.WithTransport(o.baseTransport()),
		remote.WithJobs(o.jobs),
		remote.WithUserAgent(o.userAgent),
		remote.WithRetryBackoff(o.retryBackoff()),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}, nil
}

var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

func (o *options) retryBackoff() remote.Backoff {
	return remote.Backoff{Duration: o.backoff, Factor: 2, Jitter: 0.2, Steps: o.retries}
}

// httpGuard refuses plain-HTTP requests to registries that are not on the
// loopback interface unless plain HTTP was asked for: go-containerregistry
// falls back to HTTP for private (RFC 1918) addresses on its own, and
// credentials must not cross a network in clear text by surprise.
type httpGuard struct {
	inner    http.RoundTripper
	allowAll bool
}

func (g *httpGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !g.allowAll && !isLoopback(r.URL.Hostname()) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("registry %s: refusing plain HTTP (no TLS); allow it explicitly with --plain-http", r.URL.Host)
	}
	return g.inner.RoundTrip(r)
}

// isLoopback reports whether host (no port) names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client talks to one repository with an authenticated transport.
type client struct {
	repo name.Repository
	http *http.Client
	o    *options
}

// newClient authenticates for scope ("pull" or "push,pull") on repo.
func (o *options) newClient(ctx context.Context, repo name.Repository, push bool) (*client, error) {
	a, err := o.authenticator(ctx, repo)
	if err != nil {
		return nil, err
	}
	scope := repo.Scope(transport.PullScope)
	if push {
		scope = repo.Scope(transport.PushScope)
	}
	inner := transport.NewUserAgent(transport.NewRetry(o.baseTransport(),
		transport.WithRetryBackoff(o.retryBackoff()),
		transport.WithRetryStatusCodes(retryStatusCodes...)), o.userAgent)
	rt, err := transport.NewWithContext(ctx, repo.Registry, a, inner, []string{scope})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", repo.RegistryStr(), err)
	}
	return &client{repo: repo, http: &http.Client{Transport: rt}, o: o}, nil
}

func (c *client) url(kind, id string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", c.repo.Scheme(), c.repo.RegistryStr(), c.repo.RepositoryStr(), kind, id)
}
