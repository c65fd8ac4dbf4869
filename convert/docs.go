package convert

import (
	"os"
	"path/filepath"
	"strings"
)

// docStems are the documentation files that travel with a model: licence
// terms, notices and use policies (Llama's and Gemma's terms require passing
// them on) and the model card. A source file at the top of the model whose
// name is one of these stems, with no extension, .txt or .md, in any case,
// is copied unchanged to the top of the .symb folder (FORMAT.md §4).
var docStems = map[string]bool{"LICENSE": true, "LICENCE": true, "NOTICE": true, "USE_POLICY": true, "README": true, "COPYING": true}

// isDocFile reports whether name, relative to the source model, is such a file.
func isDocFile(name string) bool {
	if strings.ContainsAny(name, `/\`) {
		return false
	}
	ext := filepath.Ext(name)
	switch strings.ToLower(ext) {
	case "", ".txt", ".md":
	default:
		return false
	}
	return docStems[strings.ToUpper(strings.TrimSuffix(name, ext))]
}

// copyDocs copies the documentation files at the top of dir into dst and
// returns their names, sorted.
func copyDocs(dir, dst string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !isDocFile(e.Name()) {
			continue
		}
		src := filepath.Join(dir, e.Name())
		// Hub snapshots hold links into the blob store: follow them.
		st, err := os.Stat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if err := copyFile(src, filepath.Join(dst, e.Name())); err != nil {
			return nil, err
		}
		names = append(names, e.Name())
	}
	return names, nil
}
