package convert

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/symb"
)

// ociFile is one file of a source artifact and the media type modctl (and
// oras with ModelPack types) gives it.
type ociFile struct {
	title, mediaType string
	data             []byte
	diffID           string // of the uncompressed content; "" for the blob's digest
}

// pushArtifact writes a ModelPack artifact of files to an in-memory
// registry with plain distribution-API requests, as another tool would.
func pushArtifact(t *testing.T, host, repo, tag string, files []ociFile) {
	t.Helper()
	put := func(b []byte) v1.Hash {
		h, _, err := v1.SHA256(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(fmt.Sprintf("http://%s/v2/%s/blobs/uploads/", host, repo), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "http") {
			loc = "http://" + host + loc
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+h.String(), bytes.NewReader(b))
		resp, err = http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("blob upload: %v %v", resp, err)
		}
		resp.Body.Close()
		return h
	}
	var layers []v1.Descriptor
	var diffIDs []string
	for _, f := range files {
		h := put(f.data)
		mt := f.mediaType
		if !strings.HasPrefix(mt, "application/") {
			mt = "application/vnd.cncf.model." + mt
		}
		layers = append(layers, v1.Descriptor{MediaType: types.MediaType(mt), Size: int64(len(f.data)), Digest: h,
			Annotations: map[string]string{registry.AnnotationTitle: f.title, registry.AnnotationFilepath: f.title}})
		if f.diffID != "" {
			diffIDs = append(diffIDs, f.diffID)
		} else {
			diffIDs = append(diffIDs, h.String())
		}
	}
	cfg, _ := json.Marshal(map[string]any{
		"descriptor": map[string]any{"name": "stories260k"},
		"config":     map[string]any{"format": "safetensors"},
		"modelfs":    map[string]any{"type": "layers", "diffIds": diffIDs},
	})
	ch := put(cfg)
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": registry.ArtifactType,
		"config":       v1.Descriptor{MediaType: registry.MediaTypeConfig, Size: int64(len(cfg)), Digest: ch},
		"layers":       layers,
	})
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, repo, tag), bytes.NewReader(man))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("manifest upload: %v %v", resp, err)
	}
	resp.Body.Close()
}

