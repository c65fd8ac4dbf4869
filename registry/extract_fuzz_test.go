package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExtractTar feeds arbitrary bytes to the tar extractor: it may fail,
// but must not panic, write outside the pull folder or create anything but
// folders and regular files.
func FuzzExtractTar(f *testing.F) {
	for _, es := range [][]entry{
		{{name: "layers/layer_00/", typ: tar.TypeDir}, {name: "layers/layer_00/a.symb", typ: tar.TypeReg, body: "abc"}},
		{{name: "layers/layer_00/../evil", typ: tar.TypeReg, body: "abc"}},
		{{name: "layers/layer_00/x", typ: tar.TypeSymlink, link: "../../evil"}},
	} {
		f.Add(tarOf(f, es, false), false)
		f.Add(tarOf(f, es, true), true)
	}
	sizes := map[string]int64{"layers/layer_00/a.symb": 3, "layers/layer_00/experts/b.symb": 5}
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		parent := t.TempDir()
		root := filepath.Join(parent, "pull")
		l := pullLayer{title: "layers/layer_00", tar: true, gzip: gz}
		_ = extractTar(context.Background(), bytes.NewReader(data), l, root, tarRules{sizes: sizes})
		filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if p != parent && p != root && !strings.HasPrefix(p, filepath.Join(root, "layers", "layer_00")) && p != filepath.Join(root, "layers") {
				t.Errorf("extraction created %s", p)
			}
			if !d.IsDir() && !d.Type().IsRegular() {
				t.Errorf("extraction created %s of type %v", p, d.Type())
			}
			return nil
		})
	})
}
