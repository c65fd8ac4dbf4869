package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/symbc/symbc/internal/testmodel"
	"github.com/symbc/symbc/symb"
)

// schemaCheck validates v (decoded JSON) against a JSON schema node: the
// keywords the ModelPack config schema uses (type, properties, required,
// additionalProperties, items, enum, minItems, minLength, minimum, pattern
// and local $ref), each of which fails loudly when the schema uses one this
// checker does not know, so that a newer schema cannot pass by being ignored.
func schemaCheck(root, node map[string]any, v any, path string) []string {
	if ref, ok := node["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := root["$defs"].(map[string]any)
		target, found := defs[name].(map[string]any)
		if !ok || !found {
			return []string{path + ": unresolvable $ref " + ref}
		}
		return schemaCheck(root, target, v, path)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for k := range node {
		switch k {
		case "type", "properties", "required", "additionalProperties", "items", "enum", "minItems",
			"minLength", "minimum", "pattern", "format", "description", "$schema", "$id", "$defs":
		default:
			fail("schema keyword %q is not supported by this checker", k)
		}
	}
	switch node["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %T", v)
			return errs
		}
		props, _ := node["properties"].(map[string]any)
		required, _ := node["required"].([]any)
		for _, r := range required {
			if _, ok := obj[r.(string)]; !ok {
				fail("required %q missing", r)
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := props[k].(map[string]any)
			if !ok {
				if node["additionalProperties"] == false {
					fail("property %q is not allowed", k)
				}
				continue
			}
			errs = append(errs, schemaCheck(root, sub, obj[k], path+"."+k)...)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			fail("want an array, got %T", v)
			return errs
		}
		if n, ok := node["minItems"].(float64); ok && float64(len(arr)) < n {
			fail("%d items, want at least %v", len(arr), n)
		}
		if items, ok := node["items"].(map[string]any); ok {
			for i, x := range arr {
				errs = append(errs, schemaCheck(root, items, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			fail("want a string, got %T", v)
			return errs
		}
		if n, ok := node["minLength"].(float64); ok && float64(len(s)) < n {
			fail("%q shorter than %v", s, n)
		}
		if p, ok := node["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			fail("%q does not match %s", s, p)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			fail("want an integer, got %v", v)
		} else if m, ok := node["minimum"].(float64); ok && f < m {
			fail("%v below %v", f, m)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %T", v)
		}
	default:
		fail("schema type %v is not supported by this checker", node["type"])
	}
	if enum, ok := node["enum"].([]any); ok && !slices.Contains(enum, v) {
		fail("%v is not one of %v", v, enum)
	}
	return errs
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "modelpack", "config-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// The checker itself rejects what the schema forbids.
func TestSchemaCheckerRejects(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	for name, doc := range map[string]string{
		"extra field":     `{"descriptor":{},"config":{"int4":true},"modelfs":{"type":"layers","diffIds":["sha256:0"]}}`,
		"missing modelfs": `{"descriptor":{},"config":{}}`,
		"bad fs type":     `{"descriptor":{},"config":{},"modelfs":{"type":"tar","diffIds":["x"]}}`,
		"no diffIds":      `{"descriptor":{},"config":{},"modelfs":{"type":"layers","diffIds":[]}}`,
		"licenses string": `{"descriptor":{"licenses":"MIT"},"config":{},"modelfs":{"type":"layers","diffIds":["x"]}}`,
		"empty name":      `{"descriptor":{"name":""},"config":{},"modelfs":{"type":"layers","diffIds":["x"]}}`,
		"bad language":    `{"descriptor":{},"config":{"capabilities":{"languages":["eng"]}},"modelfs":{"type":"layers","diffIds":["x"]}}`,
		"zero layers":     `{"descriptor":{},"config":{"transformerConfig":{"numLayers":0}},"modelfs":{"type":"layers","diffIds":["x"]}}`,
	} {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		if errs := schemaCheck(s, s, v, "$"); len(errs) == 0 {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
}

// modelWithDocs is the tiny test model with a model card and a licence, as
// convert copies them from a Hub source.
func modelWithDocs(t *testing.T, card, licence string) string {
	t.Helper()
	dir := writeModel(t, testmodel.Tiny)
	for name, text := range map[string]string{"README.md": card, "LICENSE": licence} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := symb.BuildManifest(context.Background(), dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

const testCard = `---
language:
- en
license: llama3.2
tags: [llama]
---

# Tiny

![logo](logo.png)

The **Tiny** model is a [Llama](https://llama.com) for tests,
small enough to push in a blink.

## Use
`

func TestConfigMatchesModelPackSchema(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	dir := modelWithDocs(t, testCard, "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\n")
	res, err := Push(context.Background(), dir, reg.host+"/m:v1", fast()...)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Config      v1.Descriptor     `json:"config"`
		Layers      []v1.Descriptor   `json:"layers"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(fetchRaw(t, reg.host, "m", "manifests", res.Digest), &m); err != nil {
		t.Fatal(err)
	}
	raw := fetchRaw(t, reg.host, "m", "blobs", m.Config.Digest.String())
	var cfg any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	s := loadSchema(t)
	for _, e := range schemaCheck(s, s, cfg, "$") {
		t.Errorf("config against the ModelPack schema: %s", e)
	}

	var mc modelConfig
	if err := json.Unmarshal(raw, &mc); err != nil {
		t.Fatal(err)
	}
	d := mc.Descriptor
	wantDesc := "The Tiny model is a Llama for tests, small enough to push in a blink."
	if !slices.Equal(d.Licenses, []string{"llama3.2"}) || d.Description != wantDesc ||
		d.DocURL != "https://huggingface.co/symbc-test/random-llama" ||
		d.SourceURL != "https://huggingface.co/symbc-test/random-llama/tree/0000000" {
		t.Errorf("descriptor %+v", d)
	}
	if mc.Config.Precision != "mixed" {
		t.Errorf("precision %q, want the spec's \"mixed\" for int4 weights with float norms", mc.Config.Precision)
	}
	for k, v := range map[string]string{
		AnnotationImageLicenses:    "llama3.2",
		AnnotationImageDescription: wantDesc,
		AnnotationImageSource:      d.SourceURL,
		AnnotationImageRevision:    "0000000",
	} {
		if m.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], v)
		}
	}
	for _, l := range m.Layers {
		if title := l.Annotations[AnnotationTitle]; (title == "LICENSE" || title == "README.md") && l.MediaType != MediaTypeDoc {
			t.Errorf("%s is a %s layer, want %s", title, l.MediaType, MediaTypeDoc)
		}
	}
}

func TestProvenanceFallbacks(t *testing.T) {
	t.Parallel()
	cfg := &symb.Config{Source: symb.Source{Path: "/src/m"}}
	for name, c := range map[string]struct {
		card, licence string
		want          []string
		desc          string
	}{
		"list in the card": {"---\nlicense:\n  - apache-2.0\n  - 'cc-by-4.0'\n---\nText.\n", "", []string{"apache-2.0", "cc-by-4.0"}, "Text."},
		"flow list":        {"---\nlicense: [mit, \"other\"]\n---\n", "", []string{"mit", "other"}, ""},
		"apache text":      {"# Card\n\nNo metadata.\n", "\n                                 Apache License\n                           Version 2.0, January 2004\n", []string{"Apache-2.0"}, "No metadata."},
		"mit text":         {"", "MIT License\n\nCopyright (c) 2023 Andrej\n", []string{"MIT"}, ""},
		"unknown text":     {"", "Some custom terms\n", nil, ""},
		"unclosed matter":  {"---\nlicense: mit\n", "", nil, "license: mit"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "README.md"), []byte(c.card), 0o644)
		os.WriteFile(filepath.Join(dir, "LICENSE"), []byte(c.licence), 0o644)
		p := readProvenance(dir, cfg)
		if !slices.Equal(p.licenses, c.want) || p.description != c.desc || p.sourceURL != "" || p.docURL != "" {
			t.Errorf("%s: %+v, want licences %v, description %q and no URLs for a local source", name, p, c.want, c.desc)
		}
	}
	long := "---\nlicense: mit\n---\n" + strings.Repeat("word ", 500)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "README.md"), []byte(long), 0o644)
	if p := readProvenance(dir, cfg); len(p.description) > maxDescription || !strings.HasSuffix(p.description, "...") {
		t.Errorf("a long first paragraph gives %d bytes", len(p.description))
	}
}
