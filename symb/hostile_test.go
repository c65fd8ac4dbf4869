package symb

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// validSample is a small valid INT4 asym file (three sections, gaps between them).
func validSample() []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	return encodeFile(randomTensor(rng, "s", Info{DType: INT4, Scheme: SchemeAsym, GroupSize: 64, Shape: []int{3, 100}}))
}

func TestHostileHeaders(t *testing.T) {
	t.Parallel()
	le := binary.LittleEndian
	put16 := func(off int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint16(b[off:], v); return b }
	}
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint32(b[off:], v); return b }
	}
	put64 := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint64(b[off:], v); return b }
	}
	put8 := func(off int, v byte) func([]byte) []byte {
		return func(b []byte) []byte { b[off] = v; return b }
	}
	seq := func(fs ...func([]byte) []byte) func([]byte) []byte {
		return func(b []byte) []byte {
			for _, f := range fs {
				b = f(b)
			}
			return b
		}
	}
	// The sample: data [128, +192), scales [320, +12), mins [384, +12), 396 bytes.
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"bad magic", put8(0, 'G'), ErrNotSymb},
		{"lowercase magic", put8(3, 'b'), ErrNotSymb},
		{"major 2", put16(4, 2), ErrVersion},
		{"major 0", put16(4, 0), ErrVersion},
		{"major 65535", put16(4, 0xffff), ErrVersion},
		{"header size 0", put32(8, 0), ErrCorrupt},
		{"header size 100", put32(8, 100), ErrCorrupt},
		{"header size 64", put32(8, 64), ErrCorrupt},
		{"header size past data", put32(8, 192), ErrCorrupt},
		{"header size huge", put32(8, 0xffffffc0), ErrCorrupt},
		{"dtype 0", put8(12, 0), ErrCorrupt},
		{"dtype 6", put8(12, 6), ErrCorrupt},
		{"dtype int8 (sizes disagree)", put8(12, byte(INT8)), ErrCorrupt},
		{"dtype f32 with scheme", put8(12, byte(F32)), ErrCorrupt},
		{"scheme none", put8(13, 0), ErrCorrupt},
		{"scheme 3", put8(13, 3), ErrCorrupt},
		{"scheme sym with mins", put8(13, byte(SchemeSym)), ErrCorrupt},
		{"scale dtype 0", put8(14, 0), ErrCorrupt},
		{"scale dtype 1", put8(14, 1), ErrCorrupt},
		{"rank 0", put8(15, 0), ErrCorrupt},
		{"rank 5", put8(15, 5), ErrCorrupt},
		{"rank 255", put8(15, 255), ErrCorrupt},
		{"rank 1 with a second dim", put8(15, 1), ErrCorrupt},
		{"rank 3 with dim 0", put8(15, 3), ErrCorrupt},
		{"group size 0", put32(16, 0), ErrCorrupt},
		{"group size 16", put32(16, 16), ErrCorrupt},
		{"group size 48", put32(16, 48), ErrCorrupt},
		{"group size 8192", put32(16, 8192), ErrCorrupt},
		{"group size max", put32(16, 0xffffffff), ErrCorrupt},
		{"flags", put32(20, 1), ErrCorrupt},
		{"dim 0", put64(24, 0), ErrCorrupt},
		{"dim huge", put64(24, 1<<63), ErrCorrupt},
		{"dim max", put64(32, ^uint64(0)), ErrCorrupt},
		{"dim beyond rank", put64(40, 1), ErrCorrupt},
		{"overflowing product", seq(put8(15, 4), put64(24, 1<<38), put64(32, 1<<38), put64(40, 1<<38), put64(48, 1<<38)), ErrCorrupt},
		{"product beyond file", put64(24, 1<<30), ErrCorrupt},
		{"data offset past EOF", put64(56, 1<<40), ErrCorrupt},
		{"data offset 0", put64(56, 0), ErrCorrupt},
		{"data offset inside header", put64(56, 64), ErrCorrupt},
		{"data offset misaligned", put64(56, 129), ErrCorrupt},
		{"data size past EOF", put64(64, ^uint64(0)), ErrCorrupt},
		{"data size short", put64(64, 191), ErrCorrupt},
		{"scales offset overlaps data", put64(72, 256), ErrCorrupt},
		{"scales offset before data", put64(72, 0), ErrCorrupt},
		{"scales offset misaligned", put64(72, 321), ErrCorrupt},
		{"scales size wrong", put64(80, 10), ErrCorrupt},
		{"mins offset overlaps scales", put64(88, 320), ErrCorrupt},
		{"mins offset past EOF", put64(88, 448), ErrCorrupt},
		{"mins size 0 with offset", put64(96, 0), ErrCorrupt},
		{"sections swapped", seq(put64(72, 384), put64(88, 320)), ErrCorrupt},
		{"truncated by one byte", func(b []byte) []byte { return b[:len(b)-1] }, ErrCorrupt},
		{"truncated to header", func(b []byte) []byte { return b[:128] }, ErrCorrupt},
		{"truncated inside header", func(b []byte) []byte { return b[:100] }, ErrCorrupt},
		{"truncated to magic", func(b []byte) []byte { return b[:8] }, ErrCorrupt},
		{"truncated major 2", func(b []byte) []byte { b[4] = 2; return b[:20] }, ErrVersion},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, ErrCorrupt},
		{"trailing block", func(b []byte) []byte { return append(b, make([]byte, 64)...) }, ErrCorrupt},
		{"foreign short file", func(b []byte) []byte { return []byte("GGUF") }, ErrNotSymb},
		{"empty file", func(b []byte) []byte { return nil }, ErrNotSymb},
	}
	if _, err := ParseHeader(validSample(), int64(len(validSample()))); err != nil {
		t.Fatalf("sample is not valid: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(validSample())
			_, err := ParseHeader(b, int64(len(b)))
			if !errors.Is(err, c.want) {
				t.Errorf("ParseHeader: %v, want %v", err, c.want)
			}
			path := writeTemp(t, "bad.symb", b)
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatal("Open accepted the file")
			}
			if !errors.Is(err, c.want) {
				t.Errorf("Open: %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Open error %q does not name the file", err)
			}
		})
	}
}

