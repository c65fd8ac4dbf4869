package quantize

import (
	"fmt"
	"math"
)

// Dequantize expands a packed tensor of rows x cols back to float32 in dst
// (len rows*cols). Buffer lengths must match spec.Layout(rows, cols).
// Padding codes are ignored.
func Dequantize(spec Spec, data, scales, mins []byte, rows, cols int, dst []float32) error {
	if err := checkBuffers(spec, rows, cols, data, scales, mins); err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	if len(dst) != rows*cols { // rows*cols fits: Layout checked a product at least as large
		return fmt.Errorf("dequantize %s [%d, %d]: destination has %d elements, want %d", spec, rows, cols, len(dst), rows*cols)
	}
	db, sb, mb, _ := spec.Layout(1, cols)
	for r := 0; r < rows; r++ {
		dequantRow(spec, data[r*db:(r+1)*db], scales[r*sb:(r+1)*sb], mins[r*mb:(r+1)*mb], dst[r*cols:(r+1)*cols])
	}
	return nil
}

// DequantizeRow expands one row (len(dst) == cols elements) from that row's
// slices of the packed buffers, whose lengths must match spec.Layout(1, cols).
// This is the per-row entry point for callers that stream rows.
func DequantizeRow(spec Spec, data, scales, mins []byte, dst []float32) error {
	if err := checkBuffers(spec, 1, len(dst), data, scales, mins); err != nil {
		return fmt.Errorf("dequantize row: %w", err)
	}
	dequantRow(spec, data, scales, mins, dst)
	return nil
}

// dequantRow assumes the buffer lengths were checked.
func dequantRow(spec Spec, data, scales, mins []byte, dst []float32) {
	switch spec.Type {
	case F32:
		for i := range dst {
			b := data[4*i : 4*i+4]
			dst[i] = math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		}
		return
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(getU16(data[2*i:]))
		}
		return
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(getU16(data[2*i:]))
		}
		return
	}
	g := spec.GroupSize
	groupBytes := g
	if spec.Type == INT4 {
		groupBytes = g / 2
	}
	asym := spec.Scheme == Asymmetric
	var tmp [maxGroupSize]float32
	for gi, c0 := 0, 0; c0 < len(dst); gi, c0 = gi+1, c0+g {
		d := F16ToF32(getU16(scales[2*gi:]))
		var m float32
		if asym {
			m = F16ToF32(getU16(mins[2*gi:]))
		}
		codes := data[gi*groupBytes : min((gi+1)*groupBytes, len(data))]
		out := dst[c0:min(c0+g, len(dst))]
		full := len(out) == g
		if !full {
			// Decode the tail group's whole blocks, copy the real part below.
			out = tmp[:len(codes)*g/groupBytes]
		}
		switch {
		case spec.Type == INT4 && !asym:
			// d*(q-8) == d*q - 8d exactly: the products fit in float32's
			// mantissa (11-bit scale times 4-bit code).
			decode4(codes, d, -8*d, out)
		case spec.Type == INT4:
			decode4(codes, d, m, out)
		case !asym:
			for i, c := range codes {
				out[i] = d * float32(int8(c))
			}
		default:
			for i, c := range codes {
				out[i] = d*float32(c) + m
			}
		}
		if !full {
			copy(dst[c0:], out[:len(dst)-c0])
		}
	}
}

// decode4 expands INT4 blocks: byte i of a block holds element i (low) and
// element 16+i (high); value = d*q + off.
func decode4(codes []byte, d, off float32, out []float32) {
	for b := 0; b < len(codes)/16; b++ {
		c := (*[16]byte)(codes[b*16 : b*16+16])
		lo := (*[16]float32)(out[b*32 : b*32+16])
		hi := (*[16]float32)(out[b*32+16 : b*32+32])
		for i, q := range c {
			lo[i] = d*float32(q&15) + off
			hi[i] = d*float32(q>>4) + off
		}
	}
}
