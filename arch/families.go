package arch

import (
	"fmt"
	"sort"
	"strings"
)

// This file is the list of families: which adapter converts which Hugging
// Face architecture. Adding a family is one file for its adapter and one
// line here.

// registry maps Hugging Face architecture class names and model_type values
// to adapters. It is built by a function, not held in a mutable global.
func registry() map[string]Adapter {
	reg := map[string]Adapter{}
	for _, f := range []struct {
		class string
		a     Adapter
	}{
		{"LlamaForCausalLM", Llama{}},
		{"Qwen2ForCausalLM", Qwen2{}},
		{"Qwen3ForCausalLM", Qwen3{}},
		{"MistralForCausalLM", Mistral{}},
		{"MixtralForCausalLM", Mixtral{}},
		{"Phi3ForCausalLM", Phi3{}},
		{"GemmaForCausalLM", Gemma{}},
		{"Gemma2ForCausalLM", Gemma2{}},
		{"DeepseekV3ForCausalLM", DeepseekV3{}},
		{"DbrxForCausalLM", DBRX{}},
	} {
		// Each adapter's name is the family's model_type.
		reg[f.class], reg[f.a.Name()] = f.a, f.a
	}
	return reg
}

// Supported lists the architecture class names with an adapter, sorted.
func Supported() []string {
	var out []string
	for k := range registry() {
		if strings.Contains(k, "For") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Lookup finds the adapter for an architecture class name
// ("LlamaForCausalLM"), a model_type ("llama") or an adapter name.
func Lookup(name string) (Adapter, error) {
	if a, ok := registry()[name]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("%w %q (supported: %s)", ErrUnsupported, name, strings.Join(Supported(), ", "))
}

// Detect picks the adapter for a config: the first of its architectures
// that has one, else its model_type.
func Detect(hf *HFConfig) (Adapter, error) {
	reg := registry()
	for _, a := range hf.Architectures {
		if ad, ok := reg[a]; ok {
			return ad, nil
		}
	}
	if ad, ok := reg[hf.ModelType]; ok && hf.ModelType != "" {
		return ad, nil
	}
	what := strings.Join(hf.Architectures, ", ")
	if what == "" {
		what = "model_type " + hf.ModelType
	}
	if what == "model_type " {
		what = "no architectures or model_type"
	}
	return nil, fmt.Errorf("%s: %w %s (supported: %s)", hf.Path, ErrUnsupported, what, strings.Join(Supported(), ", "))
}
