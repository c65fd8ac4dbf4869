package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// emptyBlob is the digest of zero bytes: asking the registry about it
// needs the same access as any blob and costs nothing.
var emptyBlob = v1.Hash{Algorithm: "sha256", Hex: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}

// checkAccess asks the registry about one blob before any work, so that
// wrong or missing credentials are reported at once, in words, instead of
// after hashing a whole model and as a blob-level status code.
func (c *client) checkAccess(ctx context.Context) error {
	_, err := c.headBlob(ctx, emptyBlob)
	return authError(c.repo.RegistryStr(), err)
}

// authError turns a 401 or 403 from the registry into an error that says
// what to check; other errors pass unchanged.
func authError(registry string, err error) error {
	var te *transport.Error
	if err == nil || !errors.As(err, &te) || (te.StatusCode != http.StatusUnauthorized && te.StatusCode != http.StatusForbidden) {
		return err
	}
	what := "authentication failed"
	if te.StatusCode == http.StatusForbidden {
		what = "access denied"
	}
	return fmt.Errorf("%s for %s (check --username/--password-stdin, or the credentials `docker login %s` stored): %w", what, registry, registry, err)
}
