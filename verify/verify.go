package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/convert/hub"
	"github.com/symbc/symbc/symb"
)

// Report is everything `symbc verify` found: integrity always, numerics when
// a reference or the source model was available. It is what --save writes to
// verify.json, so it travels with the model.
type Report struct {
	Pass         bool              `json:"pass"`
	Model        string            `json:"model"`
	Time         string            `json:"time"`
	ToolVersion  string            `json:"tool_version,omitempty"`
	Quantization symb.Quantization `json:"quantization"`
	Source       symb.Source       `json:"source"`
	Reference    string            `json:"reference,omitempty"` // what the logits were compared with
	Integrity    *IntegrityReport  `json:"integrity"`
	Numerics     *NumericsReport   `json:"numerics,omitempty"`
	Overall      *Metrics          `json:"overall,omitempty"`       // Numerics.Overall, for quick reading
	NumericsNote string            `json:"numerics_note,omitempty"` // why numerics did not run
}

// Verify checks the model folder dir: integrity first (a damaged folder is
// not run), then numerics against the references and/or source given in
// opts, or the source recorded in config.symb.json when it is available
// locally (a folder, or a Hub id in the Hugging Face cache). With nothing to
// compare against, only integrity decides and NumericsNote says so.
func Verify(ctx context.Context, dir string, opts ...Option) (*Report, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := symb.ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Model: filepath.Base(filepath.Clean(dir)), Time: time.Now().UTC().Format(time.RFC3339), ToolVersion: o.toolVersion,
		Quantization: cfg.Quantization, Source: cfg.Source}
	if rep.Integrity, err = Integrity(ctx, dir, opts...); err != nil {
		return nil, err
	}
	rep.Pass = rep.Integrity.Pass
	if !rep.Pass {
		rep.NumericsNote = "skipped: the folder failed the integrity checks"
		return rep, nil
	}
	if len(o.references) == 0 && o.source == "" {
		src, note := findSource(ctx, cfg, dir)
		if src == "" {
			rep.NumericsNote = "skipped: " + note + "; pass --reference FILE or --source MODEL"
			return rep, nil
		}
		opts = append(opts, WithSource(src))
	}
	if rep.Numerics, err = Numerics(ctx, dir, opts...); err != nil {
		return nil, err
	}
	rep.Reference = rep.Numerics.Reference
	rep.Overall = &rep.Numerics.Overall
	rep.Pass = rep.Pass && rep.Numerics.Pass
	return rep, nil
}

// findSource locates the recorded source without touching the network.
func findSource(ctx context.Context, cfg *symb.Config, dir string) (string, string) {
	if p := recordedSource(cfg, dir); p != "" {
		return p, ""
	}
	if id := cfg.Source.ID; id != "" {
		rev := cfg.Source.Revision
		if rev == "" {
			rev = "main"
		}
		c, err := hub.NewFromEnv(hub.WithOffline(true))
		if err != nil {
			return "", err.Error()
		}
		if _, err := c.File(ctx, id, rev, "config.json"); err == nil {
			return id, ""
		}
		return "", fmt.Sprintf("source %s@%s is not in the Hugging Face cache", id, rev)
	}
	if cfg.Source.Path != "" {
		return "", fmt.Sprintf("source folder %s is not available on this machine", cfg.Source.Path)
	}
	return "", "no source recorded"
}

// openSourceOptions are the converter options verify uses to read a source:
// offline, so verification never downloads a model.
func openSourceOptions() ([]convert.Option, error) {
	c, err := hub.NewFromEnv(hub.WithOffline(true))
	if err != nil {
		return nil, err
	}
	return []convert.Option{convert.WithHub(c)}, nil
}

// Save writes the report to dir/verify.json (outside the manifest, FORMAT.md §6).
func (r *Report) Save(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".verify.json.*.tmp")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, symb.ReportFile))
}
