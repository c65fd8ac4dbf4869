package symb

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are whole valid files of every dtype and scheme, kept small so the
// fuzzer mutates headers rather than payload, plus corrupt variants.
func fuzzSeeds() [][]byte {
	rng := rand.New(rand.NewPCG(11, 12))
	var seeds [][]byte
	for _, in := range []Info{
		{DType: F32, Shape: []int{3}},
		{DType: F16, Shape: []int{2, 5}},
		{DType: BF16, Shape: []int{1, 2, 3, 4}},
		{DType: INT8, Scheme: SchemeSym, GroupSize: 32, Shape: []int{2, 33}},
		{DType: INT8, Scheme: SchemeAsym, GroupSize: 64, Shape: []int{1, 64}},
		{DType: INT4, Scheme: SchemeSym, GroupSize: 32, Shape: []int{3, 40}},
		{DType: INT4, Scheme: SchemeAsym, GroupSize: 128, Shape: []int{2, 1, 100}},
	} {
		seeds = append(seeds, encodeFile(randomTensor(rng, "f", in)))
	}
	v := seeds[len(seeds)-1]
	mut := func(f func(b []byte) []byte) {
		b := append([]byte(nil), v...)
		seeds = append(seeds, f(b))
	}
	mut(func(b []byte) []byte { b[4] = 2; return b })       // major 2
	mut(func(b []byte) []byte { b[15] = 0; return b })      // rank 0
	mut(func(b []byte) []byte { b[15] = 5; return b })      // rank 5
	mut(func(b []byte) []byte { b[24+7] = 0x80; return b }) // huge dim
	mut(func(b []byte) []byte { b[56] = 0x41; return b })   // misaligned data
	mut(func(b []byte) []byte { return b[:len(b)-1] })      // truncated
	mut(func(b []byte) []byte { return append(b, 0) })      // trailing byte
	mut(func(b []byte) []byte { b[20] = 1; return b })      // flags
	mut(func(b []byte) []byte { b[6] = 1; return b })       // minor 1
	mut(func(b []byte) []byte { b[8] = 0xc0; return b })    // header size 192
	mut(func(b []byte) []byte { return b[:12] })            // header cut
	seeds = append(seeds, []byte("SYMB"), []byte("GGUF\x03\x00\x00\x00"), nil)
	return seeds
}

// FuzzParseHeader: ParseHeader never panics, fails only with the package's
// sentinel errors, and whatever it accepts keeps every promise it makes.
func FuzzParseHeader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b, int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrNotSymb) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		checkInvariants(t, h, int64(len(b)))
		// Re-encoding what was accepted gives a header that parses the same.
		re, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted header does not re-encode: %v", err)
		}
		// Bytes 8..11 (header size) may differ: 1.0 readers accept larger headers.
		if h.Minor == 0 && (string(re[:8]) != string(b[:8]) || string(re[12:104]) != string(b[12:104])) {
			t.Fatalf("re-encoded 1.0 header differs:\n%x\n%x", re[:104], b[:104])
		}
	})
}

// FuzzOpen runs the same bytes through Open (stat, mmap, slicing sections).
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.symb")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := Open(p)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrNotSymb) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		defer file.Close()
		tn := file.Tensor()
		if err := tn.Check(); err != nil {
			t.Fatalf("opened tensor fails Check: %v", err)
		}
		// Touch the first and last byte of each section: they must be mapped.
		for _, sec := range [][]byte{tn.Data, tn.Scales, tn.Mins} {
			if len(sec) > 0 {
				_ = sec[0] + sec[len(sec)-1]
			}
		}
	})
}
