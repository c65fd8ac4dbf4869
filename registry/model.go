package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/symbc/symbc/symb"
)

// modelConfig is the ModelPack model configuration
// (application/vnd.cncf.model.config.v1+json); its schema allows no other fields.
type modelConfig struct {
	Descriptor struct {
		Family      string   `json:"family,omitempty"`
		Name        string   `json:"name,omitempty"`
		Revision    string   `json:"revision,omitempty"`
		Description string   `json:"description,omitempty"`
		DocURL      string   `json:"docURL,omitempty"`
		SourceURL   string   `json:"sourceURL,omitempty"`
		Licenses    []string `json:"licenses,omitempty"`
	} `json:"descriptor"`
	Config struct {
		Architecture string `json:"architecture,omitempty"`
		Format       string `json:"format,omitempty"`
		ParamSize    string `json:"paramSize,omitempty"`
		Precision    string `json:"precision,omitempty"`
		Quantization string `json:"quantization,omitempty"`
	} `json:"config"`
	ModelFS struct {
		Type    string    `json:"type"`
		DiffIDs []v1.Hash `json:"diffIds"`
	} `json:"modelfs"`
}

// compose writes the ModelPack config and the OCI manifest that points at it.
func (a *artifact) compose(cfg *symb.Config, stats modelStats, annotations map[string]string) error {
	var mc modelConfig
	mc.Descriptor.Family = cfg.Architecture
	mc.Descriptor.Name = modelName(cfg, a.dir)
	mc.Descriptor.Revision = cfg.Source.Revision
	prov := readProvenance(a.dir, cfg)
	mc.Descriptor.Description, mc.Descriptor.DocURL, mc.Descriptor.SourceURL = prov.description, prov.docURL, prov.sourceURL
	mc.Descriptor.Licenses = prov.licenses
	for k, v := range prov.annotations() {
		annotations[k] = v
	}
	mc.Config.Architecture = "transformer"
	mc.Config.Format = "symb"
	mc.Config.ParamSize = paramSize(stats.params)
	mc.Config.Precision = precision(stats.dtypes)
	if q := quantization(cfg.Quantization); q != cfg.Quantization.Weights {
		mc.Config.Quantization = q
	}
	mc.ModelFS.Type = "layers"
	layers := make([]v1.Descriptor, len(a.layers))
	for i, l := range a.layers {
		mc.ModelFS.DiffIDs = append(mc.ModelFS.DiffIDs, l.diffID)
		layers[i] = l.desc
	}
	b, err := json.Marshal(&mc)
	if err != nil {
		return err
	}
	a.config = b
	h, size, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	a.configDesc = v1.Descriptor{MediaType: MediaTypeConfig, Size: size, Digest: h}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        a.configDesc,
		Layers:        layers,
		Annotations:   annotations,
	}
	if a.manifest, err = json.Marshal(&m); err != nil {
		return err
	}
	if len(a.manifest) > maxManifestBytes {
		return fmt.Errorf("%s: the manifest of %d layers would take %d bytes, more than the %d registries accept (pack layers with a lower threshold)",
			a.dir, len(layers), len(a.manifest), maxManifestBytes)
	}
	a.digest, _, err = v1.SHA256(bytes.NewReader(a.manifest))
	return err
}

// modelName prefers the Hub id, then the source folder's name, then the
// model folder's.
func modelName(cfg *symb.Config, dir string) string {
	switch {
	case cfg.Source.ID != "":
		return cfg.Source.ID
	case cfg.Source.Path != "":
		return filepath.Base(cfg.Source.Path)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return filepath.Base(abs)
	}
	return filepath.Base(dir)
}

// modelAnnotations names the model on the manifest, where registry UIs and
// `symbc inspect` see it without fetching any blob.
func modelAnnotations(cfg *symb.Config, stats modelStats) map[string]string {
	a := map[string]string{
		AnnotationFormatVersion: cfg.FormatVersion,
		AnnotationArchitecture:  cfg.Architecture,
		AnnotationParams:        strconv.FormatInt(stats.params, 10),
		AnnotationParamSize:     paramSize(stats.params),
		AnnotationQuantization:  quantization(cfg.Quantization),
	}
	src := cfg.Source.ID
	if src == "" && cfg.Source.Path != "" {
		src = filepath.Base(cfg.Source.Path) // a local path says nothing to others
	}
	if src != "" && cfg.Source.Revision != "" {
		src += "@" + cfg.Source.Revision
	}
	if src != "" {
		a[AnnotationSource] = src
	}
	if cfg.Tool.Name != "" || cfg.Tool.Version != "" {
		a[AnnotationTool] = strings.TrimSpace(cfg.Tool.Name + " " + cfg.Tool.Version)
	}
	for k, v := range a {
		if v == "" {
			delete(a, k)
		}
	}
	return a
}

