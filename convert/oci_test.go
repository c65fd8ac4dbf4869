package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/symb"
)

// ociFile is one file of a source artifact and the media type modctl (and
// oras with ModelPack types) gives it.
type ociFile struct {
	title, mediaType string
	data             []byte
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
		diffIDs = append(diffIDs, h.String())
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
		files = append(files, ociFile{name, mt, b})
	}
	return append(files, ociFile{"LICENSE", "doc.v1.raw", []byte("MIT License\n")})
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
		"tar layer":      {[]ociFile{{"model", "weight.v1.tar", []byte("x")}}, "one raw layer per file"},
		"escaping title": {[]ociFile{{"../config.json", "weight.config.v1.raw", []byte("{}")}}, "escape the folder"},
		"image layer":    {[]ociFile{{"x", "application/vnd.oci.image.layer.v1.tar", []byte("x")}}, "not a ModelPack layer"},
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
