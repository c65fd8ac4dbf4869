// Package convert turns a Hugging Face checkpoint into a .symb model folder.
//
// Where to start: Convert. It resolves the source (a local folder or a Hub
// id, see source.go), lets the arch adapter derive the hyperparameters and
// the tensor list, checks every tensor against the safetensors headers
// (plan.go) before writing a byte, then streams the tensors through the
// quantizer into a temporary folder (pipeline.go), adds the tokenizer files,
// config.symb.json and the manifest, and renames the folder into place.
// OpenSource gives the runtime the same tensors unconverted.
package convert

import (
	"context"
	"errors"
	"fmt"
	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/internal/partial"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/symb"
)

// ErrExists reports an output folder that is already there (use WithForce).
var ErrExists = errors.New("output folder exists")

// Summary describes a finished conversion.
type Summary struct {
	Out           string  `json:"out"`
	Source        string  `json:"source"`
	Architecture  string  `json:"architecture"`
	Tensors       int     `json:"tensors"`
	Files         int     `json:"files"`
	BytesIn       int64   `json:"bytes_in"`  // stored bytes of the source tensors read
	BytesOut      int64   `json:"bytes_out"` // the model's files (local.json aside)
	Params        int64   `json:"params"`
	BitsPerWeight float64 `json:"bits_per_weight"` // tensor files only, headers included
	Seconds       float64 `json:"seconds"`
	GBPerS        float64 `json:"gb_per_s"` // BytesIn / Seconds, 1 GB = 1e9 bytes
}

