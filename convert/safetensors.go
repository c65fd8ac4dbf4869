package convert

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nlpodyssey/safetensors"

	"github.com/symbc/symbc/quantize"
)

// The safetensors library reads the dtypes PyTorch had in 2023; it rejects
// the whole header of a file holding F8_E4M3 or F8_E5M2, which fine-grained
// FP8 checkpoints (DeepSeek-V3's release) are made of. The library stays the
// reader of ordinary files; when it refuses one, the header is parsed again
// here, and the result is used when it holds a dtype the library does not
// know. Every check the library makes is repeated here, so the fallback is
// no more permissive: bounded header, offsets inside the file, tensors that
// tile the data section with no gap or overlap, sizes that match the shape.

// maxHeaderBytes bounds the JSON header, as the library does (100 MB; a
// 163-shard DeepSeek-V3 shard header is about 100 KB).
const maxHeaderBytes = 100_000_000

// stEntry is one tensor of a safetensors header.
type stEntry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int // byte offsets inside the data section
}

// stElemSize is the element size in bytes of the safetensors dtypes this
// parser knows (the format's list, sub-byte types excepted), 0 otherwise.
func stElemSize(dtype string) int {
	switch dtype {
	case "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2":
		return 1
	case "I16", "U16", "F16", "BF16":
		return 2
	case "I32", "U32", "F32":
		return 4
	case "I64", "U64", "F64":
		return 8
	}
	return 0
}

// readHeader returns the tensors of the safetensors file b and where its
// data section starts: through the library when it accepts the file, else
// through parseHeader when the file holds a dtype the library lacks.
func readHeader(b []byte) ([]stEntry, int, error) {
	n, meta, libErr := safetensors.ReadMetadata(b)
	if libErr == nil {
		var out []stEntry
		for name, info := range meta.Tensors() {
			e := stEntry{name: name, dtype: info.DType.String(),
				begin: int(info.DataOffsets[0]), end: int(info.DataOffsets[1])}
			for _, d := range info.Shape {
				if d > math.MaxInt32 {
					return nil, 0, fmt.Errorf("tensor %s has dimension %d", name, d)
				}
				e.shape = append(e.shape, int(d))
			}
			out = append(out, e)
		}
		return out, 8 + int(n), nil
	}
	entries, start, err := parseHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if !slices.ContainsFunc(entries, func(e stEntry) bool { return strings.HasPrefix(e.dtype, "F8_") }) {
		// Nothing the library lacks: its verdict stands.
		return nil, 0, fmt.Errorf("%v (truncated file or wrong offsets?)", libErr)
	}
	return entries, start, nil
}

// parseHeader validates and decodes the header of the safetensors file b:
// 8 bytes of little-endian header length, a JSON object mapping tensor names
// to {dtype, shape, data_offsets} (plus an optional __metadata__ object of
// strings), then the data section, which the tensors must tile exactly.
// Errors name the tensor at fault.
func parseHeader(b []byte) ([]stEntry, int, error) {
	if len(b) < 8 {
		return nil, 0, fmt.Errorf("%d bytes, shorter than the 8-byte header length", len(b))
	}
	hl := binary.LittleEndian.Uint64(b)
	if hl > maxHeaderBytes {
		return nil, 0, fmt.Errorf("header length %d exceeds the %d-byte limit (not a safetensors file?)", hl, maxHeaderBytes)
	}
	if hl > uint64(len(b)-8) {
		return nil, 0, fmt.Errorf("header length %d exceeds the file size %d (truncated, or not a safetensors file)", hl, len(b))
	}
	start := 8 + int(hl)
	dataLen := len(b) - start
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:start], &raw); err != nil {
		return nil, 0, fmt.Errorf("header is not a JSON object: %v", err)
	}
	entries := make([]stEntry, 0, len(raw))
	for name, v := range raw {
		if name == "__metadata__" {
			var m map[string]string
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, 0, fmt.Errorf("__metadata__ is not an object of strings: %v", err)
			}
			continue
		}
		e, err := parseEntry(name, v, dataLen)
		if err != nil {
			return nil, 0, fmt.Errorf("tensor %s: %w", name, err)
		}
		entries = append(entries, e)
	}
	// The tensors must cover the data section once each, in some order.
	slices.SortFunc(entries, func(a, b stEntry) int {
		if a.begin != b.begin {
			return a.begin - b.begin
		}
		if a.end != b.end {
			return a.end - b.end
		}
		return strings.Compare(a.name, b.name)
	})
	at, prev := 0, ""
	for _, e := range entries {
		switch {
		case e.begin < at:
			return nil, 0, fmt.Errorf("tensor %s (bytes %d..%d) overlaps tensor %s (ending at %d)", e.name, e.begin, e.end, prev, at)
		case e.begin > at:
			return nil, 0, fmt.Errorf("bytes %d..%d of the data section belong to no tensor (before tensor %s)", at, e.begin, e.name)
		}
		at, prev = e.end, e.name
	}
	if at != dataLen {
		return nil, 0, fmt.Errorf("the tensors end at byte %d of the data section, which has %d bytes", at, dataLen)
	}
	return entries, start, nil
}

