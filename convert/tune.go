package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime/tokenizer"
	"github.com/symbc/symbc/symb"
)

// defaultHeadroom is what a default budget (WithDefaultBits) grants above
// the smallest layout when that layout alone exceeds the budget: the
// difference between 4.5 bits per weight and INT4 with groups of 128 (4.125).
const defaultHeadroom = 0.375

// tuning is what calibration and the precision choice decided.
type tuning struct {
	hess         []*moment // per item: input second moment for GPTQ, nil for none
	calibration  *symb.Calibration
	recipe       string
	predictedKLD float64
	tensors      map[string]string
}

// tune calibrates on the source model and, with a --bits or --max-kld
// target, chooses each weight matrix's spec (updating specs in place).
func tune(ctx context.Context, src *source, cfg symb.ModelConfig, items []*item, ck *checkpoint, specs []quantize.Spec, o *options) (*tuning, error) {
	tu := &tuning{hess: make([]*moment, len(items))}
	if !o.calibrate {
		return tu, nil
	}
	scfg, err := sourceConfig(src, cfg, items, o)
	if err != nil {
		return nil, err
	}
	w := newSourceWeights(src.dir, ck, items) // not closed: ck belongs to Convert
	var params int64
	for _, it := range items {
		n := int64(1)
		for _, d := range it.Shape {
			n *= int64(d)
		}
		params += n
	}
	sum := sha256.Sum256([]byte(o.calibText))
	tu.calibration = &symb.Calibration{Text: o.calibName, SHA256: hex.EncodeToString(sum[:])}

	var segs [][]int
	imp := map[string][]float32{}
	tok, err := tokenizer.Load(src.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A checkpoint without tokenizer.json cannot read text: quantize
		// unweighted and judge tensors by relative error.
		tu.calibration.Text += " (not used: the source has no tokenizer.json)"
	case err != nil:
		return nil, fmt.Errorf("calibration: %s: %w", src.dir, err)
	default:
		seg := calibSegment
		if cfg.MaxPositions > 0 {
			seg = min(seg, cfg.MaxPositions)
		}
		segs = calibSegments(tok, o.calibText, seg, tokenBudget(calibFLOPs, params))
		if len(segs) == 0 {
			return nil, fmt.Errorf("calibration text %s has no tokens", o.calibName)
		}
		a, err := collectActivations(ctx, scfg, w, segs, o.jobs, o.gptq())
		if err != nil {
			return nil, err
		}
		if o.awq {
			spec := quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, Method: quantize.RTN, GroupSize: quantize.DefaultGroupSize}
			if p := o.policy.Linear; p.Type.IsInt() {
				spec = p
				spec.Method = quantize.RTN
			}
			n, err := applyAWQ(ctx, cfg, items, spec, a, o.jobs)
			if err != nil {
				return nil, err
			}
			w.reset() // the scaled readers replace tensors built before
			tu.calibration.ScaledInputs = n
		}
		imp = a.imp
		tu.calibration.Tokens = a.tokens
		for i, it := range items {
			// The embedding table is also read row by row as a lookup,
			// an error GPTQ's output-side compensation does not see (a
			// tied table's moment covers only its LM-head use).
			if it.Role != symb.RoleEmbedding {
				tu.hess[i] = a.hess[it.Name]
			}
		}
	}
	defer func() {
		// GPTQ without second moments (too large, or no tokenizer) is the
		// MSE search; record what was done.
		for i := range specs {
			if specs[i].Method == quantize.GPTQ && tu.hess[i] == nil {
				specs[i].Method = quantize.MSE
				if tu.tensors != nil {
					tu.tensors[items[i].Name] = specs[i].String()
				}
			}
		}
	}()
	if o.bits <= 0 && o.maxKLD <= 0 {
		return tu, nil
	}

	tcs, err := errorTable(ctx, items, imp, o.jobs)
	if err != nil {
		return nil, err
	}
	measured := false
	if len(segs) > 0 {
		if measured, err = measureGains(ctx, scfg, w, items, tcs, tu.hess, segs, params, o.jobs); err != nil {
			return nil, fmt.Errorf("sensitivity: %w", err)
		}
	}
	tu.calibration.Sensitivity = "measured"
	if !measured {
		if o.maxKLD > 0 {
			return nil, errors.New("--max-kld needs measured sensitivities, which this model is too large (or has no tokenizer) to measure; use --bits")
		}
		tu.calibration.Sensitivity = "relative"
		if err := relativeGains(items, tcs, imp); err != nil {
			return nil, err
		}
	}
	var budget, fixed int64
	inAlloc := map[int]bool{}
	for _, tc := range tcs {
		inAlloc[tc.index] = true
	}
	for i, it := range items {
		if inAlloc[i] {
			continue
		}
		b, err := fileBytes(specs[i], it.Shape)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name, err)
		}
		fixed += b
	}
	if o.bits > 0 {
		budget = int64(o.bits*float64(params)/8) - fixed
		if o.softBits {
			// A model whose narrow rows or small tensors cannot reach a
			// default budget at all gets defaultHeadroom bits per weight
			// above its smallest layout, so its most sensitive tensors
			// are still upgraded.
			if least := leastBytes(tcs); least > budget {
				budget = least + int64(defaultHeadroom*float64(params)/8)
			}
		}
		if budget <= 0 {
			return nil, fmt.Errorf("--bits %g: the tensors kept as they are already take %.2f bits per weight", o.bits, float64(fixed)*8/float64(params))
		}
		tu.recipe = fmt.Sprintf("bits %g", o.bits)
	} else {
		tu.recipe = fmt.Sprintf("max-kld %g", o.maxKLD)
	}
	sel, kl, err := allocate(tcs, budget, o.maxKLD)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tu.recipe, err)
	}
	tu.tensors = map[string]string{}
	for k, tc := range tcs {
		s := tc.opts[sel[k]].spec
		specs[tc.index] = s
		tu.tensors[items[tc.index].Name] = s.String()
	}
	if measured {
		tu.predictedKLD = kl
	}
	return tu, nil
}

// ReadCalibration reads a calibration text file (UTF-8 prose; paragraphs
// separated by blank lines), refusing an empty or oversized one.
func ReadCalibration(path string) (name, text string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", "", err
	}
	if st.Size() > calibMaxText {
		return "", "", fmt.Errorf("%s: %d bytes; a calibration text of at most %d bytes is plenty", path, st.Size(), calibMaxText)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	if len(b) == 0 {
		return "", "", fmt.Errorf("%s: empty calibration text", path)
	}
	return filepath.Base(path), string(b), nil
}
