package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// PushResult says what Push did.
type PushResult struct {
	Ref           string `json:"ref"`    // the tag pushed, fully qualified
	Digest        string `json:"digest"` // of the manifest
	UploadedBytes int64  `json:"uploaded_bytes"`
	SkippedBytes  int64  `json:"skipped_bytes"` // blobs the registry already had
	UploadedBlobs int    `json:"uploaded_blobs"`
	SkippedBlobs  int    `json:"skipped_blobs"`
	Layers        int    `json:"layers"`
	PackedLayers  int    `json:"packed_layers"` // tar layers of layers/layer_NN/ folders
	ManifestBytes int    `json:"manifest_bytes"`
}

// Push uploads the model folder dir to ref (a tag) as a ModelPack artifact:
// blobs the registry lacks go up on WithJobs connections with retries, the
// manifest last. The folder must match its manifest.json.
func Push(ctx context.Context, dir, ref string, opts ...Option) (*PushResult, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	r, err := o.parseRef(ref)
	if err != nil {
		return nil, err
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return nil, fmt.Errorf("reference %q: push needs a tag, not a digest", ref)
	}
	// Access first: hashing a large model only to learn that the
	// password was wrong wastes minutes.
	c, err := o.newClient(ctx, tag.Context(), true)
	if err != nil {
		return nil, authError(tag.RegistryStr(), err)
	}
	if err := c.checkAccess(ctx); err != nil {
		return nil, err
	}
	a, err := buildArtifact(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	ropts, err := o.remoteOptions(ctx, tag.Context())
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return nil, err
	}
	res := &PushResult{Ref: tag.Name(), Digest: a.digest.String(), Layers: len(a.layers), ManifestBytes: len(a.manifest)}
	for _, l := range a.layers {
		if l.packed {
			res.PackedLayers++
		}
	}
	if err := uploadBlobs(ctx, c, pusher, a, o, res); err != nil {
		return nil, err
	}
	if err := pusher.Put(ctx, tag, rawManifest(a.manifest)); err != nil {
		return nil, fmt.Errorf("%s: writing the manifest: %w", tag.Name(), err)
	}
	return res, nil
}

// uploadBlobs sends the config and every distinct layer blob the registry
// does not have yet.
func uploadBlobs(ctx context.Context, c *client, pusher *remote.Pusher, a *artifact, o *options, res *PushResult) error {
	type upload struct {
		name  string
		desc  v1.Descriptor
		layer *layerPlan // nil for the config
	}
	ups := []upload{{name: "config", desc: a.configDesc}}
	seen := map[v1.Hash]bool{a.configDesc.Digest: true}
	var total int64 = a.configDesc.Size
	for _, l := range a.layers {
		if !seen[l.desc.Digest] {
			seen[l.desc.Digest] = true
			ups = append(ups, upload{name: l.title, desc: l.desc, layer: l})
			total += l.desc.Size
		}
	}
	o.emit(Event{Phase: PhaseUpload, Kind: EventTotal, Size: total, Count: len(ups)})
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs)
	for _, u := range ups {
		g.Go(func() error {
			exists, err := c.headBlob(ctx, u.desc.Digest)
			if err != nil {
				return fmt.Errorf("%s: %w", u.name, err)
			}
			if exists {
				o.emit(Event{Phase: PhaseUpload, Kind: EventSkip, Name: u.name, Size: u.desc.Size})
				mu.Lock()
				res.SkippedBytes += u.desc.Size
				res.SkippedBlobs++
				mu.Unlock()
				return nil
			}
			o.emit(Event{Phase: PhaseUpload, Kind: EventStart, Name: u.name, Size: u.desc.Size})
			l := &blobLayer{desc: u.desc, name: u.name, o: o}
			if u.layer == nil {
				l.open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(a.config)), nil }
			} else {
				l.open = u.layer.opener(ctx, a.dir)
			}
			if err := pusher.Upload(ctx, c.repo, l); err != nil {
				return fmt.Errorf("uploading %s (%s): %w", u.name, u.desc.Digest, err)
			}
			o.emit(Event{Phase: PhaseUpload, Kind: EventDone, Name: u.name, Size: u.desc.Size})
			mu.Lock()
			res.UploadedBytes += u.desc.Size
			res.UploadedBlobs++
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// opener returns a function that streams the layer's blob from the folder:
// the file itself, or the tar+gzip built again exactly as when it was hashed.
// The registry checks the digest, so a file changed since then fails the upload.
func (l *layerPlan) opener(ctx context.Context, dir string) func() (io.ReadCloser, error) {
	if l.content != nil {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l.content)), nil }
	}
	if !l.packed {
		return func() (io.ReadCloser, error) {
			return os.Open(filepath.Join(dir, filepath.FromSlash(l.title)))
		}
	}
	return func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pw.CloseWithError(writeTarGz(ctx, pw, dir, l.title, l.files, nil, nil))
		}()
		return &pipeReader{PipeReader: pr, done: done}, nil
	}
}

// pipeReader waits, on Close, for the goroutine that writes the pipe.
type pipeReader struct {
	*io.PipeReader
	done chan struct{}
}

func (p *pipeReader) Close() error {
	err := p.PipeReader.Close()
	<-p.done
	return err
}

// blobLayer is a v1.Layer over a blob whose digest is already known; it
// reports the bytes read from it as upload progress.
type blobLayer struct {
	desc  v1.Descriptor
	name  string
	open  func() (io.ReadCloser, error)
	o     *options
	read  atomic.Int64 // bytes reported for the current attempt
	opens atomic.Int32
}

func (l *blobLayer) Digest() (v1.Hash, error)             { return l.desc.Digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)             { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                 { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error)  { return l.desc.MediaType, nil }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }

// Compressed opens the blob. Another open means the upload is being retried:
// the bytes counted for the failed attempt are taken back.
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	if l.opens.Add(1) > 1 {
		l.o.emit(Event{Phase: PhaseUpload, Kind: EventRetry, Name: l.name})
		l.o.emit(Event{Phase: PhaseUpload, Kind: EventBytes, Name: l.name, N: -l.read.Swap(0)})
	}
	rc, err := l.open()
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, l: l}, nil
}

type countingReader struct {
	io.ReadCloser
	l *blobLayer
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 {
		c.l.read.Add(int64(n))
		c.l.o.emit(Event{Phase: PhaseUpload, Kind: EventBytes, Name: c.l.name, N: int64(n)})
	}
	return n, err
}

// rawManifest is a manifest go-containerregistry can put as it is; its
// mutate package cannot set artifactType.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// headBlob reports whether the repository has the blob.
func (c *client) headBlob(ctx context.Context, d v1.Hash) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url("blobs", d.String()), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, transport.CheckError(resp, http.StatusOK)
}
