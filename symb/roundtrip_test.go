package symb

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRoundTrip writes every dtype, scheme, group size and rank through the
// streaming Writer (sections in shuffled pieces) and reads it back.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for i, in := range allInfos() {
		name := fmt.Sprintf("%s_%s_g%d_%v", in.DType, in.Scheme, in.GroupSize, in.Shape)
		t.Run(name, func(t *testing.T) {
			src := randomTensor(rng, "t", in)
			path := filepath.Join(dir, fmt.Sprintf("t%03d.symb", i))
			w, err := Create(path, in)
			if err != nil {
				t.Fatal(err)
			}
			writeShuffled(t, rng, w, src)
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The writer's bytes must be exactly what the spec prescribes.
			if want := encodeFile(src); !bytes.Equal(raw, want) {
				t.Fatalf("file differs from the FORMAT.md layout (%d vs %d bytes)", len(raw), len(want))
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			checkHeader(t, f.Header, in, int64(len(raw)))
			got := f.Tensor()
			if got.Name != fmt.Sprintf("t%03d", i) {
				t.Errorf("name %q", got.Name)
			}
			if !bytes.Equal(got.Data, src.Data) || !bytes.Equal(got.Scales, src.Scales) || !bytes.Equal(got.Mins, src.Mins) {
				t.Fatal("sections differ after the round trip")
			}
			if err := got.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func writeShuffled(t *testing.T, rng *rand.Rand, w *Writer, src *Tensor) {
	type piece struct {
		sec int
		off int64
		b   []byte
	}
	var pieces []piece
	for sec, b := range [][]byte{src.Data, src.Scales, src.Mins} {
		for off := 0; off < len(b); {
			n := min(len(b)-off, 1+rng.IntN(50))
			pieces = append(pieces, piece{sec, int64(off), b[off : off+n]})
			off += n
		}
	}
	rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
	for _, p := range pieces {
		var err error
		switch p.sec {
		case 0:
			err = w.WriteData(p.off, p.b)
		case 1:
			err = w.WriteScales(p.off, p.b)
		default:
			err = w.WriteMins(p.off, p.b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func checkHeader(t *testing.T, h Header, in Info, fileSize int64) {
	t.Helper()
	d, s, m := wantSizes(in)
	if h.Major != 1 || h.Minor != 0 || h.DType != in.DType || h.Scheme != in.Scheme || h.GroupSize != in.GroupSize || !slices.Equal(h.Shape, in.Shape) {
		t.Errorf("header %+v, want info %+v", h, in)
	}
	if h.DataSize != d || h.ScalesSize != s || h.MinsSize != m {
		t.Errorf("sizes %d/%d/%d, want %d/%d/%d", h.DataSize, h.ScalesSize, h.MinsSize, d, s, m)
	}
	if h.DataOffset != 128 {
		t.Errorf("data offset %d, want 128", h.DataOffset)
	}
	for _, off := range []int64{h.DataOffset, h.ScalesOffset, h.MinsOffset} {
		if off%64 != 0 {
			t.Errorf("offset %d not 64-aligned", off)
		}
	}
	if (s == 0) != (h.ScalesOffset == 0) || (m == 0) != (h.MinsOffset == 0) {
		t.Errorf("empty sections must have offset 0: %+v", h)
	}
	if h.FileSize() != fileSize {
		t.Errorf("FileSize %d, file is %d", h.FileSize(), fileSize)
	}
	if in.DType.Quantized() {
		g := int64(in.GroupSize)
		if got, want := int64(h.PaddedCols()), (int64(in.Cols())+g-1)/g*g; got != want {
			t.Errorf("PaddedCols %d, want %d", got, want)
		}
	}
}

// TestGoldenBytes pins the exact bytes of a small INT4 asym file: the worked
// example of FORMAT.md §3.
func TestGoldenBytes(t *testing.T) {
	t.Parallel()
	in := Info{DType: INT4, Scheme: SchemeAsym, GroupSize: 32, Shape: []int{2, 40}}
	src := &Tensor{Info: in, Data: make([]byte, 64), Scales: make([]byte, 8), Mins: make([]byte, 8)}
	for i := range src.Data {
		src.Data[i] = byte(i)
	}
	for i := range src.Scales {
		src.Scales[i], src.Mins[i] = 0xA0+byte(i), 0xB0+byte(i)
	}
	path := filepath.Join(t.TempDir(), "g.symb")
	if err := WriteFile(path, src); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := strings.Join([]string{
		"53594d42", "0100", "0000", "80000000", // magic, major 1, minor 0, header size 128
		"05", "02", "02", "02", // int4, asym, f16 scales, rank 2
		"20000000", "00000000", // group size 32, flags
		"0200000000000000", "2800000000000000", "0000000000000000", "0000000000000000", // dims 2, 40
		"8000000000000000", "4000000000000000", // data at 128, 64 bytes
		"c000000000000000", "0800000000000000", // scales at 192, 8 bytes
		"0001000000000000", "0800000000000000", // mins at 256, 8 bytes
		strings.Repeat("00", 24), // reserved
	}, "")
	if got := hex.EncodeToString(raw[:128]); got != wantHeader {
		t.Fatalf("header\n got %s\nwant %s", got, wantHeader)
	}
	// The spec shows the same header as its worked example.
	if !strings.Contains(strings.Join(strings.Fields(formatDoc(t)), ""), wantHeader) {
		t.Error("FORMAT.md §3 example header differs from the file")
	}
	if len(raw) != 264 {
		t.Fatalf("file is %d bytes, want 264", len(raw))
	}
	if !bytes.Equal(raw[128:192], src.Data) || !bytes.Equal(raw[192:200], src.Scales) || !bytes.Equal(raw[256:264], src.Mins) {
		t.Fatal("section bytes misplaced")
	}
	if !bytes.Equal(raw[200:256], make([]byte, 56)) {
		t.Fatal("alignment gap is not zero")
	}
}

// TestHeaderFieldOffsets checks each header field at the byte offset the
// FORMAT.md §1 table gives, for every dtype.
func TestHeaderFieldOffsets(t *testing.T) {
	t.Parallel()
	le := binary.LittleEndian
	for _, in := range allInfos() {
		h, err := NewHeader(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		wantScale := byte(0)
		if in.DType.Quantized() {
			wantScale = 2
		}
		ok := len(b) == 128 && string(b[:4]) == "SYMB" && le.Uint16(b[4:]) == 1 && le.Uint16(b[6:]) == 0 &&
			le.Uint32(b[8:]) == 128 && b[12] == byte(in.DType) && b[13] == byte(in.Scheme) && b[14] == wantScale &&
			int(b[15]) == len(in.Shape) && int(le.Uint32(b[16:])) == in.GroupSize && le.Uint32(b[20:]) == 0
		for i := 0; i < 4; i++ {
			want := uint64(0)
			if i < len(in.Shape) {
				want = uint64(in.Shape[i])
			}
			ok = ok && le.Uint64(b[24+8*i:]) == want
		}
		for i, v := range []int64{h.DataOffset, h.DataSize, h.ScalesOffset, h.ScalesSize, h.MinsOffset, h.MinsSize} {
			ok = ok && le.Uint64(b[56+8*i:]) == uint64(v)
		}
		ok = ok && bytes.Equal(b[104:], make([]byte, 24))
		if !ok {
			t.Fatalf("%+v: header bytes %x", in, b)
		}
		back, err := ParseHeader(b, h.FileSize())
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if !slices.Equal(back.Shape, in.Shape) || back.DataOffset != h.DataOffset || back.MinsSize != h.MinsSize {
			t.Fatalf("%+v: parsed %+v", in, back)
		}
	}
}

func TestDTypeCodesAndNames(t *testing.T) {
	t.Parallel()
	codes := map[DType]uint8{F32: 1, F16: 2, BF16: 3, INT8: 4, INT4: 5}
	for d, c := range codes {
		if uint8(d) != c {
			t.Errorf("%s has code %d, FORMAT.md says %d", d, uint8(d), c)
		}
		back, err := ParseDType(d.String())
		if err != nil || back != d {
			t.Errorf("ParseDType(%q) = %v, %v", d.String(), back, err)
		}
	}
	if SchemeNone != 0 || SchemeSym != 1 || SchemeAsym != 2 {
		t.Error("scheme codes differ from FORMAT.md")
	}
	for _, bad := range []DType{0, 6, 255} {
		if bad.Valid() {
			t.Errorf("dtype %d valid", bad)
		}
	}
	if _, err := ParseDType("int3"); err == nil {
		t.Error("ParseDType accepted int3")
	}
}

func TestInfoValidate(t *testing.T) {
	t.Parallel()
	bad := []Info{
		{DType: F32, Shape: nil},
		{DType: F32, Shape: []int{1, 2, 3, 4, 5}},
		{DType: F32, Shape: []int{0}},
		{DType: F32, Shape: []int{-1, 3}},
		{DType: F16, Scheme: SchemeSym, Shape: []int{4}},
		{DType: BF16, GroupSize: 32, Shape: []int{4}},
		{DType: INT4, Scheme: SchemeNone, GroupSize: 32, Shape: []int{4}},
		{DType: INT4, Scheme: SchemeSym, GroupSize: 48, Shape: []int{4}},
		{DType: INT8, Scheme: SchemeAsym, GroupSize: 0, Shape: []int{4}},
		{DType: INT8, Scheme: SchemeAsym, GroupSize: 8192, Shape: []int{4}},
		{DType: 9, Shape: []int{4}},
	}
	for _, in := range bad {
		if err := in.Validate(); err == nil {
			t.Errorf("%+v validated", in)
		}
		if _, err := Create(filepath.Join(t.TempDir(), "x.symb"), in); err == nil {
			t.Errorf("Create accepted %+v", in)
		}
	}
	huge := Info{DType: F32, Shape: []int{1 << 30, 1 << 30, 1 << 30, 1 << 30}}
	if _, _, _, err := huge.SectionSizes(); err == nil {
		t.Error("overflowing shape accepted")
	}
}
