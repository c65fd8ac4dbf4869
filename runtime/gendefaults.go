package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// GenerationDefaults are the sampling settings a model's
// generation_config.json recommends (convert copies the file into the
// folder's tokenizer/). nil fields are not set there. Servers apply them
// to requests that leave the field out, as vLLM does.
type GenerationDefaults struct {
	Temperature       *float64 `json:"temperature,omitempty"`
	TopP              *float64 `json:"top_p,omitempty"`
	TopK              *int     `json:"top_k,omitempty"`
	MinP              *float64 `json:"min_p,omitempty"`
	RepetitionPenalty *float64 `json:"repetition_penalty,omitempty"`
}

// ReadGenerationDefaults reads the sampling settings of the model folder
// dir's tokenizer/generation_config.json; a missing file gives none. A
// value outside its range is an error naming the file and the field.
func ReadGenerationDefaults(dir string) (GenerationDefaults, error) {
	var d GenerationDefaults
	p := filepath.Join(dir, "tokenizer", "generation_config.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s: %w", p, err)
	}
	bad := func(field string, v float64, want string) error {
		return fmt.Errorf("%s: %s is %g, want %s", p, field, v, want)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case d.Temperature != nil && !(*d.Temperature >= 0 && finite(*d.Temperature)):
		return d, bad("temperature", *d.Temperature, "a number ≥ 0")
	case d.TopP != nil && !(*d.TopP >= 0 && *d.TopP <= 1):
		return d, bad("top_p", *d.TopP, "a number in [0, 1]")
	case d.MinP != nil && !(*d.MinP >= 0 && *d.MinP <= 1):
		return d, bad("min_p", *d.MinP, "a number in [0, 1]")
	case d.RepetitionPenalty != nil && !(*d.RepetitionPenalty > 0 && finite(*d.RepetitionPenalty)):
		return d, bad("repetition_penalty", *d.RepetitionPenalty, "a number > 0")
	case d.TopK != nil && *d.TopK < 0:
		return d, bad("top_k", float64(*d.TopK), "an integer ≥ 0")
	}
	return d, nil
}
