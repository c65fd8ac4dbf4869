package quantize

// Importance-weighted error (the measure behind llama.cpp's imatrix): a
// linear layer's output error for an input x is Σ_c ΔW_c·x_c, so over many
// inputs the expected squared error of a row is Σ_c ΔW_c²·E[x_c²] when the
// channels are roughly uncorrelated. With imp_c the mean square of input
// channel c on calibration text, Σ_c imp_c·(w_c − ŵ_c)² therefore compares
// how much candidate storage specs disturb a layer's output.

// WeightedError quantizes rows x cols of src with spec and returns
// Σ_c imp_c·(w − ŵ)² summed over all rows (imp nil: every column weighs 1).
// It is what the converter's precision choice compares between candidate
// specs.
func WeightedError(spec Spec, src []float32, cols int, imp []float32) (float64, error) {
	rows := len(src) / cols
	db, sb, mb, err := spec.Layout(rows, cols)
	if err != nil {
		return 0, err
	}
	data, sc, mi := make([]byte, db), make([]byte, sb), make([]byte, mb)
	if err := QuantizeRows(spec, src, cols, data, sc, mi); err != nil {
		return 0, err
	}
	if !spec.Type.IsInt() {
		// Float specs: the round trip through the stored type.
		back := make([]float32, len(src))
		switch spec.Type {
		case F32:
			copy(back, src)
		case F16:
			for i, v := range src {
				back[i] = F16ToF32(F32ToF16(v))
			}
		case BF16:
			for i, v := range src {
				back[i] = BF16ToF32(F32ToBF16(v))
			}
		}
		return weightedSSE(src, back, cols, imp), nil
	}
	back := make([]float32, len(src))
	if err := Dequantize(spec, data, sc, mi, rows, cols, back); err != nil {
		return 0, err
	}
	return weightedSSE(src, back, cols, imp), nil
}

func weightedSSE(a, b []float32, cols int, imp []float32) float64 {
	var e float64
	for i := range a {
		d := float64(a[i] - b[i])
		if imp != nil {
			e += float64(imp[i%cols]) * d * d
		} else {
			e += d * d
		}
	}
	return e
}
