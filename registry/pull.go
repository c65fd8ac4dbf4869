package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/internal/partial"
	"github.com/symbc/symbc/symb"
)

// PullResult says what Pull did.
type PullResult struct {
	Ref    string `json:"ref"`    // repository, and tag when pulled by tag
	Digest string `json:"digest"` // of the manifest
	Dir    string `json:"dir"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"` // blob bytes downloaded
}

// pullLayer is a layer of the artifact checked for a safe destination.
type pullLayer struct {
	title  string
	desc   v1.Descriptor
	diffID v1.Hash
	tar    bool // tar (or tar+gzip, tar+zstd) of folder title
	gzip   bool
	zstd   bool
}

// Pull downloads the model at ref (tag or digest) into the folder dir. It
// writes into a temporary sibling folder and renames it to dir only once
// every blob matched its digest and the folder matched its manifest.json; on
// any error dir is left as it was. An existing dir (other than an empty
// folder) is refused unless WithForce.
func Pull(ctx context.Context, ref, dir string, opts ...Option) (*PullResult, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	r, err := o.parseRef(ref)
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	exists, err := destinationExists(dir)
	if err != nil {
		return nil, err
	}
	if exists && !o.force {
		return nil, fmt.Errorf("%s already exists; pass --force to replace it", dir)
	}
	c, err := o.newClient(ctx, r.Context(), false)
	if err != nil {
		return nil, authError(r.Context().RegistryStr(), err)
	}
	m, err := c.fetchModel(ctx, r)
	if err != nil {
		return nil, authError(r.Context().RegistryStr(), err)
	}
	layers, err := checkLayers(m)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, pullDirMode); err != nil {
		return nil, err
	}
	// One run at a time per folder. The partial folder .DIR.pull of a run
	// that died (SIGKILL) is resumed: files whose digest matches a layer
	// are kept, everything else goes.
	unlock, err := partial.Lock(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := partial.Sweep(dir); err != nil {
		return nil, err
	}
	tmp := partial.Dir(dir, "pull")
	if err := prunePartial(tmp, layers); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, pullDirMode); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	// Under the lock, dir is what it is now.
	if exists, err = destinationExists(dir); err != nil {
		return nil, err
	}
	if exists && !o.force {
		return nil, fmt.Errorf("%s already exists; pass --force to replace it", dir)
	}
	res := &PullResult{Ref: refName(r), Digest: m.digest.String(), Dir: dir}
	if err := download(ctx, c, m, layers, tmp, res); err != nil {
		return nil, err
	}
	if err := replace(tmp, dir, exists); err != nil {
		return nil, err
	}
	return res, nil
}

// prunePartial keeps, in the partial folder of an earlier run, only the
// files of raw layers that have the layer's size (their digest is checked
// before they are used) and removes the rest.
func prunePartial(tmp string, layers []pullLayer) error {
	if _, err := os.Lstat(tmp); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	keep := map[string]int64{}
	for _, l := range layers {
		if !l.tar {
			keep[filepath.FromSlash(l.title)] = l.desc.Size
		}
	}
	err := filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tmp, p)
		if err != nil {
			return err
		}
		if size, ok := keep[rel]; ok && d.Type().IsRegular() {
			if st, err := d.Info(); err == nil && st.Size() == size {
				return nil
			}
		}
		return os.Remove(p)
	})
	if err != nil {
		return fmt.Errorf("cleaning %s, left by an earlier pull: %w", tmp, err)
	}
	return nil
}

// reuseFile reports whether p already holds blob desc (a file kept from a
// pull that died), hashing it.
func reuseFile(p string, desc v1.Descriptor) bool {
	size, sum, err := symb.HashFile(p)
	return err == nil && size == desc.Size && "sha256:"+sum == desc.Digest.String()
}

// destinationExists treats an empty folder as absent: there is nothing to lose.
func destinationExists(dir string) (bool, error) {
	st, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.IsDir() {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return false, err
		}
		return len(ents) > 0, nil
	}
	return true, nil
}

