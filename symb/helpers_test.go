package symb

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// wantSizes computes the section sizes of FORMAT.md §3 directly from the
// formulas in the spec, independently of Info.SectionSizes.
func wantSizes(in Info) (data, scales, mins int64) {
	rows := int64(1)
	for _, d := range in.Shape[:len(in.Shape)-1] {
		rows *= int64(d)
	}
	cols := int64(in.Shape[len(in.Shape)-1])
	switch in.DType {
	case F32:
		return rows * cols * 4, 0, 0
	case F16, BF16:
		return rows * cols * 2, 0, 0
	}
	g := int64(in.GroupSize)
	groups := (cols + g - 1) / g
	padded := groups * g
	if in.DType == INT4 {
		data = rows * padded / 2
	} else {
		data = rows * padded
	}
	scales = rows * groups * 2
	if in.Scheme == SchemeAsym {
		mins = scales
	}
	return data, scales, mins
}

// randomTensor fills every section of a tensor described by in with random bytes.
func randomTensor(rng *rand.Rand, name string, in Info) *Tensor {
	d, s, m := wantSizes(in)
	fill := func(n int64) []byte {
		if n == 0 {
			return nil
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	return &Tensor{Name: name, Info: in, Data: fill(d), Scales: fill(s), Mins: fill(m)}
}

// encodeFile returns the bytes of a whole valid .symb file for t, built by
// hand from the layout of FORMAT.md §1 and §3 (not by MarshalBinary).
func encodeFile(t *Tensor) []byte {
	le := binary.LittleEndian
	h := make([]byte, 128)
	copy(h, "SYMB")
	le.PutUint16(h[4:], 1)
	le.PutUint16(h[6:], 0)
	le.PutUint32(h[8:], 128)
	h[12] = byte(t.DType)
	h[13] = byte(t.Scheme)
	if t.DType == INT4 || t.DType == INT8 {
		h[14] = 2
	}
	h[15] = byte(len(t.Shape))
	le.PutUint32(h[16:], uint32(t.GroupSize))
	for i, d := range t.Shape {
		le.PutUint64(h[24+8*i:], uint64(d))
	}
	var buf bytes.Buffer
	buf.Write(h)
	pad := func() {
		for buf.Len()%64 != 0 {
			buf.WriteByte(0)
		}
	}
	var fields [6]uint64
	for i, sec := range [][]byte{t.Data, t.Scales, t.Mins} {
		if len(sec) == 0 {
			continue
		}
		pad()
		fields[2*i] = uint64(buf.Len())
		fields[2*i+1] = uint64(len(sec))
		buf.Write(sec)
	}
	b := buf.Bytes()
	for i, v := range fields {
		le.PutUint64(b[56+8*i:], v)
	}
	return b
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dirEntries lists the names in dir (to spot leftover temporary files).
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// allInfos is one Info of every dtype, scheme and group size over shapes of
// rank 1 to 4, with row lengths below, equal to and not a multiple of G.
func allInfos() []Info {
	shapes := [][]int{{1}, {7}, {3, 33}, {2, 64}, {2, 3, 300}, {2, 1, 2, 65}, {1, 1, 1, 257}}
	var out []Info
	for _, dt := range []DType{F32, F16, BF16} {
		for _, s := range shapes {
			out = append(out, Info{DType: dt, Shape: s})
		}
	}
	for _, dt := range []DType{INT8, INT4} {
		for _, sc := range []Scheme{SchemeSym, SchemeAsym} {
			for _, g := range []int{32, 64, 128, 256} {
				for _, s := range shapes {
					out = append(out, Info{DType: dt, Scheme: sc, GroupSize: g, Shape: s})
				}
			}
		}
	}
	return out
}
