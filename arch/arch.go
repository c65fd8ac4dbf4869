// Package arch knows the Hugging Face model families: how a config.json
// becomes symb hyperparameters and how a checkpoint's tensors become the
// tensors of a .symb model folder.
//
// Where to start: families.go lists the families; an Adapter per family
// (qwen3.go is the shape to follow) turns an HFConfig into a
// symb.ModelConfig (Config) and lists Mappings (Tensors). A Mapping names one
// output tensor, its symb.Role, the source tensors it is built from with
// the shapes config.json implies, and an optional Transform (row slice of a
// fused tensor, transpose, row permutation, block-scale dequantization). The
// converter checks every source against the checkpoint's headers before it
// writes anything, then streams rows through the transforms.
//
// Family names live only here; everything downstream branches on the
// features recorded in symb.ModelConfig.
package arch

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/symbc/symbc/symb"
)

// Adapter converts one model family.
type Adapter interface {
	// Name is the short family name recorded in config.symb.json ("llama").
	Name() string
	// Config derives and checks the hyperparameters.
	Config(hf *HFConfig) (symb.ModelConfig, error)
	// Tensors lists every output tensor for a config returned by Config.
	Tensors(cfg symb.ModelConfig) ([]Mapping, error)
}

// Mapping describes one output tensor.
type Mapping struct {
	Name    string    // symb tensor name, e.g. symb.LayerTensor(3, symb.AttnQ)
	Role    symb.Role // picks the storage type through quantize.Policy
	Shape   []int     // output shape
	Sources []Source  // checkpoint tensors read, in the order Transform expects
	// Transform builds the output from the sources; nil means Sources[0]
	// unchanged (same shape).
	Transform Transform
}

// Source is a checkpoint tensor with the shape config.json implies.
type Source struct {
	Name  string
	Shape []int
}

// Rows and Cols of a mapping's output: rows are all dimensions but the last.
func (m Mapping) Rows() int {
	r := 1
	for _, d := range m.Shape[:len(m.Shape)-1] {
		r *= d
	}
	return r
}

// Cols is the last dimension of the output.
func (m Mapping) Cols() int { return m.Shape[len(m.Shape)-1] }

// ErrUnsupported reports an architecture, or a variant of one, that no
// adapter handles.
var ErrUnsupported = errors.New("unsupported architecture")

// Ignored reports whether a checkpoint tensor that no mapping reads may be
// left out without losing anything: rotary tables that transformers
// recomputes, lm_head.weight of a tied model (some checkpoints store the
// duplicate), and the multi-token-prediction layers that DeepSeek-V3
// checkpoints append after the last decoder layer (model.layers.N with N ≥
// num_layers), which transformers does not load either and which only
// speculative decoding uses. Any other unused tensor is an error in the
// converter, because dropping weights silently would produce a model that
// runs but is wrong.
func Ignored(cfg symb.ModelConfig, name string) bool {
	if strings.HasSuffix(name, "rotary_emb.inv_freq") {
		return true
	}
	if cfg.MLA != nil {
		var n int
		if _, err := fmt.Sscanf(name, "model.layers.%d.", &n); err == nil && n >= cfg.NumLayers {
			return true
		}
	}
	return cfg.TieEmbeddings && name == "lm_head.weight"
}

// Check verifies a mapping list: unique names, positive shapes, sources
// present, identity mappings shape-preserving. Adapters' tests run it, and
// so does the converter before it trusts a list.
func Check(ms []Mapping) error {
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if err := symb.CheckRelPath(m.Name); err != nil {
			return fmt.Errorf("mapping %q: %w", m.Name, err)
		}
		if seen[m.Name] {
			return fmt.Errorf("mapping %q listed twice", m.Name)
		}
		seen[m.Name] = true
		if len(m.Shape) == 0 || len(m.Shape) > symb.MaxRank || slices.ContainsFunc(m.Shape, func(d int) bool { return d < 1 }) {
			return fmt.Errorf("mapping %q: bad output shape %v", m.Name, m.Shape)
		}
		if len(m.Sources) == 0 {
			return fmt.Errorf("mapping %q: no sources", m.Name)
		}
		if m.Transform == nil && (len(m.Sources) != 1 || !slices.Equal(m.Sources[0].Shape, m.Shape)) {
			return fmt.Errorf("mapping %q: no transform, but sources %v do not match output shape %v", m.Name, m.Sources, m.Shape)
		}
	}
	return nil
}
