package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxConfigBytes bounds the config blob Pull and Inspect read (a config
// lists one 71-byte DiffID per layer).
const maxConfigBytes = 16 << 20

var manifestAccept = strings.Join([]string{
	string(types.OCIManifestSchema1), string(types.OCIImageIndex),
	string(types.DockerManifestSchema2), string(types.DockerManifestList),
}, ",")

// remoteModel is a model artifact's manifest and config as read from a registry.
type remoteModel struct {
	ref      name.Reference
	digest   v1.Hash
	manifest v1.Manifest
	config   modelConfig
}

// fetchModel reads and checks the manifest and config of ref: a .symb model
// artifact, or ErrNotModel saying what ref holds instead.
func (c *client) fetchModel(ctx context.Context, ref name.Reference) (*remoteModel, error) {
	m, err := c.fetchArtifact(ctx, ref)
	if err != nil {
		return nil, err
	}
	if m.config.Config.Format != "symb" {
		return nil, fmt.Errorf("%s: a %q model, not a .symb one: %w", ref, m.config.Config.Format, ErrNotModel)
	}
	if len(m.config.ModelFS.DiffIDs) != len(m.manifest.Layers) {
		return nil, fmt.Errorf("%s: config lists %d DiffIDs for %d layers: %w", ref, len(m.config.ModelFS.DiffIDs), len(m.manifest.Layers), ErrNotModel)
	}
	return m, nil
}

// fetchArtifact reads and checks the manifest and config of a ModelPack
// artifact of any model format.
func (c *client) fetchArtifact(ctx context.Context, ref name.Reference) (*remoteModel, error) {
	resp, err := c.requestManifest(ctx, http.MethodGet, ref)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the manifest: %w", ref, err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%s: manifest larger than %d bytes", ref, maxManifestBytes)
	}
	m := &remoteModel{ref: ref}
	if m.digest, _, err = v1.SHA256(bytes.NewReader(b)); err != nil {
		return nil, err
	}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != m.digest.String() {
		return nil, fmt.Errorf("%s: the registry sent a manifest with digest %s", ref, m.digest)
	}
	mt := types.MediaType(strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0]))
	if mt.IsIndex() {
		return nil, fmt.Errorf("%s is an image index (%s): %w", ref, mt, ErrNotModel)
	}
	if err := json.Unmarshal(b, &m.manifest); err != nil {
		return nil, fmt.Errorf("%s: manifest is not JSON: %v: %w", ref, err, ErrNotModel)
	}
	mf := &m.manifest
	// Before OCI 1.1 a ModelPack artifact was known by its config media type alone.
	if mf.ArtifactType != ArtifactType && (mf.ArtifactType != "" || mf.Config.MediaType != MediaTypeConfig) {
		kind := mf.ArtifactType
		if kind == "" {
			kind = "a container image or other artifact with config " + string(mf.Config.MediaType)
		}
		return nil, fmt.Errorf("%s holds %s, want artifactType %s: %w", ref, kind, ArtifactType, ErrNotModel)
	}
	if mf.Config.MediaType != MediaTypeConfig {
		return nil, fmt.Errorf("%s: config media type %s, want %s: %w", ref, mf.Config.MediaType, MediaTypeConfig, ErrNotModel)
	}
	if mf.Config.Size < 0 || mf.Config.Size > maxConfigBytes {
		return nil, fmt.Errorf("%s: config of %d bytes (at most %d): %w", ref, mf.Config.Size, maxConfigBytes, ErrNotModel)
	}
	var buf bytes.Buffer
	err = c.fetchBlob(ctx, mf.Config, func(r io.Reader) error {
		buf.Reset()
		_, err := buf.ReadFrom(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", ref, err)
	}
	if err := json.Unmarshal(buf.Bytes(), &m.config); err != nil {
		return nil, fmt.Errorf("%s: config is not ModelPack JSON: %v: %w", ref, err, ErrNotModel)
	}
	return m, nil
}

// requestManifest sends a GET or HEAD for ref's manifest, accepting every
// manifest type, and returns the response of a 200.
func (c *client) requestManifest(ctx context.Context, method string, ref name.Reference) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url("manifests", ref.Identifier()), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return resp, nil
}

// errBlob marks a blob whose bytes are wrong; retrying does not help.
var errBlob = errors.New("blob does not match the manifest")

// fetchBlob streams blob desc into consume, which may be called again from
// the start when a transient error interrupts the download. The bytes are
// counted and hashed as they pass: more than desc.Size bytes, fewer, or
// another digest fail with errBlob once consume returns.
func (c *client) fetchBlob(ctx context.Context, desc v1.Descriptor, consume func(io.Reader) error) error {
	if desc.Digest.Algorithm != "sha256" || len(desc.Digest.Hex) != 64 {
		return fmt.Errorf("digest %s: only sha256 is supported: %w", desc.Digest, errBlob)
	}
	var err error
	wait := c.o.backoff
	for attempt := 1; ; attempt++ {
		err = c.fetchOnce(ctx, desc, consume)
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		if attempt >= c.o.retries {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait *= 2
	}
}

func (c *client) fetchOnce(ctx context.Context, desc v1.Descriptor, consume func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("blobs", desc.Digest.String()), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return err
	}
	if resp.ContentLength >= 0 && resp.ContentLength != desc.Size {
		return fmt.Errorf("%s: the registry sends %d bytes, the manifest says %d: %w", desc.Digest, resp.ContentLength, desc.Size, errBlob)
	}
	h := sha256.New()
	v := &verifier{r: io.LimitReader(resp.Body, desc.Size+1), h: h}
	if err := consume(v); err != nil {
		return err
	}
	// Whatever consume left unread still counts towards size and digest.
	if _, err := io.Copy(io.Discard, v); err != nil {
		return err
	}
	if v.n != desc.Size {
		return fmt.Errorf("%s: got %d bytes, the manifest says %d: %w", desc.Digest, v.n, desc.Size, errBlob)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != desc.Digest.Hex {
		return fmt.Errorf("%s: the content sent hashes to sha256:%s: %w", desc.Digest, got, errBlob)
	}
	return nil
}

type verifier struct {
	r io.Reader
	h io.Writer
	n int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	return n, err
}

// transient reports errors worth another attempt: connections dropped
// while a blob streams. Error statuses (429, 5xx) are not among them: the
// transport below has retried those already.
func transient(err error) bool {
	var te *transport.Error
	if errors.Is(err, errBlob) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
		return false
	}
	// A local file error (ENOSPC, EDQUOT, EROFS, EACCES) fails again on
	// every attempt. syscall.Errno satisfies net.Error, so this comes first.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}
