package symb

import (
	"fmt"
	"strings"
)

// DType is the element type of a tensor's data section.
type DType uint8

// Element types. The numeric values are the on-disk codes (FORMAT.md §2).
const (
	F32  DType = 1
	F16  DType = 2
	BF16 DType = 3
	INT8 DType = 4
	INT4 DType = 5
)

var dtypeNames = map[DType]string{F32: "f32", F16: "f16", BF16: "bf16", INT8: "int8", INT4: "int4"}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Valid reports whether d is a dtype this version of the format defines.
func (d DType) Valid() bool { _, ok := dtypeNames[d]; return ok }

// Quantized reports whether d stores integer codes with per-group scales.
func (d DType) Quantized() bool { return d == INT8 || d == INT4 }

// ElemSize is the size in bytes of one element of a float dtype (0 for quantized dtypes).
func (d DType) ElemSize() int {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	}
	return 0
}

// ParseDType accepts the names String returns (and "fp16"/"fp32" as aliases).
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(s) {
	case "f32", "fp32", "float32":
		return F32, nil
	case "f16", "fp16", "float16":
		return F16, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "int8", "q8":
		return INT8, nil
	case "int4", "q4":
		return INT4, nil
	}
	return 0, fmt.Errorf("unknown dtype %q (want f32, f16, bf16, int8 or int4)", s)
}

// Scheme says how integer codes map back to values.
type Scheme uint8

// Quantization schemes (on-disk codes, FORMAT.md §2).
const (
	SchemeNone Scheme = 0 // float dtypes
	SchemeSym  Scheme = 1 // value = d·(q − offset)
	SchemeAsym Scheme = 2 // value = d·q + m
)

func (s Scheme) String() string {
	switch s {
	case SchemeNone:
		return "none"
	case SchemeSym:
		return "sym"
	case SchemeAsym:
		return "asym"
	}
	return fmt.Sprintf("scheme(%d)", uint8(s))
}
