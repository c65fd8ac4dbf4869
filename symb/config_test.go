package symb

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func intPtr(v int) *int { return &v }

// llamaConfig is a complete config of a small Llama-style model.
func llamaConfig() *Config {
	return &Config{
		Architecture: "llama",
		Model: ModelConfig{
			VocabSize: 512, HiddenSize: 64, IntermediateSize: 172, NumLayers: 2,
			NumHeads: 8, NumKVHeads: 4, HeadDim: 8, MaxPositions: 256,
			Norm: "rmsnorm", NormEps: 1e-5, Activation: "silu", RopeTheta: 10000,
			RopeScaling:   &RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
			TieEmbeddings: true, BOSTokenID: intPtr(1), EOSTokenIDs: []int{2},
		},
		Quantization: Quantization{Weights: "int4", Scheme: "sym", GroupSize: 32, Method: "rtn", Embeddings: "f16", Norms: "f32"},
		Source:       Source{ID: "org/tiny-llama", Revision: "abc", Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama", DType: "bf16"},
		Tool:         Tool{Name: "symbc", Version: "test"},
	}
}

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := llamaConfig()
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	if c.Format != "symb" || c.FormatVersion != "1.1" {
		t.Errorf("defaults not filled: %q %q", c.Format, c.FormatVersion)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(raw, []byte("}\n")) || !bytes.Contains(raw, []byte("\n  \"model\": {")) {
		t.Errorf("config is not indented JSON with a trailing newline:\n%s", raw)
	}
	got, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
}

func TestReadConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := ReadConfig(dir); !errors.Is(err, ErrNotSymb) || !strings.Contains(err.Error(), "not a .symb model folder") {
		t.Errorf("missing config: %v", err)
	}
	p := filepath.Join(dir, ConfigFile)
	os.WriteFile(p, []byte("{not json"), 0o644)
	if _, err := ReadConfig(dir); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("bad JSON: %v", err)
	}
	os.WriteFile(p, []byte(`{"format":"symb","format_version":"2.0","model":{}}`), 0o644)
	if _, err := ReadConfig(dir); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2.0: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := map[string]func(c *Config){
		"format":              func(c *Config) { c.Format = "gguf" },
		"version text":        func(c *Config) { c.FormatVersion = "one" },
		"vocab 0":             func(c *Config) { c.Model.VocabSize = 0 },
		"hidden negative":     func(c *Config) { c.Model.HiddenSize = -64 },
		"layers huge":         func(c *Config) { c.Model.NumLayers = 1 << 30 },
		"heads 0":             func(c *Config) { c.Model.NumHeads = 0 },
		"kv heads 0":          func(c *Config) { c.Model.NumKVHeads = 0 },
		"heads not multiple":  func(c *Config) { c.Model.NumKVHeads = 3 },
		"head dim 0":          func(c *Config) { c.Model.HeadDim = 0 },
		"intermediate < 0":    func(c *Config) { c.Model.IntermediateSize = -1 },
		"moe no experts":      func(c *Config) { c.Model.MoE = &MoE{TopK: 1, ExpertIntermediate: 8} },
		"moe top_k > experts": func(c *Config) { c.Model.MoE = &MoE{NumExperts: 2, TopK: 3, ExpertIntermediate: 8} },
		"moe experts huge":    func(c *Config) { c.Model.MoE = &MoE{NumExperts: 1 << 20, TopK: 1, ExpertIntermediate: 8} },
		"moe inter 0":         func(c *Config) { c.Model.MoE = &MoE{NumExperts: 4, TopK: 2} },
		"moe dense > layers": func(c *Config) {
			c.Model.MoE = &MoE{NumExperts: 4, TopK: 2, ExpertIntermediate: 8, FirstDenseLayers: 3}
		},
		"mla kv rank 0": func(c *Config) { c.Model.MLA = &MLA{QKRopeHeadDim: 4, VHeadDim: 8} },
		"mla rope 0":    func(c *Config) { c.Model.MLA = &MLA{KVLoraRank: 16, VHeadDim: 8} },
	}
	for name, mut := range cases {
		c := llamaConfig()
		c.Format, c.FormatVersion = "symb", "1.0"
		mut(c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: validated", name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotSymb) && !errors.Is(err, ErrVersion) {
			t.Errorf("%s: %v wraps no sentinel", name, err)
		}
		if err := WriteConfig(t.TempDir(), c); err == nil {
			t.Errorf("%s: WriteConfig accepted it", name)
		}
	}
	ok := llamaConfig()
	ok.Format, ok.FormatVersion = "symb", "1.7" // a later minor version stays readable
	ok.Model.MoE = &MoE{NumExperts: 4, TopK: 2, ExpertIntermediate: 8, FirstDenseLayers: 2}
	ok.Model.MLA = &MLA{KVLoraRank: 16, QKRopeHeadDim: 4, VHeadDim: 8}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}

// formatDoc is the spec, which these tests hold to the code.
func formatDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "FORMAT.md"))
	if err != nil {
		t.Fatalf("docs/FORMAT.md: %v", err)
	}
	return string(b)
}

// TestFormatDocConfigExample decodes the config example of FORMAT.md §5
// strictly: it must use only fields that exist and pass Validate.
func TestFormatDocConfigExample(t *testing.T) {
	t.Parallel()
	doc := formatDoc(t)
	i := strings.Index(doc, "## 5.")
	if i < 0 {
		t.Fatal("FORMAT.md has no section 5")
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(doc[i:])
	if m == nil {
		t.Fatal("FORMAT.md §5 has no json example")
	}
	dec := json.NewDecoder(strings.NewReader(m[1]))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("FORMAT.md §5 example: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("FORMAT.md §5 example: %v", err)
	}
}

// TestFormatDocNamesEveryField checks that FORMAT.md documents every JSON
// field of Config and Manifest, so that the spec cannot fall behind the code.
func TestFormatDocNamesEveryField(t *testing.T) {
	t.Parallel()
	doc := formatDoc(t)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			// Documented as `name` or as a dotted path such as `source.id`.
			if name != "" && !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "."+name+"`") {
				t.Errorf("FORMAT.md does not document %s.%s (`%s`)", typ.Name(), f.Name, name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Config{}))
	walk(reflect.TypeOf(Manifest{}))
	for _, name := range []string{Embeddings, FinalNorm, LMHead, AttnQ, AttnK, AttnV, AttnO, MLPGate, MLPUp, MLPDown,
		NormAttn, NormMLP, AttnQBias, AttnKBias, AttnVBias, AttnOBias, AttnQNorm, AttnKNorm, NormAttnPost, NormMLPPost,
		MoERouter, MoERouterBias, SharedGate, SharedUp, SharedDown, AttnQA, AttnQANorm, AttnQB, AttnKVA, AttnKVANorm, AttnKVB,
		ConfigFile, ManifestFile, ReportFile} {
		if !strings.Contains(doc, "`"+name) {
			t.Errorf("FORMAT.md does not name %q", name)
		}
	}
}