// Convert converts the model at source (a local folder, a Hub id such as
// "meta-llama/Llama-3.2-1B", or the registry reference of a ModelPack
// artifact holding a Hugging Face checkpoint, downloaded next to out for the
// conversion) into the .symb folder out. Nothing appears at
// out unless the whole conversion succeeds; an existing out is refused
// unless WithForce is given, and then replaced only at the very end.
func Convert(ctx context.Context, source, out string, opts ...Option) (sum *Summary, err error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.progress != nil {
		defer o.progress(Event{Kind: EventFinish})
	}
	start := time.Now()
	if out == "" {
		return nil, errors.New("no output folder given")
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(out); err == nil && !o.force {
		return nil, fmt.Errorf("%s: %w (use --force to replace it)", out, ErrExists)
	}
	if err := o.policy.Validate(); err != nil {
		return nil, err
	}

	var fromRegistry *registry.SourceResult
	if registry.IsReference(source) {
		if o.files != nil {
			return nil, fmt.Errorf("%s: %s selects files of a Hugging Face Hub repository; this is a registry reference", source, o.files)
		}
		dir, rec, cleanup, err := fetchRegistrySource(ctx, source, out, o)
		if err != nil {
			return nil, err
		}
		defer cleanup() // after the checkpoint's files are closed
		source, fromRegistry = dir, rec
	}
	src, err := resolve(ctx, source, o)
	if err != nil {
		return nil, err
	}
	if fromRegistry != nil {
		src.id, src.revision, src.path = fromRegistry.Ref, fromRegistry.Digest, ""
	}
	if inside(src.dir, out) {
		return nil, fmt.Errorf("%s: the output folder would replace or contain the source folder %s", out, src.dir)
	}
	cfg, items, ck, err := load(src)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	if err := checkTokenizer(src.dir, cfg.VocabSize); err != nil {
		return nil, err
	}

	specs := make([]quantize.Spec, len(items))
	var bytesIn int64
	for i, it := range items {
		specs[i] = o.policy.For(it.Role, it.Rows(), it.Cols())
		bytesIn += it.inBytes
	}
	tu, err := tune(ctx, src, cfg, items, ck, specs, o)
	if err != nil {
		return nil, err
	}

	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	// One run at a time per output; what dead runs left (a SIGKILL during
	// a conversion leaves .OUT.partial-*) is removed first.
	unlock, err := partial.Lock(ctx, out)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := partial.Sweep(out, "partial"); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".partial-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	if o.progress != nil {
		o.progress(Event{Kind: EventStart, Count: len(items), Total: bytesIn})
	}
	p := &pipeline{dir: tmp, jobs: o.jobs, chunk: o.chunk, specs: specs, hess: tu.hess, progress: o.progress}
	ws, err := p.run(ctx, items)
	if err != nil {
		return nil, err
	}
	if err := copyTokenizer(src.dir, filepath.Join(tmp, "tokenizer")); err != nil {
		return nil, err
	}
	if _, err := copyDocs(src.dir, tmp); err != nil {
		return nil, err
	}
	c := &symb.Config{
		Architecture: src.adapter.Name(),
		Model:        cfg,
		Quantization: tu.record(record(items, specs)),
		Source:       src.record(sourceDType(items)),
		Tool:         symb.Tool{Name: o.tool, Version: o.version},
		Generation:   src.gen,
	}
	if err := symb.WriteConfig(tmp, c); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The manifest is written last: a folder with a manifest is complete.
	m, err := symb.BuildManifest(ctx, tmp, o.jobs)
	if err != nil {
		return nil, err
	}
	if err := symb.WriteManifest(tmp, m); err != nil {
		return nil, err
	}
	if src.path != "" {
		if err := symb.WriteLocal(tmp, &symb.Local{SourcePath: src.path}); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := replace(tmp, out, o.force); err != nil {
		return nil, err
	}

	sum = &Summary{Out: out, Source: src.String(), Architecture: src.adapter.Name(),
		Tensors: len(ws), Files: len(m.Files) + 1, BytesIn: bytesIn}
	var tensorBytes int64
	for _, w := range ws {
		tensorBytes += w.bytes
		sum.Params += w.elems
	}
	for _, f := range m.Files {
		sum.BytesOut += f.Size
	}
	if st, err := os.Stat(filepath.Join(out, symb.ManifestFile)); err == nil {
		sum.BytesOut += st.Size()
	}
	if sum.Params > 0 {
		sum.BitsPerWeight = float64(tensorBytes) * 8 / float64(sum.Params)
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Seconds > 0 {
		sum.GBPerS = float64(bytesIn) / 1e9 / sum.Seconds
	}
	return sum, nil
}

// load derives the config and the checked tensor plan of a resolved source.
// The caller closes the checkpoint.
func load(src *source) (symb.ModelConfig, []*item, *checkpoint, error) {
	cfg := src.cfg
	cfg.EOSTokenIDs = slices.Clone(cfg.EOSTokenIDs) // merged below; keep src.cfg intact
	if err := mergeGenerationEOS(&cfg, src.dir); err != nil {
		return cfg, nil, nil, err
	}
	gen, err := symb.ReadGenerationFile(filepath.Join(src.dir, symb.GenerationFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return cfg, nil, nil, err
	}
	src.gen = gen
	ms, err := src.adapter.Tensors(cfg)
	if err != nil {
		return cfg, nil, nil, err
	}
	// The adapter has already refused quantization methods it cannot
	// read; an fp8 checkpoint's block layout is what is needed here.
	blocks, err := arch.Prequantized(src.hf)
	if err != nil {
		return cfg, nil, nil, err
	}
	ck, err := openCheckpoint(src.dir)
	if err != nil {
		return cfg, nil, nil, err
	}
	if blocks != nil {
		ms = arch.DequantizeFP8(ms, *blocks, func(name string) bool {
			_, ok := ck.tensors[name+arch.ScaleSuffix]
			return ok
		})
	}
	items, err := plan(ck, cfg, ms)
	if err != nil {
		ck.Close()
		return cfg, nil, nil, err
	}
	return cfg, items, ck, nil
}

// mergeGenerationEOS adds the end-of-sequence ids of generation_config.json,
// which is what generation stops on (instruct models list several there),
// after those of config.json.
func mergeGenerationEOS(cfg *symb.ModelConfig, dir string) error {
	p := filepath.Join(dir, symb.GenerationFile)
	hf, err := arch.ReadHFConfig(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, id := range hf.EOSTokenIDs {
		if id < 0 || id >= cfg.VocabSize {
			return fmt.Errorf("%s: eos_token_id %d is outside the vocabulary of %d", p, id, cfg.VocabSize)
		}
		dup := false
		for _, e := range cfg.EOSTokenIDs {
			dup = dup || e == id
		}
		if !dup {
			cfg.EOSTokenIDs = append(cfg.EOSTokenIDs, id)
		}
	}
	return nil
}

// record summarises the storage types actually chosen, for config.symb.json.
func record(items []*item, specs []quantize.Spec) symb.Quantization {
	var q symb.Quantization
	for i, it := range items {
		s := specs[i]
		switch it.Role {
		case symb.RoleLinear:
			if q.Weights == "" {
				q.Weights = s.Type.String()
				if s.Type.IsInt() {
					q.Scheme, q.GroupSize, q.Method = s.Scheme.String(), s.GroupSize, s.Method.String()
				}
			}
		case symb.RoleEmbedding:
			q.Embeddings = s.Type.String()
		case symb.RoleLMHead:
			q.LMHead = s.Type.String()
		case symb.RoleNorm:
			if q.Norms == "" {
				q.Norms = s.Type.String()
			}
		}
	}
	return q
}

// record adds the calibration and the per-tensor choice to q.
func (tu *tuning) record(q symb.Quantization) symb.Quantization {
	q.Calibration = tu.calibration
	q.Recipe = tu.recipe
	q.PredictedKLD = tu.predictedKLD
	q.Tensors = tu.tensors
	return q
}

// copyTokenizer copies the tokenizer files present in dir, byte for byte.
func copyTokenizer(dir, dst string) error {
	for _, name := range tokenizerFiles {
		src := filepath.Join(dir, name)
		st, err := os.Stat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", src)
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if err := copyFile(src, filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, _, err := fileio.OpenRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// replace moves the finished folder tmp to out. An existing out (allowed
// only with force) is moved aside first and removed after the swap, so a
// failure leaves either the old or the new folder in place, never neither.
func replace(tmp, out string, force bool) error {
	if _, err := os.Lstat(out); err == nil {
		if !force {
			return fmt.Errorf("%s: %w (use --force to replace it)", out, ErrExists)
		}
		old, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".old-")
		if err != nil {
			return err
		}
		aside := filepath.Join(old, "x")
		if err := os.Rename(out, aside); err != nil {
			os.Remove(old)
			return err
		}
		if err := os.Rename(tmp, out); err != nil {
			_ = os.Rename(aside, out)
			os.Remove(old)
			return err
		}
		return os.RemoveAll(old)
	}
	return os.Rename(tmp, out)
}

// inside reports whether replacing or writing out would touch dir: out is
// dir or one of its parents.
func inside(dir, out string) bool {
	rel, err := filepath.Rel(out, dir)
	return err == nil && (rel == "." || !strings.HasPrefix(rel, ".."))
}
