package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/symbc/symbc/internal/testmodel"
)

// hostile is a registry serving one hand-made model artifact, with blobs
// that may not match their digests.
type hostile struct {
	layers  []v1.Descriptor
	diffIDs []v1.Hash
	blobs   map[v1.Hash][]byte // what is served for a digest
	cut     map[v1.Hash]bool   // close the connection half-way through
}

// newHostile starts from a valid artifact of a real folder.
func newHostile(t *testing.T) *hostile {
	t.Helper()
	src := writeModel(t, testmodel.Tiny)
	a, err := buildArtifact(context.Background(), src, defaultOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{blobs: map[v1.Hash][]byte{}, cut: map[v1.Hash]bool{}}
	for _, l := range a.layers {
		b, err := os.ReadFile(filepath.Join(src, l.title))
		if err != nil {
			t.Fatal(err)
		}
		h.add(l.desc, l.diffID, b)
	}
	return h
}

func (h *hostile) add(d v1.Descriptor, diffID v1.Hash, b []byte) {
	h.layers = append(h.layers, d)
	h.diffIDs = append(h.diffIDs, diffID)
	h.blobs[d.Digest] = b
}

// addLayer adds a layer with the given bytes and title.
func (h *hostile) addLayer(mt string, title string, b []byte) {
	d, _, _ := v1.SHA256(bytes.NewReader(b))
	h.add(v1.Descriptor{MediaType: types.MediaType(mt), Size: int64(len(b)), Digest: d,
		Annotations: map[string]string{AnnotationTitle: title}}, d, b)
}

// find returns the index of the layer titled title.
func (h *hostile) find(t *testing.T, title string) int {
	for i, l := range h.layers {
		if l.Annotations[AnnotationTitle] == title {
			return i
		}
	}
	t.Fatalf("no layer %s", title)
	return -1
}

// serve starts the registry and returns the reference of the artifact.
func (h *hostile) serve(t *testing.T) string {
	t.Helper()
	var mc modelConfig
	mc.Config.Format = "symb"
	mc.ModelFS.Type = "layers"
	mc.ModelFS.DiffIDs = h.diffIDs
	cfg, _ := json.Marshal(mc)
	cd, _, _ := v1.SHA256(bytes.NewReader(cfg))
	h.blobs[cd] = cfg
	m, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ArtifactType,
		Config: v1.Descriptor{MediaType: MediaTypeConfig, Size: int64(len(cfg)), Digest: cd}, Layers: h.layers})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/v2/":
		case strings.HasPrefix(p, "/v2/evil/manifests/"):
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Write(m)
		case strings.HasPrefix(p, "/v2/evil/blobs/"):
			d, err := v1.NewHash(strings.TrimPrefix(p, "/v2/evil/blobs/"))
			b, ok := h.blobs[d]
			if err != nil || !ok {
				http.NotFound(w, r)
				return
			}
			if h.cut[d] {
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				w.Write(b[:len(b)/2])
				panic(http.ErrAbortHandler)
			}
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/evil:v1"
}

type entry struct {
	name, link string
	typ        byte
	body       string
}