func storiesArtifact(t *testing.T) []ociFile {
	t.Helper()
	var files []ociFile
	for name, mt := range map[string]string{
		"config.json": "weight.config.v1.raw", "model.safetensors": "weight.v1.raw",
		"tokenizer.json": "weight.config.v1.raw", "tokenizer_config.json": "weight.config.v1.raw",
	} {
		b, err := os.ReadFile(filepath.Join(fixtures, "stories260k", name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, ociFile{title: name, mediaType: mt, data: b})
	}
	return append(files, ociFile{title: "LICENSE", mediaType: "doc.v1.raw", data: []byte("MIT License\n")})
}

func TestConvertFromAModelPackArtifact(t *testing.T) {
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	pushArtifact(t, host, "hf/stories260k", "main", storiesArtifact(t))

	outs := t.TempDir()
	out := filepath.Join(outs, "from-oci")
	if _, err := Convert(ctx, host+"/hf/stories260k:main", out); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "local")
	if _, err := Convert(ctx, filepath.Join(fixtures, "stories260k"), local); err != nil {
		t.Fatal(err)
	}
	// The same tensors as from the folder, byte for byte.
	for _, f := range []string{"embeddings.symb", "layers/layer_03/attn_q.symb", "final_norm.symb"} {
		a, _ := os.ReadFile(filepath.Join(out, f))
		b, _ := os.ReadFile(filepath.Join(local, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the conversion of the folder", f)
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "LICENSE")); err != nil || string(b) != "MIT License\n" {
		t.Errorf("LICENSE of the artifact: %q %v", b, err)
	}
	cfg, err := symb.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.ID != host+"/hf/stories260k:main" || !strings.HasPrefix(cfg.Source.Revision, "sha256:") || cfg.Source.Path != "" {
		t.Errorf("source record %+v", cfg.Source)
	}
	if ents, _ := os.ReadDir(outs); len(ents) != 1 {
		t.Errorf("the downloaded source was left next to the output: %v", ents)
	}

	for name, c := range map[string]struct {
		files []ociFile
		want  string
	}{
		"not a tar":      {[]ociFile{{title: "model", mediaType: "weight.v1.tar", data: []byte("x")}}, "tar: unexpected EOF"},
		"escaping title": {[]ociFile{{title: "../config.json", mediaType: "weight.config.v1.raw", data: []byte("{}")}}, "escape the folder"},
		"image layer":    {[]ociFile{{title: "x", mediaType: "application/vnd.oci.image.layer.v1.tar", data: []byte("x")}}, "not a ModelPack layer"},
	} {
		pushArtifact(t, host, "bad/"+strings.ReplaceAll(name, " ", "-"), "v1", c.files)
		_, err := Convert(ctx, host+"/bad/"+strings.ReplaceAll(name, " ", "-")+":v1", filepath.Join(outs, "bad"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
		if ents, _ := os.ReadDir(outs); len(ents) != 1 {
			t.Errorf("%s: left %d entries next to the output", name, len(ents)-1)
		}
	}
}

// tarOf is a tar of files (name → content; a name ending in "/" is a
// folder, one starting with "->" a symlink to the rest), in name order.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(files[n]))}
		switch {
		case strings.HasSuffix(n, "/"):
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		case strings.HasPrefix(files[n], "->"):
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, strings.TrimPrefix(files[n], "->")
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(files[n]))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func digestOf(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.String()
}

// TestConvertFromModelPackTarLayers: weights, tokenizer and docs packed in
// tar layers (plain, gzip, zstd: the model-spec's media types, as modctl
// packs them) convert to the same model as the folder; hostile tars are
// refused by name and leave nothing behind.
func TestConvertFromModelPackTarLayers(t *testing.T) {
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	src := filepath.Join(fixtures, "stories260k")
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	weights := tarOf(t, map[string]string{"model.safetensors": read("model.safetensors")})
	tok := tarOf(t, map[string]string{"./": "", "./tokenizer.json": read("tokenizer.json"), "./tokenizer_config.json": read("tokenizer_config.json")})
	docs := tarOf(t, map[string]string{"LICENSE": "MIT License\n"})
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	docsZst := enc.EncodeAll(docs, nil)
	enc.Close()
	pushArtifact(t, host, "hf/tarred", "main", []ociFile{
		{title: "config.json", mediaType: "weight.config.v1.raw", data: []byte(read("config.json"))},
		{title: "model.safetensors", mediaType: "weight.v1.tar", data: weights},
		{title: "tokenizer", mediaType: "weight.config.v1.tar+gzip", data: gzipOf(tok), diffID: digestOf(tok)},
		{title: "LICENSE", mediaType: "doc.v1.tar+zstd", data: docsZst, diffID: digestOf(docs)},
	})
	outs := t.TempDir()
	out := filepath.Join(outs, "from-tar")
	if _, err := Convert(ctx, host+"/hf/tarred:main", out); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "local")
	if _, err := Convert(ctx, src, local); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"embeddings.symb", "layers/layer_03/attn_q.symb", "tokenizer/tokenizer.json"} {
		a, _ := os.ReadFile(filepath.Join(out, f))
		b, _ := os.ReadFile(filepath.Join(local, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the conversion of the folder", f)
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "LICENSE")); err != nil || string(b) != "MIT License\n" {
		t.Errorf("LICENSE from the zstd tar: %q %v", b, err)
	}

	// A gzip bomb: 72 MiB of zeros in about 70 KB.
	bomb := tarOf(t, map[string]string{"model.safetensors": strings.Repeat("\x00", 72<<20)})
	cfg := ociFile{title: "config.json", mediaType: "weight.config.v1.raw", data: []byte(read("config.json"))}
	for name, c := range map[string]struct {
		files []ociFile
		want  string
	}{
		"escaping entry": {[]ociFile{cfg, {title: "w", mediaType: "weight.v1.tar", data: tarOf(t, map[string]string{"../model.safetensors": "x"})}}, "escape the folder"},
		"absolute entry": {[]ociFile{cfg, {title: "w", mediaType: "weight.v1.tar", data: tarOf(t, map[string]string{"/etc/x": "x"})}}, "escape the folder"},
		"symlink entry":  {[]ociFile{cfg, {title: "w", mediaType: "weight.v1.tar", data: tarOf(t, map[string]string{"model.safetensors": "->/etc/passwd"})}}, "symbolic link"},
		"two layers":     {[]ociFile{cfg, {title: "w", mediaType: "weight.v1.tar", data: tarOf(t, map[string]string{"config.json": "{}"})}}, "comes from two layers"},
		"inside a file":  {[]ociFile{cfg, {title: "w", mediaType: "weight.v1.tar", data: tarOf(t, map[string]string{"config.json/x": "{}"})}}, "inside the file"},
		"gzip bomb":      {[]ociFile{cfg, {title: "w", mediaType: "weight.v1.tar+gzip", data: gzipOf(bomb), diffID: digestOf(bomb)}}, "unpacks to more than"},
		"wrong diffid":   {[]ociFile{cfg, {title: "w", mediaType: "weight.v1.tar+gzip", data: gzipOf(weights), diffID: digestOf(tok)}}, "DiffID"},
	} {
		repo := "bad/" + strings.ReplaceAll(name, " ", "-")
		pushArtifact(t, host, repo, "v1", c.files)
		_, err := Convert(ctx, host+"/"+repo+":v1", filepath.Join(outs, "bad"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
		if ents, _ := os.ReadDir(outs); len(ents) != 1 {
			t.Errorf("%s: left %d entries next to the output", name, len(ents)-1)
		}
	}
}
