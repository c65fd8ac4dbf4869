// Command snr reports how far each weight of a converted .symb folder is
// from its source checkpoint, as the signal-to-noise ratio
// 10·log10(Σw² / Σ(w − ŵ)²), per tensor kind (attn_q of every layer
// together, …) and with -all per tensor. Random-weight models (the synthetic
// shapes of tools/synth) have no meaningful KL divergence; this is their
// fidelity figure (docs/QUALITY.md).
//
//	go run ./tools/snr SRC OUT
//
// SRC is what OUT was converted from. A conversion with --awq stores
// rescaled weights and is not comparable this way.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

func main() {
	all := flag.Bool("all", false, "one line per tensor, not per kind")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: snr [-all] SRC OUT")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *all); err != nil {
		fmt.Fprintln(os.Stderr, "snr: "+err.Error())
		os.Exit(1)
	}
}

// sums are the signal and noise energies and the element count of tensors.
type sums struct {
	sig, noise float64
	n          int64
	specs      map[string]int64 // storage -> elements
	worst      float64          // lowest per-tensor SNR (dB)
	worstName  string
}

func (s *sums) snr() float64 { return 10 * math.Log10(s.sig/s.noise) }

func run(src, out string, all bool) error {
	_, w, err := convert.OpenSource(context.Background(), src)
	if err != nil {
		return err
	}
	defer w.Close()
	kinds := map[string]*sums{}
	var order []string
	for _, name := range w.Names() {
		f, err := symb.Open(symb.TensorPath(out, name))
		if err != nil {
			return err
		}
		got := f.Tensor()
		if !got.DType.Quantized() && got.DType != symb.F16 && got.DType != symb.BF16 {
			f.Close()
			continue // stored exactly
		}
		orig, err := w.Tensor(name)
		if err != nil {
			f.Close()
			return err
		}
		sig, noise, spec, err := compare(orig, got)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		kind := path.Base(name)
		if all {
			kind = name
		}
		k := kinds[kind]
		if k == nil {
			k = &sums{specs: map[string]int64{}, worst: math.Inf(1)}
			kinds[kind] = k
			order = append(order, kind)
		}
		k.sig += sig
		k.noise += noise
		k.n += got.Elements()
		k.specs[spec] += got.Elements()
		if s := 10 * math.Log10(sig/noise); s <= k.worst {
			k.worst, k.worstName = s, name
		}
	}
	sort.Strings(order)
	fmt.Println("| tensor | elements | storage (share of elements) | SNR dB | lowest (tensor) |")
	fmt.Println("|---|---|---|---|---|")
	for _, kind := range order {
		k := kinds[kind]
		var specs []string
		for s, n := range k.specs {
			specs = append(specs, fmt.Sprintf("%s %.0f%%", s, 100*float64(n)/float64(k.n)))
		}
		sort.Strings(specs)
		fmt.Printf("| %s | %d | %s | %.1f | %.1f (%s) |\n", kind, k.n, strings.Join(specs, ", "), k.snr(), k.worst, k.worstName)
	}
	return nil
}

// compare returns Σw² and Σ(w − ŵ)² of a source tensor and its stored
// version, row by row, and the storage's name.
func compare(orig, got *symb.Tensor) (sig, noise float64, name string, err error) {
	spec := quantize.Spec{Type: quantize.F16}
	switch got.DType {
	case symb.INT4, symb.INT8:
		spec = quantize.Spec{Type: quantize.INT4, Scheme: quantize.Symmetric, GroupSize: got.GroupSize}
		if got.DType == symb.INT8 {
			spec.Type = quantize.INT8
		}
		if got.Scheme == symb.SchemeAsym {
			spec.Scheme = quantize.Asymmetric
		}
		if !got.PackedTail && got.PaddedCols() != (got.Cols()+31)&^31 {
			return 0, 0, "", fmt.Errorf("format 1.0 tail-padded layout; convert again")
		}
	case symb.BF16:
		spec = quantize.Spec{Type: quantize.BF16}
	}
	rows, cols := got.Rows(), got.Cols()
	db, sb, mb, err := spec.Layout(1, cols)
	if err != nil {
		return 0, 0, "", err
	}
	a, b := make([]float32, cols), make([]float32, cols)
	for r := range rows {
		if err := row(orig, r, a); err != nil {
			return 0, 0, "", err
		}
		if err := quantize.DequantizeRow(spec, got.Data[r*db:(r+1)*db], got.Scales[r*sb:(r+1)*sb], got.Mins[r*mb:(r+1)*mb], b); err != nil {
			return 0, 0, "", err
		}
		for i, v := range a {
			e := float64(v) - float64(b[i])
			sig += float64(v) * float64(v)
			noise += e * e
		}
	}
	name = spec.Type.String()
	if spec.Type.IsInt() {
		name = fmt.Sprintf("%s g%d %s", spec.Type, spec.GroupSize, spec.Scheme)
	}
	return sig, noise, name, nil
}

// row expands row r of a float tensor to float32.
func row(t *symb.Tensor, r int, dst []float32) error {
	c := len(dst)
	switch t.DType {
	case symb.F32:
		v, err := t.Float32s()
		if err != nil {
			return err
		}
		copy(dst, v[r*c:(r+1)*c])
	case symb.F16, symb.BF16:
		v, err := t.Uint16s()
		if err != nil {
			return err
		}
		for i, h := range v[r*c : (r+1)*c] {
			if t.DType == symb.F16 {
				dst[i] = quantize.F16ToF32(h)
			} else {
				dst[i] = quantize.BF16ToF32(h)
			}
		}
	default:
		return fmt.Errorf("source tensor %s is %s, not a float type", t.Name, t.DType)
	}
	return nil
}
