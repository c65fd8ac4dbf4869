package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/symb"
)

// maxManifestBytes is the manifest size Push refuses to exceed: 4 MiB is the
// limit of the CNCF distribution registry and of several hosted ones.
const maxManifestBytes = 4 << 20

// layerPlan is one layer of the artifact.
type layerPlan struct {
	title   string   // folder-relative file, or folder for a packed layer
	files   []string // folder-relative files it carries, sorted
	packed  bool     // a tar+gzip of a folder
	content []byte   // sent instead of the file's bytes, when set
	desc    v1.Descriptor
	diffID  v1.Hash
}

// artifact is what Push sends, derived from the folder alone.
type artifact struct {
	dir        string
	layers     []*layerPlan
	config     []byte
	configDesc v1.Descriptor
	manifest   []byte
	digest     v1.Hash
}

// fileFacts is what hashing learns about one file.
type fileFacts struct {
	size   int64
	sha256 string
	head   []byte // the first symb.HeaderSize bytes of a .symb file
}

// buildArtifact reads the folder once: it checks the folder against its
// manifest.json, hashes every file and tar layer, and composes the ModelPack
// config and the OCI manifest.
func buildArtifact(ctx context.Context, dir string, o *options) (*artifact, error) {
	cfg, err := symb.ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	man, err := symb.ReadManifest(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s (the folder is incomplete; every .symb folder lists its files there)", dir, symb.ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	files, err := symb.ListFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	listed := make(map[string]symb.ManifestEntry, len(man.Files))
	for _, e := range man.Files {
		listed[e.Path] = e
	}
	for _, f := range files {
		if _, ok := listed[f]; !ok {
			return nil, fmt.Errorf("%s: %s is not listed in %s", dir, f, symb.ManifestFile)
		}
		delete(listed, f)
	}
	for p := range listed {
		return nil, fmt.Errorf("%s: %s is listed in %s but missing", dir, p, symb.ManifestFile)
	}
	files = append(files, symb.ManifestFile)
	if st, err := os.Lstat(filepath.Join(dir, symb.ReportFile)); err == nil {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %s is not a regular file", dir, symb.ReportFile)
		}
		files = append(files, symb.ReportFile)
	}
	sort.Strings(files)

	a := &artifact{dir: dir, layers: planLayers(files, len(files) > o.packThreshold)}
	facts, err := hashLayers(ctx, dir, a.layers, o)
	if err != nil {
		return nil, err
	}
	for _, e := range man.Files {
		if f := facts[e.Path]; f.size != e.Size || f.sha256 != e.SHA256 {
			return nil, fmt.Errorf("%s: %s has size %d, sha256 %.12s; %s says %d, %.12s: %w",
				dir, e.Path, f.size, f.sha256, symb.ManifestFile, e.Size, e.SHA256, symb.ErrMismatch)
		}
	}
	stats, err := tensorStats(facts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := a.publishWithoutLocalPaths(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	annotations := modelAnnotations(cfg, stats)
	if _, ok := facts[symb.ReportFile]; ok {
		va, err := verifyAnnotations(filepath.Join(dir, symb.ReportFile))
		if err != nil {
			return nil, err
		}
		for k, v := range va {
			annotations[k] = v
		}
	}
	if err := a.compose(cfg, stats, annotations); err != nil {
		return nil, err
	}
	return a, nil
}

// planLayers gives each file a layer, except that a packed model puts every
// layers/layer_NN/ folder into one tar layer. Layers are sorted by title.
func planLayers(files []string, pack bool) []*layerPlan {
	var out []*layerPlan
	roots := map[string]*layerPlan{}
	for _, f := range files {
		root := ""
		if pack {
			root = packRoot(f)
		}
		if root == "" {
			mt, untested := mediaTypeOf(f)
			out = append(out, &layerPlan{title: f, files: []string{f}, desc: v1.Descriptor{MediaType: types.MediaType(mt)}})
			if untested {
				out[len(out)-1].desc.Annotations = map[string]string{AnnotationUntested: "true"}
			}
			continue
		}
		l := roots[root]
		if l == nil {
			l = &layerPlan{title: root, packed: true, desc: v1.Descriptor{MediaType: MediaTypeWeightTarGz}}
			roots[root] = l
			out = append(out, l)
		}
		l.files = append(l.files, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].title < out[j].title })
	return out
}

// mediaTypeOf classifies a file of a model folder; untested marks a guess.
func mediaTypeOf(rel string) (mt string, untested bool) {
	base := strings.ToLower(path.Base(rel))
	switch {
	case strings.HasSuffix(rel, symb.Ext):
		return MediaTypeWeight, false
	case rel == symb.ReportFile:
		return MediaTypeDoc, false
	case rel == symb.ConfigFile || rel == symb.ManifestFile || strings.HasPrefix(rel, "tokenizer/"):
		return MediaTypeWeightConfig, false
	case strings.HasSuffix(base, ".md") || strings.HasPrefix(base, "readme") ||
		strings.HasPrefix(base, "license") || strings.HasPrefix(base, "notice"):
		return MediaTypeDoc, false
	}
	return MediaTypeWeightConfig, true
}

// hashLayers computes every layer's digest, size and DiffID, and every file's
// size, SHA-256 and .symb header, reading each file once.
func hashLayers(ctx context.Context, dir string, layers []*layerPlan, o *options) (map[string]fileFacts, error) {
	var total int64
	for _, l := range layers {
		for _, f := range l.files {
			st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
			if err != nil {
				return nil, err
			}
			total += st.Size()
		}
	}
	o.emit(Event{Phase: PhaseHash, Kind: EventTotal, Size: total, Count: len(layers)})
	var mu sync.Mutex
	facts := map[string]fileFacts{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.jobs, runtime.GOMAXPROCS(0)))
	for _, l := range layers {
		g.Go(func() error {
			o.emit(Event{Phase: PhaseHash, Kind: EventStart, Name: l.title})
			got, err := hashLayer(ctx, dir, l, func(n int) {
				o.emit(Event{Phase: PhaseHash, Kind: EventBytes, Name: l.title, N: int64(n)})
			})
			if err != nil {
				return err
			}
			o.emit(Event{Phase: PhaseHash, Kind: EventDone, Name: l.title, Size: l.desc.Size})
			mu.Lock()
			for k, v := range got {
				facts[k] = v
			}
			mu.Unlock()
			return nil
		})
	}
	return facts, g.Wait()
}

