package convert

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/symbc/symbc/internal/sttest"
)

const fixtures = "../testdata/models"

// stTensor is a checkpoint tensor decoded by the safetensors library, an
// implementation independent of the converter's own reader.
type stTensor struct {
	dtype safetensors.DType
	shape []int
	raw   []byte
	f32   []float32
}

func readST(t *testing.T, path string) map[string]*stTensor {
	t.Helper()
	out := map[string]*stTensor{}
	for name, x := range sttest.ReadAll(t, path) {
		out[name] = &stTensor{dtype: x.DType, shape: x.Shape, raw: x.Raw, f32: x.F32}
	}
	return out
}

// writeST writes a safetensors file with the library's serializer.
func writeST(t *testing.T, path string, ts map[string]*stTensor) {
	t.Helper()
	views := map[string]safetensors.TensorView{}
	for name, x := range ts {
		var shape []uint64
		for _, d := range x.shape {
			shape = append(shape, uint64(d))
		}
		v, err := safetensors.NewTensorView(x.dtype, shape, x.raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		views[name] = v
	}
	b, err := safetensors.Serialize(views, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files of a fixture folder into a new
// temporary folder the test may change.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// editJSON rewrites a JSON object file through fn.
func editJSON(t *testing.T, path string, fn func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// assertNothingWritten checks that out does not exist and that no
// temporary sibling was left behind.
func assertNothingWritten(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed conversion", out)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+filepath.Base(out)) {
			t.Errorf("temporary folder %s left behind", e.Name())
		}
	}
}