func tarOf(t testing.TB, es []entry, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func TestHostileRegistry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, h *hostile)
		want  string
	}{
		{"title escapes", func(t *testing.T, h *hostile) { h.addLayer(MediaTypeWeight, "../evil", []byte("x")) }, "escape"},
		{"absolute title", func(t *testing.T, h *hostile) { h.addLayer(MediaTypeWeight, "/etc/x", []byte("x")) }, "escape"},
		{"unclean title", func(t *testing.T, h *hostile) { h.addLayer(MediaTypeDoc, "tokenizer/../../evil", []byte("x")) }, "escape"},
		{"filepath disagrees", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeDoc, "README.md", []byte("x"))
			h.layers[len(h.layers)-1].Annotations[AnnotationFilepath] = "../evil"
		}, "disagree"},
		{"no config.symb.json", func(t *testing.T, h *hostile) {
			i := h.find(t, "config.symb.json")
			h.layers = append(h.layers[:i], h.layers[i+1:]...)
			h.diffIDs = append(h.diffIDs[:i], h.diffIDs[i+1:]...)
		}, "has no config.symb.json layer: not a .symb model artifact"},
		{"title twice", func(t *testing.T, h *hostile) { h.addLayer(MediaTypeWeight, "embeddings.symb", []byte("x")) }, "two layers"},
		{"file not in manifest.json", func(t *testing.T, h *hostile) { h.addLayer(MediaTypeWeight, "extra.symb", []byte("x")) }, "not a file of manifest.json"},
		{"zstd layer", func(t *testing.T, h *hostile) {
			h.addLayer("application/vnd.cncf.model.weight.v1.tar+zstd", "layers/layer_09", []byte("x"))
		}, "not supported"},
		{"tar entry escapes", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTar, "layers/layer_09", tarOf(t, []entry{{name: "layers/layer_09/../../../evil", typ: tar.TypeReg, body: "x"}}, false))
		}, "escape"},
		{"tar entry absolute", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTarGz, "layers/layer_09", tarOf(t, []entry{{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}}, true))
		}, "escape"},
		{"tar entry outside its folder", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTar, "layers/layer_09", tarOf(t, []entry{{name: "tokenizer/tokenizer.json", typ: tar.TypeReg, body: "{}"}}, false))
		}, "outside the layer's folder"},
		{"tar symlink", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTar, "layers/layer_09", tarOf(t, []entry{{name: "layers/layer_09/x", typ: tar.TypeSymlink, link: "/etc/passwd"}}, false))
		}, "symbolic link"},
		{"tar hard link", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTarGz, "layers/layer_09", tarOf(t, []entry{{name: "layers/layer_09/x", typ: tar.TypeLink, link: "/etc/passwd"}}, true))
		}, "hard link"},
		{"tar device", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTar, "layers/layer_09", tarOf(t, []entry{{name: "layers/layer_09/x", typ: tar.TypeChar}}, false))
		}, "device"},
		{"tar file not in manifest.json", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTar, "layers/layer_09", tarOf(t, []entry{{name: "layers/layer_09/big.symb", typ: tar.TypeReg, body: "xyz"}}, false))
		}, "not a file of manifest.json"},
		{"tar with wrong DiffID", func(t *testing.T, h *hostile) {
			h.addLayer(MediaTypeWeightTarGz, "layers/layer_09", tarOf(t, []entry{{name: "layers/layer_09/", typ: tar.TypeDir}}, true))
			h.diffIDs[len(h.diffIDs)-1] = h.layers[0].Digest
		}, "DiffID"},
		{"blob digest mismatch", func(t *testing.T, h *hostile) {
			d := h.layers[h.find(t, "embeddings.symb")].Digest
			b := bytes.Clone(h.blobs[d])
			b[len(b)-1] ^= 1
			h.blobs[d] = b
		}, "the content sent hashes to"},
		{"truncated blob", func(t *testing.T, h *hostile) {
			d := h.layers[h.find(t, "layers/layer_01/attn_q.symb")].Digest
			h.blobs[d] = h.blobs[d][:100]
		}, "the registry sends 100 bytes"},
		{"connection cut", func(t *testing.T, h *hostile) {
			h.cut[h.layers[h.find(t, "layers/layer_00/mlp_up.symb")].Digest] = true
		}, "unexpected EOF (gave up after 3 attempts)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostile(t)
			tc.setup(t, h)
			ref := h.serve(t)
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			_, err := Pull(context.Background(), ref, out, fast()...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one saying %q", err, tc.want)
			}
			t.Log(err)
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed pull", out)
			}
			noLeftovers(t, parent)
		})
	}
}

// The unmodified hostile server is a valid registry: the failures above come
// from the changes each case makes.
func TestHostileBaseline(t *testing.T) {
	t.Parallel()
	ref := newHostile(t).serve(t)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Pull(context.Background(), ref, out, fast()...); err != nil {
		t.Fatal(err)
	}
	checkClean(t, out)
}