// paramSize writes a parameter count the ModelPack way: a number with at
// most one decimal and a scale letter ("1.2B", "260K").
func paramSize(n int64) string {
	if n <= 0 {
		return ""
	}
	units := []struct {
		s string
		f float64
	}{{"K", 1e3}, {"M", 1e6}, {"B", 1e9}, {"T", 1e12}}
	for i, u := range units {
		v := float64(n) / u.f
		r := math.Round(v*10) / 10
		if v >= 100 {
			r = math.Round(v)
		}
		// 999,960 rounds to 1000K: that is 1M.
		if r < 1000 || i == len(units)-1 {
			return strings.TrimSuffix(strconv.FormatFloat(r, 'f', 1, 64), ".0") + u.s
		}
	}
	return ""
}

// precisionNames spell dtypes as the ModelPack spec's precision field does
// ("fp16", "bf16", "int8", ...); int4 is not among its values.
var precisionNames = map[symb.DType]string{
	symb.INT8: "int8", symb.F16: "fp16", symb.BF16: "bf16", symb.F32: "fp32",
}

// precision is the spec's name of the one dtype of every tensor file, or
// "mixed" (a quantized model keeps norms in float; int4 is always mixed).
func precision(ds []symb.DType) string {
	if len(ds) == 1 && precisionNames[ds[0]] != "" {
		return precisionNames[ds[0]]
	}
	if len(ds) == 0 {
		return ""
	}
	return "mixed"
}

// quantization reads "int4-sym-g32-rtn" for quantized weights and the dtype
// alone for float weights.
func quantization(q symb.Quantization) string {
	parts := []string{q.Weights}
	if q.Scheme != "" {
		parts = append(parts, q.Scheme)
	}
	if q.GroupSize > 0 {
		parts = append(parts, "g"+strconv.Itoa(q.GroupSize))
	}
	if q.Method != "" {
		parts = append(parts, q.Method)
	}
	return strings.Join(parts, "-")
}

// verifyAnnotations summarises verify.json through symb.VerifySummary, the
// fields FORMAT.md §6 lets other tools read (pass, tool_version, reference,
// and mean_kld and top1_agreement of "overall", at the top or inside
// "numerics"), skipping any that are absent.
func verifyAnnotations(p string) (map[string]string, error) {
	r, err := symb.ReadVerifySummary(p)
	if err != nil {
		return nil, err
	}
	a := map[string]string{}
	if r.Pass != nil {
		a[AnnotationVerifyPass] = strconv.FormatBool(*r.Pass)
	}
	if o := r.Metrics(); o != nil && o.MeanKLD != nil {
		a[AnnotationVerifyKLD] = strconv.FormatFloat(*o.MeanKLD, 'g', -1, 64)
	}
	if o := r.Metrics(); o != nil && o.Top1Agreement != nil {
		a[AnnotationVerifyTop1] = strconv.FormatFloat(*o.Top1Agreement, 'g', -1, 64)
	}
	if s := jsonText(r.Reference); s != "" {
		a[AnnotationVerifyRef] = s
	}
	if s := jsonText(r.ToolVersion); s != "" {
		a[AnnotationVerifyTool] = s
	}
	return a, nil
}

// jsonText turns a JSON value into a short annotation: a string as itself,
// an object by its "id", "name", "source" or "path" when it has one, any other
// value as compact JSON; cut at 256 bytes.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if filepath.IsAbs(s) {
			s = filepath.Base(s) // a local path says nothing to others
		}
		return clip(s)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for _, k := range []string{"id", "name", "source", "path"} {
			if json.Unmarshal(obj[k], &s) == nil && s != "" {
				return clip(s)
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return ""
	}
	return clip(buf.String())
}

func clip(s string) string {
	const n = 256
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
