package convert

import (
	"context"
	"testing"

	"github.com/symbc/symbc/runtime/tokenizer"
	"github.com/symbc/symbc/symb"
)

// TestCalibrationSeesEveryLinearInput: one calibration pass over the
// built-in text collects the inputs of every weight matrix (each linear
// layer and the tied LM head), with second moments for GPTQ, so no weight
// silently falls back to the unweighted path when the runtime changes how
// it batches its projections.
func TestCalibrationSeesEveryLinearInput(t *testing.T) {
	ctx := context.Background()
	o, err := newOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := resolve(ctx, "../testdata/models/stories260k", o)
	if err != nil {
		t.Fatal(err)
	}
	cfg, items, ck, err := load(src)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	scfg, err := sourceConfig(src, cfg, items, o)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(src.dir)
	if err != nil {
		t.Fatal(err)
	}
	segs := calibSegments(tok, DefaultCalibrationText(), calibSegment, 1024)
	a, err := collectActivations(ctx, scfg, newSourceWeights(src.dir, ck, items), segs, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	if a.tokens != 1024 {
		t.Errorf("%d tokens, want 1024", a.tokens)
	}
	n := 0
	for _, it := range items {
		if it.Role != symb.RoleLinear && it.Role != symb.RoleEmbedding {
			continue
		}
		n++
		imp := a.imp[it.Name]
		if len(imp) != it.Cols() {
			t.Errorf("%s: %d column statistics, want %d", it.Name, len(imp), it.Cols())
			continue
		}
		h := a.hess[it.Name]
		if h == nil || h.cols != it.Cols() || h.n == 0 {
			t.Errorf("%s: no second moment", it.Name)
			continue
		}
		// The moment's diagonal is the column statistics (same inputs).
		mean := h.mean()
		for c := range it.Cols() {
			if d, want := mean[c*h.cols+c], float64(imp[c]); d < 0.999*want || d > 1.001*want {
				t.Errorf("%s column %d: second moment diagonal %g, mean square %g", it.Name, c, d, want)
				break
			}
		}
	}
	if n != 5*7+1 {
		t.Errorf("%d weight matrices checked, want 36", n)
	}
}
