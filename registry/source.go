package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
// conversion, not a .symb pull. Every layer must be a raw file layer whose
// title is a safe path, each title once; every blob is checked against its
// digest. On error dir is removed.
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
	res = &SourceResult{Ref: refName(r), Digest: m.digest.String(), Format: m.config.Config.Format, Files: len(layers)}
	var total atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs)
	for _, l := range layers {
		g.Go(func() error {
			o.emit(Event{Phase: PhaseDownload, Kind: EventStart, Name: l.title, Size: l.desc.Size})
			if err := fetchLayer(gctx, c, l, dir, nil); err != nil {
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
	return res, nil
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
		if !strings.HasSuffix(mt, ".raw") {
			return nil, fmt.Errorf("%s: media type %s: a source for conversion must have one raw layer per file", what, mt)
		}
		title := d.Annotations[AnnotationTitle]
		if title == "" {
			title = d.Annotations[AnnotationFilepath]
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
		if d.Size < 0 {
			return nil, fmt.Errorf("%s: size %d", what, d.Size)
		}
		titles[title] = true
		out = append(out, pullLayer{title: title, desc: d, diffID: d.Digest})
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
