package symb

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/internal/fileio"
)

// GenerationFile is the Hugging Face file a source model recommends its
// sampling settings in; converters copy it into tokenizer/ unchanged.
const GenerationFile = "generation_config.json"

// Generation holds the sampling settings a model's authors recommend,
// config.symb.json's "generation" (FORMAT.md §5). The field names are those
// of Hugging Face's generation_config.json, from which converters take them.
// A nil field is not set; servers apply the set ones to requests that leave
// the setting out, as vLLM does.
type Generation struct {
	Temperature       *float64 `json:"temperature,omitempty"`
	TopP              *float64 `json:"top_p,omitempty"`
	TopK              *int     `json:"top_k,omitempty"`
	MinP              *float64 `json:"min_p,omitempty"`
	RepetitionPenalty *float64 `json:"repetition_penalty,omitempty"`
}

// IsZero reports whether g sets nothing.
func (g *Generation) IsZero() bool {
	return g == nil || *g == Generation{}
}

// Validate checks every set field's range. Errors name the field and wrap
// ErrCorrupt.
func (g *Generation) Validate() error {
	if g == nil {
		return nil
	}
	bad := func(field string, v float64, want string) error {
		return fmt.Errorf("%s is %g, want %s: %w", field, v, want, ErrCorrupt)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case g.Temperature != nil && !(*g.Temperature >= 0 && finite(*g.Temperature)):
		return bad("temperature", *g.Temperature, "a number ≥ 0")
	case g.TopP != nil && !(*g.TopP >= 0 && *g.TopP <= 1):
		return bad("top_p", *g.TopP, "a number in [0, 1]")
	case g.MinP != nil && !(*g.MinP >= 0 && *g.MinP <= 1):
		return bad("min_p", *g.MinP, "a number in [0, 1]")
	case g.RepetitionPenalty != nil && !(*g.RepetitionPenalty > 0 && finite(*g.RepetitionPenalty)):
		return bad("repetition_penalty", *g.RepetitionPenalty, "a number > 0")
	case g.TopK != nil && *g.TopK < 0:
		return bad("top_k", float64(*g.TopK), "an integer ≥ 0")
	}
	return nil
}

// maxGenerationBytes bounds a generation_config.json.
const maxGenerationBytes = 1 << 20

// ReadGenerationFile reads the sampling settings of a Hugging Face
// generation_config.json at path (other fields are ignored) and checks
// them. A missing file gives nil and an error wrapping os.ErrNotExist; a
// file that sets none of them gives nil. Errors name the file.
func ReadGenerationFile(path string) (*Generation, error) {
	b, err := fileio.ReadLimited(path, maxGenerationBytes)
	if err != nil {
		return nil, err
	}
	var g Generation
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if g.IsZero() {
		return nil, nil
	}
	return &g, nil
}

// ReadGeneration gives the sampling settings of the model folder dir whose
// config is c: c.Generation when set. A folder written before that field
// existed (FORMAT.md §5) has them only in tokenizer/generation_config.json,
// which is read instead; without that file there are none (the zero value).
func ReadGeneration(dir string, c *Config) (Generation, error) {
	if c.Generation != nil {
		return *c.Generation, nil
	}
	g, err := ReadGenerationFile(filepath.Join(dir, "tokenizer", GenerationFile))
	if g == nil || err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		return Generation{}, err
	}
	return *g, nil
}