// TestParseHeaderEveryByte corrupts each header byte with several values: the
// parser must never panic, and whatever it accepts must satisfy its promises.
func TestParseHeaderEveryByte(t *testing.T) {
	t.Parallel()
	valid := validSample()
	for i := 0; i < 128; i++ {
		for _, v := range []byte{0, 1, 2, 5, 0x40, 0x7f, 0x80, 0xfe, 0xff} {
			b := validSample()
			if b[i] == v {
				continue
			}
			b[i] = v
			h, err := ParseHeader(b, int64(len(b)))
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrNotSymb) {
					t.Fatalf("byte %d = %#x: error %v wraps no sentinel", i, v, err)
				}
				continue
			}
			// Of the fixed fields only the minor version (bytes 6-7) may
			// change and still pass; a dimension may change to another value
			// with the same padded size (the invariants below still hold).
			if i < 24 && i != 6 && i != 7 {
				t.Errorf("byte %d = %#x accepted: %+v", i, v, h)
			}
			checkInvariants(t, h, int64(len(b)))
		}
	}
	if _, err := ParseHeader(valid, int64(len(valid))+1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong file size accepted: %v", err)
	}
	if _, err := ParseHeader(valid, -1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("negative file size: %v", err)
	}
}

// checkInvariants asserts what ParseHeader promises after a nil error.
func checkInvariants(t testing.TB, h Header, fileSize int64) {
	t.Helper()
	d, s, m, err := h.Info.SectionSizes()
	if err != nil {
		t.Fatalf("accepted header with invalid info: %v", err)
	}
	if h.DataSize != d || h.ScalesSize != s || h.MinsSize != m {
		t.Fatalf("accepted sizes %d/%d/%d, want %d/%d/%d", h.DataSize, h.ScalesSize, h.MinsSize, d, s, m)
	}
	prev := int64(HeaderSize)
	for _, sec := range [][2]int64{{h.DataOffset, h.DataSize}, {h.ScalesOffset, h.ScalesSize}, {h.MinsOffset, h.MinsSize}} {
		if sec[1] == 0 {
			continue
		}
		if sec[0]%Alignment != 0 || sec[0] < prev || sec[0]+sec[1] > fileSize {
			t.Fatalf("accepted section %v (previous end %d, file %d)", sec, prev, fileSize)
		}
		prev = sec[0] + sec[1]
	}
	if prev != fileSize || h.FileSize() != fileSize {
		t.Fatalf("accepted sections ending at %d in a %d-byte file", prev, fileSize)
	}
}
