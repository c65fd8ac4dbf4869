package symb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckStructure compares the model folder dir with its config c without
// reading weights or hashing anything, so that loading stays instant:
// manifest.json is present and valid, it lists every tensor file the config
// implies (FORMAT.md §4) and no other, and no tensor file outside that list
// lies in the folder. A config that says 3 layers over a folder of 5, or a
// folder whose manifest was never written, fails here rather than running.
// Hashes, sizes and headers stay the job of verify's Integrity.
//
// Errors name the folder and the first few files concerned, and wrap
// ErrCorrupt.
func CheckStructure(dir string, c *Config) error {
	m, err := ReadManifest(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no %s: the folder is unfinished (the manifest is written last) or was not written by symbc: %w",
			dir, ManifestFile, ErrCorrupt)
	}
	if err != nil {
		return err
	}
	want, err := c.Model.Tensors()
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	implied := make(map[string]bool, len(want))
	for _, t := range want {
		implied[t.Name+Ext] = true
	}
	var probs []string
	listed := make(map[string]bool, len(m.Files))
	for _, e := range m.Files {
		listed[e.Path] = true
		if strings.HasSuffix(e.Path, Ext) && !implied[e.Path] {
			probs = append(probs, e.Path+" is listed in "+ManifestFile+" but "+ConfigFile+" does not imply it")
		}
	}
	for _, t := range want {
		if !listed[t.Name+Ext] {
			probs = append(probs, fmt.Sprintf("%s%s (%v) is implied by %s but not listed in %s", t.Name, Ext, t.Shape, ConfigFile, ManifestFile))
		}
	}
	// Reading the folder's entries costs no stat per file (WalkDir uses the
	// types the directory listing returns).
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, Ext) {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); !implied[rel] && !listed[rel] {
			probs = append(probs, rel+" is a tensor file that "+ConfigFile+" does not imply")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if len(probs) == 0 {
		return nil
	}
	const show = 3
	msg := strings.Join(probs[:min(len(probs), show)], "; ")
	if len(probs) > show {
		msg += fmt.Sprintf("; and %d more", len(probs)-show)
	}
	return fmt.Errorf("%s: the folder does not match its config (run symbc verify for details): %s: %w", dir, msg, ErrCorrupt)
}
