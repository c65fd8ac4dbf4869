package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/symbc/symbc/symb"
)

// publishWithoutLocalPaths keeps local absolute paths out of verify.json
// as pushed (it is not listed in manifest.json, so it can differ from the
// local copy). config.symb.json is pushed as it is: a pulled folder must be
// byte-identical to the pushed one (the model store names models by the
// digest of manifest.json), so its recorded source path has to be chosen
// when converting.
func (a *artifact) publishWithoutLocalPaths() error {
	byTitle := map[string]*layerPlan{}
	for _, l := range a.layers {
		if !l.packed {
			byTitle[l.title] = l
		}
	}
	if l := byTitle[symb.ReportFile]; l != nil {
		rep, changed, err := withoutLocalSource(filepath.Join(a.dir, symb.ReportFile))
		if err != nil {
			return err
		}
		if changed {
			l.setContent(rep)
		}
	}
	return nil
}

// withoutLocalSource reads a JSON file and, when its source.path is an
// absolute path, returns it with only the folder's name there.
func withoutLocalSource(p string) ([]byte, bool, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, false, nil // not an object: nothing to rewrite
	}
	var src map[string]json.RawMessage
	var local string
	if json.Unmarshal(doc["source"], &src) != nil || json.Unmarshal(src["path"], &local) != nil || !filepath.IsAbs(local) {
		return b, false, nil
	}
	name, _ := json.Marshal(filepath.Base(local))
	src["path"] = name
	if doc["source"], err = json.Marshal(src); err != nil {
		return nil, false, err
	}
	var buf bytes.Buffer
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, false, err
	}
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return nil, false, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), true, nil
}

// setContent makes a file layer send b instead of the file's bytes.
func (l *layerPlan) setContent(b []byte) {
	sum := sha256.Sum256(b)
	l.content = b
	l.desc.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	l.desc.Size = int64(len(b))
	l.diffID = l.desc.Digest
	l.desc.Annotations[AnnotationFileMetadata] = fileMetadata(path.Base(l.title), l.desc.Size)
}
