package kernels

import (
	"fmt"
	"os"
	"strings"
)

// Set names a family of kernels a Pool runs.
type Set string

// The kernel sets. Auto picks the best one the CPU supports; the others force
// one, and are refused where the CPU lacks it.
const (
	Auto    Set = "auto"
	AVX512  Set = "avx512"  // amd64 with AVX-512 F/BW/VL and VNNI: INT4 products in int8 (vpdpbusd); AVX2 for the rest
	AVX2    Set = "avx2"    // amd64 with AVX2, FMA and F16C
	NEON    Set = "neon"    // arm64 Advanced SIMD
	Generic Set = "generic" // portable Go, every architecture
)

// EnvKernels is the environment variable that overrides Auto (the value is
// a Set name, as for --kernels).
const EnvKernels = "SYMBC_KERNELS"

// ParseSet reads a Set name (auto, avx512, avx2, neon, generic).
func ParseSet(s string) (Set, error) {
	switch k := Set(strings.ToLower(strings.TrimSpace(s))); k {
	case Auto, AVX512, AVX2, NEON, Generic:
		return k, nil
	}
	return "", fmt.Errorf("unknown kernel set %q: want auto, avx512, avx2, neon or generic", s)
}

// Available lists the kernel sets this CPU can run, best first.
func Available() []Set {
	var out []Set
	if haveAVX512 {
		out = append(out, AVX512)
	}
	if haveSIMD {
		out = append(out, simdSet)
	}
	return append(out, Generic)
}

// Best is the first of Available.
func Best() Set { return Available()[0] }

// Select resolves k to a set this CPU runs: Auto becomes the value of
// SYMBC_KERNELS when that is set, else Best; a set the CPU lacks is an error.
func Select(k Set) (Set, error) {
	from := "kernel set"
	if k == Auto {
		if env := os.Getenv(EnvKernels); env != "" {
			var err error
			if k, err = ParseSet(env); err != nil {
				return "", fmt.Errorf("%s: %w", EnvKernels, err)
			}
			from = EnvKernels
		}
	}
	if k == Auto || k == "" {
		return Best(), nil
	}
	if _, err := ParseSet(string(k)); err != nil {
		return "", err
	}
	for _, a := range Available() {
		if a == k {
			return k, nil
		}
	}
	return "", fmt.Errorf("%s %s: not supported by this CPU (available: %s)", from, k, joinSets(Available()))
}

// AvailableString is Available as a comma-separated list.
func AvailableString() string { return joinSets(Available()) }

func joinSets(s []Set) string {
	var b strings.Builder
	for i, k := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(k))
	}
	return b.String()
}
