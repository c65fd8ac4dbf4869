package convert

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unsafe"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/symb"
)

// Names of the checkpoint files in a Hugging Face model folder.
const (
	singleFile = "model.safetensors"
	indexFile  = "model.safetensors.index.json"
)

// ErrCheckpoint reports a checkpoint that cannot be converted as it is: a
// missing or extra tensor, a shape that disagrees with config.json, a dtype
// the converter cannot read, a broken header.
var ErrCheckpoint = errors.New("bad checkpoint")

// checkpoint is a set of mapped safetensors files with one tensor index.
type checkpoint struct {
	dir     string
	files   []*shard
	tensors map[string]*srcTensor
	fp8     [3]*[256]float32 // decoding tables by fp8Format, built on first use
}

type shard struct {
	path    string
	data    []byte
	release func() error
}

// srcTensor is one tensor of a checkpoint. It implements arch.RawReader.
type srcTensor struct {
	name  string
	file  string // path of its shard, for error messages
	stype string // safetensors dtype name as stored
	dtype symb.DType
	fp8   fp8Format     // set instead of dtype for FP8 tensors
	lut   *[256]float32 // decoding table of an FP8 tensor
	elem  int           // bytes per element; 0 when the dtype cannot be read
	shape []int
	data  []byte // the stored bytes, inside the mapping
}

// fp8Format is one of the two FP8 encodings safetensors stores.
type fp8Format uint8

const (
	fp8E4M3 fp8Format = iota + 1
	fp8E5M2
)

// readable reports whether Read can decode the tensor's dtype.
func (t *srcTensor) readable() bool { return t.elem > 0 }

// dtypeName is the stored dtype for config records: "bf16", "f8_e4m3".
func (t *srcTensor) dtypeName() string { return strings.ToLower(t.stype) }

// maxIndexBytes bounds the index file (real ones are well under 1 MB).
const maxIndexBytes = 64 << 20

// openCheckpoint maps model.safetensors, or every shard named by
// model.safetensors.index.json, and reads their headers. No tensor data is
// touched.
func openCheckpoint(dir string) (*checkpoint, error) {
	ck := &checkpoint{dir: dir, tensors: map[string]*srcTensor{}}
	idxPath := filepath.Join(dir, indexFile)
	var weightMap map[string]string
	switch b, err := fileio.ReadLimited(idxPath, maxIndexBytes); {
	case err == nil:
		if weightMap, err = parseIndex(b, idxPath); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, err
	}

	var names []string
	if weightMap == nil {
		names = []string{singleFile}
	} else {
		seen := map[string]bool{}
		for _, f := range weightMap {
			if !seen[f] {
				seen[f] = true
				names = append(names, f)
			}
		}
		sort.Strings(names)
	}
	for _, n := range names {
		if weightMap != nil {
			if _, err := os.Stat(filepath.Join(dir, n)); errors.Is(err, os.ErrNotExist) {
				ck.Close()
				return nil, fmt.Errorf("%s: %w: shard %s (holding %s) is missing from %s", idxPath, ErrCheckpoint, n, firstTensorIn(weightMap, n), dir)
			}
		}
		if err := ck.openShard(filepath.Join(dir, n)); err != nil {
			ck.Close()
			return nil, err
		}
	}
	for t, f := range weightMap {
		st, ok := ck.tensors[t]
		if !ok || filepath.Base(st.file) != f {
			ck.Close()
			return nil, fmt.Errorf("%s: %w: tensor %s is listed in %s but that file does not hold it", idxPath, ErrCheckpoint, t, f)
		}
	}
	return ck, nil
}

// firstTensorIn names a tensor the index places in file, for messages.
func firstTensorIn(weightMap map[string]string, file string) string {
	first := ""
	for t, f := range weightMap {
		if f == file && (first == "" || t < first) {
			first = t
		}
	}
	return first
}

func (ck *checkpoint) openShard(path string) error {
	f, size, err := fileio.OpenRegular(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w: no %s or %s in the folder", path, ErrCheckpoint, singleFile, indexFile)
		}
		return err
	}
	defer f.Close()
	b, rel, err := fileio.Map(f, size)
	if err != nil {
		return fmt.Errorf("%s: map: %w", path, err)
	}
	sh := &shard{path: path, data: b, release: rel}
	ck.files = append(ck.files, sh)
	entries, base, err := readHeader(b)
	if err != nil {
		return fmt.Errorf("%s: %w: safetensors header: %v", path, ErrCheckpoint, err)
	}
	for _, e := range entries {
		if other, dup := ck.tensors[e.name]; dup {
			return fmt.Errorf("%s: %w: tensor %s is also in %s", path, ErrCheckpoint, e.name, other.file)
		}
		t := &srcTensor{name: e.name, file: path, stype: e.dtype, shape: e.shape,
			data: b[base+e.begin : base+e.end]}
		switch e.dtype {
		case "F32":
			t.dtype, t.elem = symb.F32, 4
		case "F16":
			t.dtype, t.elem = symb.F16, 2
		case "BF16":
			t.dtype, t.elem = symb.BF16, 2
		case "F8_E4M3":
			t.fp8, t.elem = fp8E4M3, 1
		case "F8_E5M2":
			t.fp8, t.elem = fp8E5M2, 1
		}
		if t.fp8 != 0 {
			t.lut = ck.fp8Table(t.fp8)
		}
		ck.tensors[e.name] = t
	}
	return nil
}

