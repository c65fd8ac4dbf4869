package registry

import (
	"context"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Resolved is a reference in canonical form with the digest of the manifest
// it names.
type Resolved struct {
	Ref    string // repository, and tag when given one (as PullResult.Ref)
	Digest string // sha256:... of the manifest
}

// Resolve finds the manifest digest ref points at with one HEAD request and
// no blob: a local store can then tell whether it already holds that
// manifest. A digest reference is returned as it is, without any request.
func Resolve(ctx context.Context, ref string, opts ...Option) (*Resolved, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	r, err := o.parseRef(ref)
	if err != nil {
		return nil, err
	}
	if d, ok := r.(name.Digest); ok {
		return &Resolved{Ref: refName(r), Digest: d.DigestStr()}, nil
	}
	c, err := o.newClient(ctx, r.Context(), false)
	if err != nil {
		return nil, err
	}
	resp, err := c.requestManifest(ctx, http.MethodHead, r)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	h, err := v1.NewHash(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		// The header is optional in the distribution spec; the manifest
		// itself then has to be read and hashed.
		m, err := c.fetchModel(ctx, r)
		if err != nil {
			return nil, err
		}
		h = m.digest
	}
	return &Resolved{Ref: refName(r), Digest: h.String()}, nil
}

// IsReference reports whether s is spelled as a registry reference rather
// than a path or a Hub id: it is not an existing path, it starts with a
// registry host (a name with a dot or a port, or localhost) followed by a
// repository, and it parses as a reference.
func IsReference(s string) bool {
	host, rest, ok := strings.Cut(s, "/")
	if !ok || rest == "" || !(host == "localhost" || strings.HasPrefix(host, "localhost:") || strings.ContainsAny(host, ".:")) {
		return false
	}
	if _, err := os.Stat(s); err == nil {
		return false
	}
	_, err := name.ParseReference(s, name.Insecure)
	return err == nil
}

// connect parses ref and authenticates for pulling from its repository.
func connect(ctx context.Context, ref string, opts []Option) (*options, name.Reference, *client, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := o.parseRef(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := o.newClient(ctx, r.Context(), false)
	if err != nil {
		return nil, nil, nil, err
	}
	return o, r, c, nil
}
