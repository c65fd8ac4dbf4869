package symb

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/internal/fileio"
)

// LocalFile holds what is true of a model folder on this machine only: the
// absolute path of the folder it was converted from. It is never listed in
// the manifest and never published (push leaves it out, pull refuses it),
// so config.symb.json can record just the source folder's name while
// `symbc verify` still finds the source here (FORMAT.md §6).
const LocalFile = "local.json"

// maxLocalBytes bounds local.json.
const maxLocalBytes = 1 << 20

// Local is the content of local.json.
type Local struct {
	SourcePath string `json:"source_path,omitempty"` // absolute folder the model was converted from
}

// WriteLocal writes dir/local.json.
func WriteLocal(dir string, l *Local) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return fileio.WriteAtomic(filepath.Join(dir, LocalFile), append(b, '\n'), 0o644)
}

// ReadLocal reads dir/local.json; a folder without one gives an empty Local
// and no error.
func ReadLocal(dir string) (*Local, error) {
	p := filepath.Join(dir, LocalFile)
	b, err := fileio.ReadLimited(p, maxLocalBytes)
	if errors.Is(err, os.ErrNotExist) {
		return &Local{}, nil
	}
	if err != nil {
		return nil, err
	}
	var l Local
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &l, nil
}
