package symb

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Summary describes a model folder from its config and tensor headers. It is
// what `symbc inspect` prints; building it reads only headers, never weights,
// and checks nothing beyond what reading them needs.
type Summary struct {
	Dir           string       `json:"dir"`
	Architecture  string       `json:"architecture"`
	Source        Source       `json:"source"`
	Model         ModelConfig  `json:"model"`
	Quantization  Quantization `json:"quantization"`
	Params        int64        `json:"parameters"`      // sum of the elements of every tensor
	TensorBytes   int64        `json:"tensor_bytes"`    // bytes of all .symb files
	TotalBytes    int64        `json:"total_bytes"`     // bytes of every file in the folder
	BitsPerWeight float64      `json:"bits_per_weight"` // 8·TensorBytes / Params
	Tensors       []TensorInfo `json:"tensors"`         // in natural name order (layer_2 before layer_10)
}

// TensorInfo is one tensor file as its header describes it.
type TensorInfo struct {
	Name      string `json:"name"`
	DType     string `json:"dtype"`
	Scheme    string `json:"scheme,omitempty"` // sym or asym for integer dtypes
	GroupSize int    `json:"group_size,omitempty"`
	Shape     []int  `json:"shape"`
	Params    int64  `json:"parameters"`
	Bytes     int64  `json:"bytes"` // size of the file
}

// Describe summarises the model folder dir. A folder without config.symb.json
// gives an error wrapping ErrNotSymb that says so; an unreadable tensor header
// gives an error naming the file.
func Describe(dir string) (*Summary, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, notModelFolder{dir, "not a directory"}
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); errors.Is(err, os.ErrNotExist) {
		return nil, notModelFolder{dir, "no " + ConfigFile}
	}
	c, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	s := &Summary{Dir: dir, Architecture: c.Architecture, Source: c.Source, Model: c.Model, Quantization: c.Quantization}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		s.TotalBytes += info.Size()
		if !strings.HasSuffix(p, Ext) || !info.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h, err := readHeader(p)
		if err != nil {
			return err
		}
		ti := TensorInfo{
			Name:  strings.TrimSuffix(filepath.ToSlash(rel), Ext),
			DType: h.DType.String(), GroupSize: h.GroupSize,
			Shape: h.Shape, Params: h.Elements(), Bytes: info.Size(),
		}
		if h.DType.Quantized() {
			ti.Scheme = h.Scheme.String()
		}
		s.Tensors = append(s.Tensors, ti)
		s.Params += ti.Params
		s.TensorBytes += ti.Bytes
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(s.Tensors, func(i, j int) bool { return naturalLess(s.Tensors[i].Name, s.Tensors[j].Name) })
	if s.Params > 0 {
		s.BitsPerWeight = 8 * float64(s.TensorBytes) / float64(s.Params)
	}
	return s, nil
}

// notModelFolder says plainly that a path is not a model folder; it matches
// ErrNotSymb without repeating that error's text.
type notModelFolder struct{ dir, why string }

func (e notModelFolder) Error() string        { return e.dir + " is not a .symb model folder (" + e.why + ")" }
func (e notModelFolder) Is(target error) bool { return target == ErrNotSymb }

// readHeader reads and validates the header of a .symb file without mapping it.
func readHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Header{}, err
	}
	b := make([]byte, HeaderSize)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Header{}, fmt.Errorf("%s: %w", path, err)
	}
	h, err := ParseHeader(b[:n], st.Size())
	if err != nil {
		return Header{}, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// naturalLess orders names with their digit runs compared as numbers, so that
// layers/layer_99 sorts before layers/layer_100.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
