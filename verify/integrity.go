package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/internal/workers"
	"github.com/symbc/symbc/symb"
)

// IntegrityReport is the outcome of Integrity: what was checked and every
// problem found, each naming its file.
type IntegrityReport struct {
	Pass     bool          `json:"pass"`
	Files    int           `json:"files"`   // files the manifest lists
	Bytes    int64         `json:"bytes"`   // their total size
	Tensors  int           `json:"tensors"` // tensor files opened and checked
	Problems []FileProblem `json:"problems,omitempty"`
	// Omitted counts problems beyond the first maxProblems, which are not
	// listed (a folder with nothing in it would otherwise list every tensor).
	Omitted int `json:"omitted_problems,omitempty"`
}

// FileProblem is one thing wrong with one file of the folder.
type FileProblem struct {
	File    string `json:"file"` // folder-relative, forward slashes
	Problem string `json:"problem"`
}

func (p FileProblem) String() string { return p.File + ": " + p.Problem }

const maxProblems = 1000

// Integrity checks a model folder without running it: the manifest is present
// and valid, every file has its listed size and SHA-256 and no other file
// exists; config.symb.json is valid; every tensor file the config implies
// (FORMAT.md §4) exists, opens, and has the implied shape, and no other
// tensor file exists; every scale and min is a finite float16.
//
// Problems with the folder go into the report; the error is for failures to
// check at all (dir unreadable, not a model folder, ctx canceled).
func Integrity(ctx context.Context, dir string, opts ...Option) (*IntegrityReport, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a .symb model folder (not a directory): %w", dir, symb.ErrNotSymb)
	}
	_, errCfg := os.Stat(filepath.Join(dir, symb.ConfigFile))
	_, errMan := os.Stat(filepath.Join(dir, symb.ManifestFile))
	if errors.Is(errCfg, os.ErrNotExist) && errors.Is(errMan, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a .symb model folder (no %s, no %s): %w", dir, symb.ConfigFile, symb.ManifestFile, symb.ErrNotSymb)
	}
	var probs []FileProblem
	add := func(file, format string, args ...any) {
		probs = append(probs, FileProblem{file, fmt.Sprintf(format, args...)})
	}
	rep := &IntegrityReport{}

	special, err := specialFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, rel := range special {
		add(rel, "not a regular file (links and special files are not allowed in a model folder)")
	}
	m, err := symb.ReadManifest(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		add(symb.ManifestFile, "missing: the folder is unfinished (the manifest is written last)")
	case err != nil:
		add(symb.ManifestFile, "%s", trimPath(err, filepath.Join(dir, symb.ManifestFile)))
	default:
		rep.Files = len(m.Files)
		for _, e := range m.Files {
			rep.Bytes += e.Size
		}
		mp, err := m.Check(ctx, dir, o.jobs)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil && len(special) > 0:
			add(symb.ManifestFile, "not compared with the folder because of the special files")
		case err != nil:
			return nil, err
		}
		for _, p := range mp {
			add(p.Path, "%v", p.Err)
		}
	}

	cfg, err := symb.ReadConfig(dir)
	if err != nil {
		if errors.Is(err, symb.ErrNotSymb) && errors.Is(errCfg, os.ErrNotExist) {
			add(symb.ConfigFile, "missing")
		} else {
			add(symb.ConfigFile, "%s", trimPath(err, filepath.Join(dir, symb.ConfigFile)))
		}
	} else {
		tp, n, err := checkTensors(ctx, dir, &cfg.Model, o.jobs)
		if err != nil {
			return nil, err
		}
		rep.Tensors = n
		probs = append(probs, tp...)
	}

	sort.SliceStable(probs, func(i, j int) bool { return probs[i].File < probs[j].File })
	if len(probs) > maxProblems {
		rep.Omitted = len(probs) - maxProblems
		probs = probs[:maxProblems]
	}
	rep.Problems = probs
	rep.Pass = len(probs) == 0
	return rep, nil
}

// checkTensors opens every implied tensor on up to jobs goroutines and looks
// for tensor files the config does not imply. It returns the problems and the
// number of tensor files checked.
func checkTensors(ctx context.Context, dir string, mc *symb.ModelConfig, jobs int) ([]FileProblem, int, error) {
	want, err := mc.Tensors()
	if err != nil {
		return []FileProblem{{symb.ConfigFile, err.Error()}}, 0, nil
	}
	found := make([][]FileProblem, len(want))
	opened := make([]bool, len(want))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers.Count(jobs))
	for i, w := range want {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			found[i], opened[i] = checkTensor(dir, w)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	var probs []FileProblem
	n := 0
	for i := range want {
		probs = append(probs, found[i]...)
		if opened[i] {
			n++
		}
	}
	implied := make(map[string]bool, len(want))
	for _, w := range want {
		implied[w.Name] = true
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, symb.Ext) {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !implied[strings.TrimSuffix(rel, symb.Ext)] {
			probs = append(probs, FileProblem{rel, "tensor file that config.symb.json does not imply"})
		}
		return nil
	})
	return probs, n, err
}

// checkTensor opens one implied tensor and checks its shape and scales.
func checkTensor(dir string, w symb.TensorSpec) (probs []FileProblem, opened bool) {
	rel := w.Name + symb.Ext
	full := symb.TensorPath(dir, w.Name)
	f, err := symb.Open(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return []FileProblem{{rel, fmt.Sprintf("missing (the config implies %s %v)", w.Name, w.Shape)}}, false
		}
		return []FileProblem{{rel, trimPath(err, full)}}, false
	}
	defer f.Close()
	t := f.Tensor()
	if !slices.Equal(t.Shape, w.Shape) {
		probs = append(probs, FileProblem{rel, fmt.Sprintf("shape %v, config implies %v (%s)", t.Shape, w.Shape, w.Dims)})
	}
	for _, sec := range []struct {
		name  string
		words []uint16
	}{{"scale", t.ScaleWords()}, {"min", t.MinWords()}} {
		if msg := nonFinite(sec.name, sec.words, t.GroupsPerRow()); msg != "" {
			probs = append(probs, FileProblem{rel, msg})
		}
	}
	return probs, true
}

// nonFinite describes the non-finite float16 values among words (a
// [rows][groups] array), or returns "" when all are finite.
func nonFinite(what string, words []uint16, groups int) string {
	first, count := -1, 0
	for i, w := range words {
		// All exponent bits set: infinity or NaN.
		if w&0x7c00 == 0x7c00 {
			if first < 0 {
				first = i
			}
			count++
		}
	}
	if count == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s value(s) are not finite, the first in row %d, group %d (bits %#04x)",
		count, what, first/groups, first%groups, words[first])
}

// specialFiles lists the folder-relative paths of entries that are neither
// regular files nor folders (symbolic links, devices, sockets).
func specialFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}

// trimPath drops the leading "path: " that symb's errors carry, since a
// FileProblem names the file already.
func trimPath(err error, path string) string {
	return strings.TrimPrefix(err.Error(), path+": ")
}