// parseEntry decodes one tensor's entry and checks it against the data
// section's length.
func parseEntry(name string, v json.RawMessage, dataLen int) (stEntry, error) {
	// Keys are matched exactly (encoding/json would match "DType" too) and
	// must be these three, as the format and the library require.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(v, &keys); err != nil || keys == nil {
		return stEntry{}, fmt.Errorf("entry is not a JSON object: %s", clip(v))
	}
	var f struct {
		dtype   string
		shape   []uint64
		offsets []uint64
	}
	for k, x := range keys {
		var err error
		switch k {
		case "dtype":
			err = json.Unmarshal(x, &f.dtype)
		case "shape":
			err = json.Unmarshal(x, &f.shape)
		case "data_offsets":
			err = json.Unmarshal(x, &f.offsets)
		default:
			return stEntry{}, fmt.Errorf("unknown key %q (want dtype, shape, data_offsets)", k)
		}
		if err != nil {
			return stEntry{}, fmt.Errorf("%s is %s: %v", k, clip(x), err)
		}
	}
	switch {
	case keys["dtype"] == nil:
		return stEntry{}, errors.New(`no "dtype"`)
	case f.shape == nil: // absent or null; [] is a scalar
		return stEntry{}, errors.New(`no "shape"`)
	case len(f.offsets) != 2:
		return stEntry{}, errors.New(`"data_offsets" is not a [begin, end] pair`)
	}
	e := stEntry{name: name, dtype: f.dtype}
	es := stElemSize(e.dtype)
	if es == 0 {
		return e, fmt.Errorf("dtype %q is not a safetensors dtype this converter knows", e.dtype)
	}
	// Elements times element size must not overflow before it is compared
	// with the offsets; no real tensor comes near 2^53 bytes.
	const maxBytes = 1 << 53
	n := uint64(es)
	for _, dim := range f.shape {
		if dim > math.MaxInt32 {
			return e, fmt.Errorf("shape %v: dimension %d is too large", f.shape, dim)
		}
		if dim != 0 && n > maxBytes/dim {
			return e, fmt.Errorf("shape %v is too large", f.shape)
		}
		n *= dim
		e.shape = append(e.shape, int(dim))
	}
	begin, end := f.offsets[0], f.offsets[1]
	switch {
	case end < begin:
		return e, fmt.Errorf("data_offsets [%d, %d] end before they begin", begin, end)
	case end > uint64(dataLen):
		return e, fmt.Errorf("data_offsets [%d, %d] run past the data section of %d bytes (truncated file or wrong offsets?)", begin, end, dataLen)
	case end-begin != n:
		return e, fmt.Errorf("data_offsets [%d, %d] hold %d bytes, %s %v needs %d", begin, end, end-begin, e.dtype, e.shape, n)
	}
	e.begin, e.end = int(begin), int(end)
	return e, nil
}

// clip shortens a JSON value for an error message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// e4m3ToF32 decodes an FP8 E4M3 ("fn") byte: 1 sign, 4 exponent bits with
// bias 7, 3 mantissa bits; no infinities, S.1111.111 is NaN, max ±448.
func e4m3ToF32(b byte) float32 {
	sign := uint32(b&0x80) << 24
	exp, man := uint32(b>>3)&0xF, uint32(b&7)
	switch {
	case exp == 0xF && man == 7:
		return float32(math.NaN())
	case exp == 0: // subnormal: man · 2^-9, exact in float32
		return math.Float32frombits(sign | math.Float32bits(float32(man)/512))
	}
	return math.Float32frombits(sign | (exp+127-7)<<23 | man<<20)
}

// e5m2ToF32 decodes an FP8 E5M2 byte, which is the high byte of an IEEE
// half with the same sign, exponent and two top mantissa bits.
func e5m2ToF32(b byte) float32 { return quantize.F16ToF32(uint16(b) << 8) }
