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

	"github.com/nlpodyssey/safetensors"

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
	shape []int
	data  []byte // the stored bytes, inside the mapping
}

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
	// ReadMetadata bounds the header length, checks that the offsets tile
	// the data section exactly and that it ends at the end of the file.
	if len(b) < 8 {
		return fmt.Errorf("%s: %w: %d bytes, shorter than the safetensors header length", path, ErrCheckpoint, len(b))
	}
	if hl := binary.LittleEndian.Uint64(b); hl > uint64(len(b)-8) {
		return fmt.Errorf("%s: %w: header length %d exceeds the file size %d (truncated, or not a safetensors file)", path, ErrCheckpoint, hl, len(b))
	}
	n, meta, err := safetensors.ReadMetadata(b)
	if err != nil {
		return fmt.Errorf("%s: %w: safetensors header: %v (truncated file or wrong offsets?)", path, ErrCheckpoint, err)
	}
	base := 8 + n
	for name, info := range meta.Tensors() {
		if other, dup := ck.tensors[name]; dup {
			return fmt.Errorf("%s: %w: tensor %s is also in %s", path, ErrCheckpoint, name, other.file)
		}
		shape := make([]int, len(info.Shape))
		for i, d := range info.Shape {
			if d > math.MaxInt32 {
				return fmt.Errorf("%s: %w: tensor %s has dimension %d", path, ErrCheckpoint, name, d)
			}
			shape[i] = int(d)
		}
		t := &srcTensor{name: name, file: path, stype: info.DType.String(), shape: shape,
			data: b[base+info.DataOffsets[0] : base+info.DataOffsets[1]]}
		switch info.DType {
		case safetensors.F32:
			t.dtype = symb.F32
		case safetensors.F16:
			t.dtype = symb.F16
		case safetensors.BF16:
			t.dtype = symb.BF16
		}
		ck.tensors[name] = t
	}
	return nil
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
	es := t.dtype.ElemSize()
	nc := c1 - c0
	for r := r0; r < r1; r++ {
		src := t.data[(r*cols+c0)*es : (r*cols+c1)*es]
		out := dst[(r-r0)*nc : (r-r0+1)*nc]
		switch t.dtype {
		case symb.F32:
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			}
		case symb.BF16:
			for i := range out {
				out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
			}
		case symb.F16:
			for i := range out {
				out[i] = quantize.F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
			}
		default:
			return fmt.Errorf("%s: tensor %s: dtype %s cannot be read", t.file, t.name, t.stype)
		}
	}
	return nil
}

// Raw implements arch.RawReader.
func (t *srcTensor) Raw(r0, r1 int) (symb.DType, []byte, bool) {
	rows, cols := t.rowsCols()
	es := t.dtype.ElemSize()
	if es == 0 || r0 < 0 || r1 < r0 || r1 > rows {
		return 0, nil, false
	}
	return t.dtype, t.data[r0*cols*es : r1*cols*es], true
}

// aligned reports whether b starts at a multiple of n bytes, which a
// zero-copy []uint16 or []float32 view needs.
func aligned(b []byte, n uintptr) bool {
	return len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%n == 0
}
