package convert

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/symb"
)

// item is one output tensor, checked and ready to stream.
type item struct {
	arch.Mapping
	reader  arch.Reader  // the output, built from the sources by the transform
	sources []*srcTensor // the checkpoint tensors read
	inBytes int64        // stored bytes of the sources this item accounts for
}

// raw returns the stored rows [r0, r1) when the output is unchanged source
// rows (no transform, or a row slice), so they can be quantized in place.
func (it *item) raw(r0, r1 int) (symb.DType, []byte, bool) {
	rr, ok := it.reader.(arch.RawReader)
	if !ok {
		return 0, nil, false
	}
	return rr.Raw(r0, r1)
}

// plan checks every mapping against the checkpoint headers: each source
// exists with the shape config.json implies and a dtype the converter reads,
// each transform accepts its sources and yields the mapping's shape, and no
// checkpoint tensor is left unused. It reads no tensor data.
func plan(ck *checkpoint, cfg symb.ModelConfig, ms []arch.Mapping) ([]*item, error) {
	if err := arch.Check(ms); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	var probs []string
	items := make([]*item, 0, len(ms))
	for _, m := range ms {
		it := &item{Mapping: m}
		readers := make([]arch.Reader, 0, len(m.Sources))
		ok := true
		for _, s := range m.Sources {
			used[s.Name] = true
			t, found := ck.tensors[s.Name]
			switch {
			case !found:
				probs = append(probs, fmt.Sprintf("%s: tensor %s is missing (needed for %s)", ck.where(), s.Name, m.Name))
				ok = false
				continue
			case !t.readable():
				probs = append(probs, fmt.Sprintf("%s: tensor %s has dtype %s; the converter reads F32, F16, BF16 and block-scaled F8_E4M3/F8_E5M2", t.file, s.Name, t.stype))
				ok = false
				continue
			case t.fp8 != 0 && !slices.ContainsFunc(m.Sources, func(x arch.Source) bool { return x.Name == s.Name+arch.ScaleSuffix }):
				// Unscaled FP8 codes are off by the block factor; using
				// them as weights would give a model that runs but is wrong.
				probs = append(probs, fmt.Sprintf("%s: tensor %s is stored as %s but is not read with block factors %s%s (is config.json's quantization_config fp8, and does the checkpoint hold them?)",
					t.file, s.Name, t.stype, s.Name, arch.ScaleSuffix))
				ok = false
				continue
			case !slices.Equal(t.shape, s.Shape):
				probs = append(probs, fmt.Sprintf("%s: tensor %s has shape %v, config.json implies %v", t.file, s.Name, t.shape, s.Shape))
				ok = false
				continue
			}
			it.sources = append(it.sources, t)
			readers = append(readers, t)
		}
		if !ok {
			continue
		}
		if m.Transform == nil {
			it.reader = readers[0]
		} else {
			r, err := m.Transform.Apply(readers)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%s: %s: %v", m.Name, m.Transform, err))
				continue
			}
			if !slices.Equal(r.Shape(), m.Shape) {
				probs = append(probs, fmt.Sprintf("%s: %s gives shape %v, want %v", m.Name, m.Transform, r.Shape(), m.Shape))
				continue
			}
			it.reader = r
		}
		// Input accounting: output elements at the storage size of the
		// first source (a slice of a fused tensor counts its own rows).
		var n int64 = 1
		for _, d := range m.Shape {
			n *= int64(d)
		}
		it.inBytes = n * int64(it.sources[0].elem)
		items = append(items, it)
	}
	var unused []string
	for name := range ck.tensors {
		if !used[name] && !arch.Ignored(cfg, name) {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	for _, name := range unused {
		probs = append(probs, fmt.Sprintf("%s: tensor %s is not used by this architecture (converting would drop it)", ck.tensors[name].file, name))
	}
	if len(probs) > 0 {
		msg := probs[0]
		if len(probs) > 1 {
			msg += fmt.Sprintf(" (and %d more problems)", len(probs)-1)
		}
		return nil, fmt.Errorf("%s: %w", msg, ErrCheckpoint)
	}
	return items, nil
}

// sourceDType summarises the stored dtypes of the tensors read ("bf16", or
// "bf16+f32" when mixed, "bf16+f8_e4m3" for a fine-grained FP8 checkpoint).
func sourceDType(items []*item) string {
	set := map[string]bool{}
	for _, it := range items {
		for _, s := range it.sources {
			// FP8 block factors are part of their weight's storage, not
			// a weight dtype of their own.
			if base, ok := strings.CutSuffix(s.name, arch.ScaleSuffix); ok &&
				slices.ContainsFunc(it.sources, func(w *srcTensor) bool { return w.name == base && w.fp8 != 0 }) {
				continue
			}
			set[s.dtypeName()] = true
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}
