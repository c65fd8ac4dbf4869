package registry

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/symb"
)

// SourceResult says what PullSource fetched.
type SourceResult struct {
	Ref    string // repository, and tag when pulled by tag
	Digest string // of the manifest
	Format string // the ModelPack config's format ("safetensors", ...), as the artifact states it
	Files  int
	Bytes  int64
}

// PullSource downloads the files of a ModelPack artifact of any model format
// (a Hugging Face checkpoint in safetensors that modctl, KitOps or oras
// pushed) into dir, which must not exist yet: it is the way in for a
// conversion, not a .symb pull. A layer is a raw file, whose title is a
// safe path, or a tar (plain, gzip or zstd) of files and folders, unpacked
// as it streams in: every entry a safe relative path, no links or devices,
// no file from two layers, and no more bytes than the layer's size allows
// (maxUnpacked). Every blob is checked against its digest, and a tar's
// content against the config's DiffID when it lists one. On error dir is
// removed.
func PullSource(ctx context.Context, ref, dir string, opts ...Option) (res *SourceResult, err error) {
	o, r, c, err := connect(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	m, err := c.fetchArtifact(ctx, r)
	if err != nil {
		return nil, err
	}
	layers, err := sourceLayers(m)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	res = &SourceResult{Ref: refName(r), Digest: m.digest.String(), Format: m.config.Config.Format}
	var total atomic.Int64
	cl := &claims{owner: map[string]int{}}
	for i, l := range layers {
		if !l.tar {
			if err := cl.claim(i, l.title); err != nil {
				return nil, fmt.Errorf("%s: %w", m.ref, err)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs)
	for i, l := range layers {
		g.Go(func() error {
			o.emit(Event{Phase: PhaseDownload, Kind: EventStart, Name: l.title, Size: l.desc.Size})
			rules := tarRules{claim: func(name string) error { return cl.claim(i, name) }, maxBytes: maxUnpacked(l)}
			// A config without DiffIDs leaves only the blob digest to check
			// a compressed layer by; for a plain tar the two are the same.
			rules.noDiffID = (l.gzip || l.zstd) && l.diffID == l.desc.Digest
			if err := fetchLayer(gctx, c, l, dir, rules); err != nil {
				return fmt.Errorf("%s: %s: %w", m.ref, l.title, err)
			}
			total.Add(l.desc.Size)
			o.emit(Event{Phase: PhaseDownload, Kind: EventDone, Name: l.title, Size: l.desc.Size})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Bytes = total.Load()
	res.Files = len(cl.owner)
	return res, nil
}

// Bounds on what a source's tar layer may unpack to: a plain tar holds its
// files' bytes, so the layer's size bounds them; a compressed one may hold
// up to maxSourceRatio times its size (safetensors weights compress by
// about 1.1, text by up to 10; gzip and zstd bombs reach 1000 and more).
const (
	maxSourceRatio = 32
	maxSourceSlack = 64 << 20
)

func maxUnpacked(l pullLayer) int64 {
	if l.gzip || l.zstd {
		return l.desc.Size*maxSourceRatio + maxSourceSlack
	}
	return l.desc.Size
}

// claims records which layer wrote each file of a source, so that no file
// comes from two layers (a retried layer may write its own files again).
type claims struct {
	mu    sync.Mutex
	owner map[string]int
}

func (c *claims) claim(layer int, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if _, ok := c.owner[d]; ok {
			return fmt.Errorf("%q lies inside the file %q", name, d)
		}
	}
	if o, ok := c.owner[name]; ok && o != layer {
		return fmt.Errorf("%q comes from two layers (%d and %d)", name, o, layer)
	}
	c.owner[name] = layer
	return nil
}

// sourceLayers checks every layer of a source artifact before anything is
// downloaded: a ModelPack raw layer, a title (or filepath) that stays inside
// the folder, no title twice or inside another.
func sourceLayers(m *remoteModel) ([]pullLayer, error) {
	titles := map[string]bool{}
	var out []pullLayer
	for i, d := range m.manifest.Layers {
		what := fmt.Sprintf("%s: layer %d (%s)", m.ref, i, d.Digest)
		mt := string(d.MediaType)
		if !strings.HasPrefix(mt, "application/vnd.cncf.model.") {
			return nil, fmt.Errorf("%s: media type %s is not a ModelPack layer: %w", what, mt, ErrNotModel)
		}
		l := pullLayer{desc: d, diffID: d.Digest}
		if ids := m.config.ModelFS.DiffIDs; len(ids) == len(m.manifest.Layers) {
			l.diffID = ids[i]
		}
		switch {
		case strings.HasSuffix(mt, ".tar"):
			l.tar = true
		case strings.HasSuffix(mt, ".tar+gzip"):
			l.tar, l.gzip = true, true
		case strings.HasSuffix(mt, ".tar+zstd"):
			l.tar, l.zstd = true, true
		case !strings.HasSuffix(mt, ".raw"):
			return nil, fmt.Errorf("%s: media type %s is not supported (raw, tar, tar+gzip and tar+zstd are)", what, mt)
		}
		if d.Size < 0 {
			return nil, fmt.Errorf("%s: size %d", what, d.Size)
		}
		title := d.Annotations[AnnotationTitle]
		if title == "" {
			title = d.Annotations[AnnotationFilepath]
		}
		if l.tar {
			// The entries name the files; the title is for messages.
			if title == "" {
				title = fmt.Sprintf("layer %d", i)
			}
			l.title = title
			out = append(out, l)
			continue
		}
		if title == "" {
			return nil, fmt.Errorf("%s: no %s annotation, so no file name", what, AnnotationTitle)
		}
		if err := symb.CheckRelPath(title); err != nil {
			return nil, fmt.Errorf("%s: refusing a path that could escape the folder: %v", what, err)
		}
		if titles[title] {
			return nil, fmt.Errorf("%s: %q is the title of two layers", what, title)
		}
		titles[title] = true
		l.title = title
		out = append(out, l)
	}
	for t := range titles {
		for d := filepath.ToSlash(filepath.Dir(t)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
			if titles[d] {
				return nil, fmt.Errorf("%s: %q lies inside layer %q", m.ref, t, d)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the artifact has no layers: %w", m.ref, ErrNotModel)
	}
	return out, nil
}