// checkLayers validates every layer before anything is downloaded: a known
// media type, a title that stays inside the folder and matches its filepath
// annotation, no title twice or inside another file, and the files every
// .symb folder has.
func checkLayers(m *remoteModel) ([]pullLayer, error) {
	titles := map[string]bool{}
	var out []pullLayer
	for i, d := range m.manifest.Layers {
		l := pullLayer{desc: d, diffID: m.config.ModelFS.DiffIDs[i]}
		what := fmt.Sprintf("%s: layer %d (%s)", m.ref, i, d.Digest)
		mt := string(d.MediaType)
		switch {
		case !strings.HasPrefix(mt, "application/vnd.cncf.model."):
			return nil, fmt.Errorf("%s: media type %s is not a ModelPack layer: %w", what, mt, ErrNotModel)
		case strings.HasSuffix(mt, ".tar+gzip"):
			l.tar, l.gzip = true, true
		case strings.HasSuffix(mt, ".tar"):
			l.tar = true
		case !strings.HasSuffix(mt, ".raw"):
			return nil, fmt.Errorf("%s: media type %s is not supported (raw, tar and tar+gzip are)", what, mt)
		}
		l.title = d.Annotations[AnnotationTitle]
		if fp := d.Annotations[AnnotationFilepath]; l.title == "" {
			l.title = fp
		} else if fp != "" && fp != l.title {
			return nil, fmt.Errorf("%s: title %q and filepath %q disagree", what, l.title, fp)
		}
		if l.title == "" {
			return nil, fmt.Errorf("%s: no %s annotation, so no file name", what, AnnotationTitle)
		}
		if err := symb.CheckRelPath(l.title); err != nil {
			return nil, fmt.Errorf("%s: refusing a path that could escape the folder: %v", what, err)
		}
		if titles[l.title] {
			return nil, fmt.Errorf("%s: %q is the title of two layers", what, l.title)
		}
		titles[l.title] = true
		if d.Size < 0 {
			return nil, fmt.Errorf("%s: size %d", what, d.Size)
		}
		if !l.tar && l.diffID != d.Digest {
			return nil, fmt.Errorf("%s: config DiffID %s differs from the digest of a raw layer", what, l.diffID)
		}
		out = append(out, l)
	}
	for t := range titles {
		for d := filepath.ToSlash(filepath.Dir(t)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
			if titles[d] {
				return nil, fmt.Errorf("%s: %q lies inside layer %q", m.ref, t, d)
			}
		}
	}
	for _, f := range []string{symb.ConfigFile, symb.ManifestFile} {
		if !titles[f] {
			return nil, fmt.Errorf("%s has no %s layer: %w", m.ref, f, ErrNotModel)
		}
	}
	return out, nil
}