func hashLayer(ctx context.Context, dir string, l *layerPlan, progress func(int)) (map[string]fileFacts, error) {
	facts := map[string]fileFacts{}
	files := map[string]*fileHasher{}
	tee := func(rel string) io.Writer {
		h := &fileHasher{h: sha256.New(), symb: strings.HasSuffix(rel, symb.Ext), progress: progress}
		files[rel] = h
		return h
	}
	blob := &countingHash{h: sha256.New()}
	if l.packed {
		diff := sha256.New()
		if err := writeTarGz(ctx, blob, dir, l.title, l.files, diff, tee); err != nil {
			return nil, fmt.Errorf("%s: packing %s: %w", dir, l.title, err)
		}
		l.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
		l.desc.Annotations = map[string]string{annotationOrasDigest: l.diffID.String(), annotationOrasUnpack: "true"}
	} else {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(l.title)))
		if err != nil {
			return nil, err
		}
		_, err = io.CopyBuffer(io.MultiWriter(blob, tee(l.title)), ctxReader{ctx, f}, make([]byte, 1<<20))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.title, err)
		}
	}
	l.desc.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blob.h.Sum(nil))}
	l.desc.Size = blob.n
	if !l.packed {
		l.diffID = l.desc.Digest
	}
	if l.desc.Annotations == nil {
		l.desc.Annotations = map[string]string{}
	}
	l.desc.Annotations[AnnotationTitle] = l.title
	l.desc.Annotations[AnnotationFilepath] = l.title
	for rel, h := range files {
		facts[rel] = fileFacts{size: h.n, sha256: hex.EncodeToString(h.h.Sum(nil)), head: h.head}
		if !l.packed {
			l.desc.Annotations[AnnotationFileMetadata] = fileMetadata(path.Base(rel), h.n)
		}
	}
	return facts, nil
}

// fileMetadata is the ModelPack file-metadata annotation with constant
// owner, mode and time, so that a re-push yields the same manifest.
func fileMetadata(name string, size int64) string {
	b, _ := json.Marshal(struct {
		Name     string `json:"name"`
		Mode     uint32 `json:"mode"`
		UID      uint32 `json:"uid"`
		GID      uint32 `json:"gid"`
		Size     int64  `json:"size"`
		ModTime  string `json:"mtime"`
		Typeflag byte   `json:"typeflag"`
	}{name, fileMode, 0, 0, size, epoch.Format("2006-01-02T15:04:05Z"), '0'})
	return string(b)
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// fileHasher hashes one file, keeps the start of a .symb file for its header
// and reports the bytes it has seen.
type fileHasher struct {
	h        hash.Hash
	n        int64
	symb     bool
	head     []byte
	progress func(int)
}

func (f *fileHasher) Write(p []byte) (int, error) {
	if f.symb && len(f.head) < symb.HeaderSize {
		f.head = append(f.head, p[:min(len(p), symb.HeaderSize-len(f.head))]...)
	}
	f.n += int64(len(p))
	f.progress(len(p))
	return f.h.Write(p)
}

// modelStats sums what the tensor headers say.
type modelStats struct {
	params int64
	dtypes []symb.DType // distinct, in a fixed order
}

func tensorStats(facts map[string]fileFacts) (modelStats, error) {
	var s modelStats
	seen := map[symb.DType]bool{}
	for rel, f := range facts {
		if !strings.HasSuffix(rel, symb.Ext) {
			continue
		}
		h, err := symb.ParseHeader(f.head, f.size)
		if err != nil {
			return s, fmt.Errorf("%s: %w", rel, err)
		}
		s.params += h.Info.Elements()
		seen[h.DType] = true
	}
	for _, d := range []symb.DType{symb.INT4, symb.INT8, symb.F16, symb.BF16, symb.F32} {
		if seen[d] {
			s.dtypes = append(s.dtypes, d)
		}
	}
	return s, nil
}