// fp8Table returns the float32 value of every byte in format f. A table
// lookup decodes about three times faster than the bit arithmetic, and
// an FP8 release is hundreds of gigabytes of these bytes.
func (ck *checkpoint) fp8Table(f fp8Format) *[256]float32 {
	if ck.fp8[f] == nil {
		dec := e4m3ToF32
		if f == fp8E5M2 {
			dec = e5m2ToF32
		}
		var tab [256]float32
		for i := range tab {
			tab[i] = dec(byte(i))
		}
		ck.fp8[f] = &tab
	}
	return ck.fp8[f]
}

// Close unmaps every shard.
func (ck *checkpoint) Close() error {
	var errs []error
	for _, s := range ck.files {
		errs = append(errs, s.release())
	}
	ck.files = nil
	return errors.Join(errs...)
}

// Bytes is the total size of the checkpoint files.
func (ck *checkpoint) Bytes() int64 {
	var n int64
	for _, s := range ck.files {
		n += int64(len(s.data))
	}
	return n
}

// where names the checkpoint for errors about a tensor that is absent.
func (ck *checkpoint) where() string {
	if len(ck.files) == 1 {
		return ck.files[0].path
	}
	return filepath.Join(ck.dir, indexFile)
}

// parseIndex decodes model.safetensors.index.json and checks that every
// file it names is a plain file name inside the folder.
func parseIndex(b []byte, path string) (map[string]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrCheckpoint, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: %w: empty weight_map", path, ErrCheckpoint)
	}
	for t, f := range idx.WeightMap {
		if err := symb.CheckRelPath(f); err != nil || strings.Contains(f, "/") || !strings.HasSuffix(f, ".safetensors") {
			return nil, fmt.Errorf("%s: %w: tensor %s is in %q, which is not a .safetensors file in the folder", path, ErrCheckpoint, t, f)
		}
	}
	return idx.WeightMap, nil
}

// Shape implements arch.Reader.
func (t *srcTensor) Shape() []int { return t.shape }

func (t *srcTensor) rowsCols() (int, int) {
	if len(t.shape) == 0 {
		return 1, 1
	}
	r := 1
	for _, d := range t.shape[:len(t.shape)-1] {
		r *= d
	}
	return r, t.shape[len(t.shape)-1]
}

// Read implements arch.Reader, decoding the stored dtype to float32.
func (t *srcTensor) Read(dst []float32, r0, r1, c0, c1 int) error {
	if err := arch.CheckWindow(t.shape, dst, r0, r1, c0, c1); err != nil {
		return fmt.Errorf("%s: tensor %s: %w", t.file, t.name, err)
	}
	_, cols := t.rowsCols()
	es := t.elem
	if es == 0 {
		return fmt.Errorf("%s: tensor %s: dtype %s cannot be read", t.file, t.name, t.stype)
	}
	nc := c1 - c0
	for r := r0; r < r1; r++ {
		src := t.data[(r*cols+c0)*es : (r*cols+c1)*es]
		out := dst[(r-r0)*nc : (r-r0+1)*nc]
		switch {
		case t.lut != nil:
			for i, b := range src {
				out[i] = t.lut[b]
			}
		case t.dtype == symb.F32:
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			}
		case t.dtype == symb.BF16:
			for i := range out {
				out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
			}
		case t.dtype == symb.F16:
			for i := range out {
				out[i] = quantize.F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
			}
		default:
			return fmt.Errorf("%s: tensor %s: dtype %s cannot be read", t.file, t.name, t.stype)
		}
	}
	return nil
}

// Raw implements arch.RawReader. FP8 rows are never raw: they mean nothing
// without their block factors.
func (t *srcTensor) Raw(r0, r1 int) (symb.DType, []byte, bool) {
	rows, cols := t.rowsCols()
	es := t.dtype.ElemSize()
	if es == 0 || t.fp8 != 0 || r0 < 0 || r1 < r0 || r1 > rows {
		return 0, nil, false
	}
	return t.dtype, t.data[r0*cols*es : r1*cols*es], true
}

// aligned reports whether b starts at a multiple of n bytes, which a
// zero-copy []uint16 or []float32 view needs.
func aligned(b []byte, n uintptr) bool {
	return len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%n == 0
}