// download fetches config.symb.json and manifest.json first, then checks
// every other layer against manifest.json and fetches them in parallel, and
// finally checks the folder against its manifest.
func download(ctx context.Context, c *client, m *remoteModel, layers []pullLayer, tmp string, res *PullResult) error {
	o := c.o
	var total int64
	for _, l := range layers {
		total += l.desc.Size
	}
	o.emit(Event{Phase: PhaseDownload, Kind: EventTotal, Size: total, Count: len(layers)})
	var first, rest []pullLayer
	for _, l := range layers {
		if l.title == symb.ConfigFile || l.title == symb.ManifestFile {
			if l.tar {
				return fmt.Errorf("%s: %s must be a file layer, not a tar: %w", m.ref, l.title, ErrNotModel)
			}
			first = append(first, l)
		} else {
			rest = append(rest, l)
		}
	}
	var downloaded atomic.Int64
	fetch := func(ctx context.Context, l pullLayer, sizes map[string]int64) error {
		o.emit(Event{Phase: PhaseDownload, Kind: EventStart, Name: l.title, Size: l.desc.Size})
		if err := fetchLayer(ctx, c, l, tmp, tarRules{sizes: sizes}); err != nil {
			return fmt.Errorf("%s: %s: %w", m.ref, l.title, err)
		}
		downloaded.Add(l.desc.Size)
		o.emit(Event{Phase: PhaseDownload, Kind: EventDone, Name: l.title, Size: l.desc.Size})
		return nil
	}
	for _, l := range first {
		if err := fetch(ctx, l, nil); err != nil {
			return err
		}
	}
	if _, err := symb.ReadConfig(tmp); err != nil {
		return fmt.Errorf("%s: %v: %w", m.ref, err, ErrNotModel)
	}
	man, err := symb.ReadManifest(tmp)
	if err != nil {
		return fmt.Errorf("%s: %w", m.ref, err)
	}
	sizes := make(map[string]int64, len(man.Files))
	for _, e := range man.Files {
		sizes[e.Path] = e.Size
	}
	for _, l := range rest {
		if l.title == symb.LocalFile {
			// local.json names paths of the machine it was written on:
			// never taken from a registry.
			return fmt.Errorf("%s: layer %s is machine-local and never published: %w", m.ref, l.title, ErrNotModel)
		}
		if size, ok := sizes[l.title]; !l.tar && !symb.Unlisted(l.title) && (!ok || size != l.desc.Size) {
			return fmt.Errorf("%s: layer %s (%d bytes) is not a file of %s", m.ref, l.title, l.desc.Size, symb.ManifestFile)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.jobs)
	for _, l := range rest {
		g.Go(func() error { return fetch(gctx, l, sizes) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	probs, err := man.Check(ctx, tmp, o.jobs)
	if err != nil {
		return fmt.Errorf("%s: checking the pulled folder: %w", m.ref, err)
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s: the pulled folder does not match its %s: %w (and %d more)", m.ref, symb.ManifestFile, probs[0], len(probs)-1)
	}
	res.Files = len(man.Files) + 1 // and manifest.json
	if _, err := os.Lstat(filepath.Join(tmp, symb.ReportFile)); err == nil {
		res.Files++
	}
	res.Bytes = downloaded.Load()
	return nil
}

// fetchLayer downloads one layer into tmp, reporting progress; rules bound
// what a tar layer writes.
func fetchLayer(ctx context.Context, c *client, l pullLayer, tmp string, rules tarRules) error {
	var got int64 // bytes reported for the current attempt
	report := func(n int64) {
		got += n
		c.o.emit(Event{Phase: PhaseDownload, Kind: EventBytes, Name: l.title, N: n})
	}
	if !l.tar && reuseFile(filepath.Join(tmp, filepath.FromSlash(l.title)), l.desc) {
		return nil
	}
	if l.tar && rules.sizes != nil {
		// Whatever an earlier run extracted is replaced.
		if err := os.RemoveAll(filepath.Join(tmp, filepath.FromSlash(l.title))); err != nil {
			return err
		}
	}
	attempt := 0
	return c.fetchBlob(ctx, l.desc, func(r io.Reader) error {
		if attempt++; attempt > 1 {
			c.o.emit(Event{Phase: PhaseDownload, Kind: EventRetry, Name: l.title})
			report(-got)
		}
		r = &progressReader{r: r, report: report}
		if l.tar {
			return extractTar(ctx, r, l, tmp, rules)
		}
		return writeFile(ctx, filepath.Join(tmp, filepath.FromSlash(l.title)), r, -1)
	})
}

type progressReader struct {
	r      io.Reader
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.report(int64(n))
	}
	return n, err
}

// writeFile creates (or, on a retry, truncates) a file inside the pull
// folder and copies r into it; limit ≥ 0 copies exactly that many bytes.
func writeFile(ctx context.Context, p string, r io.Reader, limit int64) error {
	if err := os.MkdirAll(filepath.Dir(p), pullDirMode); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, pullFileMode)
	if err != nil {
		return err
	}
	if limit >= 0 {
		r = io.LimitReader(r, limit)
	}
	n, err := io.CopyBuffer(f, ctxReader{ctx, r}, make([]byte, 1<<20))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && limit >= 0 && n != limit {
		err = fmt.Errorf("%s: %d of %d bytes: %w", filepath.Base(p), n, limit, io.ErrUnexpectedEOF)
	}
	return err
}

// replace moves the finished folder into place. An existing dir is first
// renamed aside, so that a failure leaves either the old or the new folder.
func replace(tmp, dir string, exists bool) error {
	if !exists {
		os.Remove(dir) // an empty folder, if any
		return os.Rename(tmp, dir)
	}
	old, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".old-*")
	if err != nil {
		return err
	}
	os.Remove(old)
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Rename(old, dir)
		return err
	}
	return os.RemoveAll(old)
}
