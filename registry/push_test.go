package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/symbc/symbc/internal/testmodel"
	"github.com/symbc/symbc/symb"
)

// fetchRaw returns a manifest or blob as the registry stores it.
func fetchRaw(t *testing.T, host, repo, kind, id string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/"+kind+"/"+id, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/%s: %s", kind, id, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPushPullRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testmodel.Tiny
	s.Verify = testReport
	src := writeModel(t, s)
	reg := newTestRegistry(t)
	ref := reg.host + "/models/tiny:v1"

	res, err := Push(ctx, src, ref, fast()...)
	if err != nil {
		t.Fatal(err)
	}
	files := readTree(t, src)
	if res.Layers != len(files) || res.PackedLayers != 0 {
		t.Errorf("%d layers (%d packed) for %d files, want one layer per file", res.Layers, res.PackedLayers, len(files))
	}
	var total int64
	for _, b := range files {
		total += int64(len(b))
	}
	// Identical files (the all-random norms differ, so none here) would be sent once.
	if res.UploadedBytes < total || res.SkippedBytes != 0 {
		t.Errorf("uploaded %d, skipped %d bytes; the folder has %d", res.UploadedBytes, res.SkippedBytes, total)
	}
	if res.Ref != ref {
		t.Errorf("Ref %q, want %q", res.Ref, ref)
	}
	raw := fetchRaw(t, reg.host, "models/tiny", "manifests", "v1")
	if got, _, _ := v1.SHA256(bytes.NewReader(raw)); got.String() != res.Digest {
		t.Errorf("registry holds manifest %s, Push says %s", got, res.Digest)
	}

	out := filepath.Join(t.TempDir(), "pulled")
	pr, err := Pull(ctx, ref, out, fast(WithJobs(3))...)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
	checkClean(t, out)
	if pr.Digest != res.Digest || pr.Files != len(files) {
		t.Errorf("Pull says digest %s, %d files; want %s, %d", pr.Digest, pr.Files, res.Digest, len(files))
	}
	noLeftovers(t, filepath.Dir(out), "pulled")
}

func TestManifestFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testmodel.Tiny
	s.Verify = testReport
	src := writeModel(t, s)
	reg := newTestRegistry(t)
	if _, err := Push(ctx, src, reg.host+"/m:v1", fast()...); err != nil {
		t.Fatal(err)
	}
	var m struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        v1.Descriptor     `json:"config"`
		Layers        []v1.Descriptor   `json:"layers"`
		Annotations   map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(fetchRaw(t, reg.host, "m", "manifests", "v1"), &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 2 || m.MediaType != "application/vnd.oci.image.manifest.v1+json" ||
		m.ArtifactType != "application/vnd.cncf.model.manifest.v1+json" ||
		m.Config.MediaType != "application/vnd.cncf.model.config.v1+json" {
		t.Errorf("manifest header: %d %s %s config %s", m.SchemaVersion, m.MediaType, m.ArtifactType, m.Config.MediaType)
	}
	wantType := map[string]string{
		"config.symb.json":              "application/vnd.cncf.model.weight.config.v1.raw",
		"manifest.json":                 "application/vnd.cncf.model.weight.config.v1.raw",
		"tokenizer/tokenizer.json":      "application/vnd.cncf.model.weight.config.v1.raw",
		"verify.json":                   "application/vnd.cncf.model.doc.v1.raw",
		"embeddings.symb":               "application/vnd.cncf.model.weight.v1.raw",
		"layers/layer_01/mlp_down.symb": "application/vnd.cncf.model.weight.v1.raw",
	}
	files := readTree(t, src)
	var titles []string
	for _, l := range m.Layers {
		title := l.Annotations["org.opencontainers.image.title"]
		titles = append(titles, title)
		if l.Annotations["org.cncf.model.filepath"] != title {
			t.Errorf("layer %s: filepath annotation %q", title, l.Annotations["org.cncf.model.filepath"])
		}
		if want, ok := wantType[title]; ok && string(l.MediaType) != want {
			t.Errorf("layer %s: media type %s, want %s", title, l.MediaType, want)
		}
		var meta struct {
			Name     string    `json:"name"`
			Mode     uint32    `json:"mode"`
			UID      uint32    `json:"uid"`
			GID      uint32    `json:"gid"`
			Size     int64     `json:"size"`
			MTime    time.Time `json:"mtime"`
			Typeflag byte      `json:"typeflag"`
		}
		if err := json.Unmarshal([]byte(l.Annotations["org.cncf.model.file.metadata+json"]), &meta); err != nil {
			t.Errorf("layer %s: file metadata: %v", title, err)
		}
		if meta.Name != path.Base(title) || meta.Mode != 0o644 || meta.UID != 0 || meta.GID != 0 || meta.Size != int64(len(files[title])) || !meta.MTime.Equal(time.Unix(0, 0)) || meta.Typeflag != '0' {
			t.Errorf("layer %s: file metadata %+v", title, meta)
		}
		if l.Size != int64(len(files[title])) {
			t.Errorf("layer %s: size %d, file has %d", title, l.Size, len(files[title]))
		}
	}
	if !sort.StringsAreSorted(titles) || len(titles) != len(files) {
		t.Errorf("layer titles %v: want every file once, sorted", titles)
	}

	// Parameters counted here from the shapes the generator used.
	want := int64(s.Vocab*s.Hidden + s.Hidden)
	kv := s.KVHeads * (s.Hidden / s.Heads)
	want += int64(s.Layers * (2*s.Hidden*s.Hidden + 2*kv*s.Hidden + 2*s.Hidden + 3*s.Intermediate*s.Hidden))
	an := m.Annotations
	for k, v := range map[string]string{
		"org.symbc.architecture":          "llama",
		"org.symbc.params":                strconv.FormatInt(want, 10),
		"org.symbc.quantization":          "int4-sym-g32-rtn",
		"org.symbc.source":                "symbc-test/random-llama@0000000",
		"org.symbc.format_version":        "1.1",
		"org.symbc.verify.pass":           "true",
		"org.symbc.verify.mean_kld":       "0.0123",
		"org.symbc.verify.top1_agreement": "0.975",
		"org.symbc.verify.reference":      "hf-transformers-fp32",
		"org.symbc.verify.tool_version":   "symbc test (abc)",
	} {
		if an[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, an[k], v)
		}
	}

	var cfg struct {
		Descriptor map[string]string `json:"descriptor"`
		Config     map[string]string `json:"config"`
		ModelFS    struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diffIds"`
		} `json:"modelfs"`
	}
	if err := json.Unmarshal(fetchRaw(t, reg.host, "m", "blobs", m.Config.Digest.String()), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Config["format"] != "symb" || cfg.Config["precision"] != "mixed" ||
		cfg.Config["quantization"] != "int4-sym-g32-rtn" || cfg.Config["paramSize"] != paramSize(want) ||
		cfg.Descriptor["family"] != "llama" || cfg.Descriptor["name"] != "symbc-test/random-llama" {
		t.Errorf("config %+v / %+v", cfg.Descriptor, cfg.Config)
	}
	if cfg.ModelFS.Type != "layers" || len(cfg.ModelFS.DiffIDs) != len(m.Layers) {
		t.Fatalf("modelfs %+v for %d layers", cfg.ModelFS, len(m.Layers))
	}
	for i, l := range m.Layers {
		if cfg.ModelFS.DiffIDs[i] != l.Digest.String() {
			t.Errorf("diffIds[%d] = %s, raw layer digest %s", i, cfg.ModelFS.DiffIDs[i], l.Digest)
		}
	}
}

func TestParamSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{260_416: "260K", 1_235_814_400: "1.2B", 8_030_261_248: "8B", 12_345: "12.3K", 671_000_000_000: "671B", 999_960: "1M"} {
		if got := paramSize(n); got != want {
			t.Errorf("paramSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestRepushUploadsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := writeModel(t, testmodel.Tiny)
	reg := newTestRegistry(t)
	first, err := Push(ctx, src, reg.host+"/m:a", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	reg.count("", "", true)
	second, err := Push(ctx, src, reg.host+"/m:b", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	if second.UploadedBytes != 0 || second.UploadedBlobs != 0 || second.SkippedBytes != first.UploadedBytes || second.Digest != first.Digest {
		t.Errorf("re-push: %+v\nfirst push: %+v", second, first)
	}
	if n := reg.count("PATCH", "/blobs/", false) + reg.count("POST", "/blobs/", false) + reg.count("PUT", "/blobs/", false); n != 0 {
		t.Errorf("re-push made %d blob upload requests", n)
	}
}

func TestPackedRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := writeModel(t, testmodel.MoE)
	files := readTree(t, src)
	if len(files) <= DefaultPackThreshold {
		t.Fatalf("the MoE test model has %d files; it must exceed %d", len(files), DefaultPackThreshold)
	}
	reg := newTestRegistry(t)
	res, err := Push(ctx, src, reg.host+"/moe:v1", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	if res.PackedLayers != testmodel.MoE.Layers {
		t.Errorf("%d packed layers, want one per transformer layer (%d)", res.PackedLayers, testmodel.MoE.Layers)
	}
	var m v1.Manifest
	if err := json.Unmarshal(fetchRaw(t, reg.host, "moe", "manifests", "v1"), &m); err != nil {
		t.Fatal(err)
	}
	var tars int
	for _, l := range m.Layers {
		title := l.Annotations[AnnotationTitle]
		if !strings.HasPrefix(title, "layers/") {
			continue
		}
		tars++
		if l.MediaType != MediaTypeWeightTarGz || l.Annotations[annotationOrasUnpack] != "true" || !strings.HasPrefix(title, "layers/layer_0") || strings.Count(title, "/") != 1 {
			t.Errorf("packed layer %s: %s %v", title, l.MediaType, l.Annotations)
		}
		checkTar(t, fetchRaw(t, reg.host, "moe", "blobs", l.Digest.String()), title, files, l.Annotations[annotationOrasDigest])
	}
	if tars != res.PackedLayers {
		t.Errorf("%d layers under layers/, %d packed", tars, res.PackedLayers)
	}

	out := filepath.Join(t.TempDir(), "moe")
	if _, err := Pull(ctx, reg.host+"/moe:v1", out, fast()...); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
	checkClean(t, out)

	// Same folder, another repository: the same bytes, so the same digest.
	again, err := Push(ctx, src, reg.host+"/moe2:v1", fast()...)
	if err != nil || again.Digest != res.Digest {
		t.Errorf("second push of the same folder: %v, digest %s vs %s", err, again.Digest, res.Digest)
	}
	// Above a higher threshold every file is a layer of its own.
	flat, err := Push(ctx, src, reg.host+"/moe3:v1", fast(WithPackThreshold(10000))...)
	if err != nil || flat.PackedLayers != 0 || flat.Layers != len(files) {
		t.Errorf("unpacked push: %v %+v", err, flat)
	}
}

// checkTar reads a packed layer: gzip of a tar whose entries are sorted,
// inside root, with constant metadata and the folder's bytes.
func checkTar(t *testing.T, blob []byte, root string, files map[string][]byte, diffID string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(plain)); h.String() != diffID {
		t.Errorf("%s: tar digest %s, annotation says %s", root, h, diffID)
	}
	tr := tar.NewReader(bytes.NewReader(plain))
	var names []string
	nfiles := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !strings.HasPrefix(h.Name, root+"/") || h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 || h.Uname != "" {
			t.Errorf("%s: entry %s uid %d gid %d mtime %v", root, h.Name, h.Uid, h.Gid, h.ModTime)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if h.Mode != 0o755 {
				t.Errorf("%s: mode %o", h.Name, h.Mode)
			}
		case tar.TypeReg:
			nfiles++
			b, _ := io.ReadAll(tr)
			if h.Mode != 0o644 || !bytes.Equal(b, files[h.Name]) {
				t.Errorf("%s: mode %o, content differs from the folder", h.Name, h.Mode)
			}
		default:
			t.Errorf("%s: type %c", h.Name, h.Typeflag)
		}
	}
	if !sort.StringsAreSorted(names) || nfiles == 0 {
		t.Errorf("%s: entries %v not sorted or no files", root, names)
	}
}

func TestInspectReadsNoWeights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testmodel.Tiny
	s.Verify = testReport
	src := writeModel(t, s)
	reg := newTestRegistry(t)
	res, err := Push(ctx, src, reg.host+"/m:v1", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	reg.count("", "", true)
	sum, err := Inspect(ctx, reg.host+"/m:v1", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.count("GET", "/blobs/", false); n != 1 {
		t.Errorf("Inspect made %d blob GETs, want 1 (the config)", n)
	}
	if n := reg.count("HEAD", "/blobs/", false); n != 0 {
		t.Errorf("Inspect made %d blob HEADs", n)
	}
	q := sum.Quality
	if sum.Digest != res.Digest || sum.Architecture != "llama" || sum.Quantization != "int4-sym-g32-rtn" || sum.Params <= 0 ||
		len(sum.Layers) != res.Layers || sum.Size <= 0 || q == nil || q.Pass == nil || !*q.Pass ||
		q.MeanKLD == nil || *q.MeanKLD != 0.0123 || q.Top1Agreement == nil || *q.Top1Agreement != 0.975 || q.Reference != "hf-transformers-fp32" {
		t.Errorf("summary %+v, quality %+v", sum, q)
	}

	// A model pushed without verify.json has no quality.
	plain := writeModel(t, testmodel.Tiny)
	if _, err := Push(ctx, plain, reg.host+"/plain:v1", fast()...); err != nil {
		t.Fatal(err)
	}
	if sum, err := Inspect(ctx, reg.host+"/plain:v1", fast()...); err != nil || sum.Quality != nil {
		t.Errorf("unverified model: %v, quality %+v", err, sum.Quality)
	}
}

func TestPartialReport(t *testing.T) {
	t.Parallel()
	src := writeModel(t, testmodel.Tiny)
	// Only some fields, and a reference given as a plain string.
	report := `{"pass": false, "reference": "stories260k.bin", "extra": [1, 2]}`
	if err := os.WriteFile(filepath.Join(src, symb.ReportFile), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := newTestRegistry(t)
	if _, err := Push(context.Background(), src, reg.host+"/m:v1", fast()...); err != nil {
		t.Fatal(err)
	}
	sum, err := Inspect(context.Background(), reg.host+"/m:v1", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	q := sum.Quality
	if q == nil || q.Pass == nil || *q.Pass || q.MeanKLD != nil || q.Top1Agreement != nil || q.Reference != "stories260k.bin" || q.ToolVersion != "" {
		t.Errorf("quality %+v", q)
	}
	if err := os.WriteFile(filepath.Join(src, symb.ReportFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(context.Background(), src, reg.host+"/m:v2", fast()...); err == nil || !strings.Contains(err.Error(), "verify.json") {
		t.Errorf("push with a broken verify.json: %v", err)
	}
}

func TestPlainHTTPGuard(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "127.8.0.1": true, "::1": true,
		"192.168.1.10": false, "10.0.0.1": false, "registry.local": false, "example.com": false} {
		if isLoopback(host) != want {
			t.Errorf("isLoopback(%q) = %v", host, !want)
		}
	}
	ctx := context.Background()
	src := writeModel(t, testmodel.Tiny)
	reg := newTestRegistry(t)
	// A private address, which go-containerregistry would reach over HTTP
	// unasked; every connection goes to the test registry.
	dial := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, reg.host)
	}}
	ref := "192.168.77.1:5000/m:v1"
	_, err := Push(ctx, src, ref, fast(WithTransport(dial))...)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("push over HTTP to a private address without --plain-http: %v", err)
	}
	if _, err := Push(ctx, src, ref, fast(WithTransport(dial), WithPlainHTTP(true))...); err != nil {
		t.Errorf("with plain HTTP allowed: %v", err)
	}
}

// testdata/verify.json is what `symbc verify --save` wrote for stories260k:
// the metrics sit in numerics.overall.
func TestVerifyReportOfSymbcVerify(t *testing.T) {
	t.Parallel()
	a, err := verifyAnnotations(filepath.Join("testdata", "verify.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		AnnotationVerifyPass: "true", AnnotationVerifyKLD: "0.036390556544597434", AnnotationVerifyTop1: "1",
		AnnotationVerifyRef: "reference.safetensors", AnnotationVerifyTool: "(devel)",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
	if len(a) != len(want) {
		t.Errorf("annotations %v", a)
	}
}

func TestPushRefusesInconsistentFolder(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	for _, tc := range []struct {
		name, want string
		change     func(dir string) error
	}{
		{"extra file", "stray.bin is not listed in manifest.json", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "stray.bin"), []byte("x"), 0o644)
		}},
		{"missing file", "listed in manifest.json but missing", func(dir string) error {
			return os.Remove(filepath.Join(dir, "final_norm.symb"))
		}},
		{"changed file", "does not match the manifest", func(dir string) error {
			p := filepath.Join(dir, "layers", "layer_00", "attn_q.symb")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)-1] ^= 0xff
			return os.WriteFile(p, b, 0o644)
		}},
		{"no manifest", "no manifest.json", func(dir string) error { return os.Remove(filepath.Join(dir, symb.ManifestFile)) }},
		{"no config", "not a .symb model folder", func(dir string) error { return os.Remove(filepath.Join(dir, symb.ConfigFile)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModel(t, testmodel.Tiny)
			if err := tc.change(dir); err != nil {
				t.Fatal(err)
			}
			reg.count("", "", true)
			_, err := Push(context.Background(), dir, reg.host+"/m:v1", fast()...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if n := reg.count("", "/v2/m/", false); n != 0 {
				t.Errorf("%d requests reached the registry before the folder was checked", n)
			}
		})
	}
}

// TestNegativeJobs: WithJobs(-1) is an error (it was clamped to 1) before
// any request.
func TestNegativeJobs(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		func() error {
			_, err := Push(context.Background(), t.TempDir(), "localhost:1/a/b:c", WithJobs(-1))
			return err
		}(),
		func() error {
			_, err := Pull(context.Background(), "localhost:1/a/b:c", t.TempDir(), WithJobs(-1))
			return err
		}(),
	} {
		if err == nil || !strings.Contains(err.Error(), "jobs is -1") {
			t.Errorf("WithJobs(-1): %v", err)
		}
	}
}
