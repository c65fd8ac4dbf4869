package symb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/internal/workers"
)

// Files of a model folder that the manifest does not list (FORMAT.md §6).
const (
	ManifestFile = "manifest.json" // the manifest itself, written last
	ReportFile   = "verify.json"   // the report `symbc verify --save` writes
)

// ErrMismatch reports a file whose size or digest differs from the manifest.
var ErrMismatch = errors.New("does not match the manifest")

// Manifest lists every file of a model folder with its size and SHA-256.
type Manifest struct {
	Format  string          `json:"format"` // "symb-manifest"
	Version int             `json:"version"`
	Files   []ManifestEntry `json:"files"` // sorted by Path
}

// ManifestEntry is one file of the folder.
type ManifestEntry struct {
	Path   string `json:"path"` // relative, forward slashes
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// Unlisted reports whether a folder-relative path is one the manifest leaves
// out: manifest.json, verify.json and local.json.
func Unlisted(rel string) bool { return rel == ManifestFile || rel == ReportFile || rel == LocalFile }

// ListFiles returns the folder-relative paths of all regular files under dir
// that the manifest covers, sorted. Symlinks and other special files are errors.
func ListFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", rel)
		}
		if !Unlisted(rel) {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// HashFile returns the size and hex SHA-256 of a file, streamed.
func HashFile(path string) (int64, string, error) {
	f, _, err := fileio.OpenRegular(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// BuildManifest hashes every file of dir (but the unlisted ones) on up to
// jobs goroutines (0: all cores).
func BuildManifest(ctx context.Context, dir string, jobs int) (*Manifest, error) {
	files, err := ListFiles(dir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: "symb-manifest", Version: 1, Files: make([]ManifestEntry, len(files))}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers.Count(jobs))
	for i, rel := range files {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			size, sum, err := HashFile(filepath.Join(dir, filepath.FromSlash(rel)))
			m.Files[i] = ManifestEntry{Path: rel, Size: size, SHA256: sum}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return m, nil
}

// WriteManifest writes dir/manifest.json atomically (temporary name, rename).
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fileio.WriteAtomic(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

// maxManifestBytes bounds what ReadManifest will load (a million files fit).
const maxManifestBytes = 256 << 20

// ReadManifest reads and validates dir/manifest.json: known format, clean
// relative paths, no duplicates, sane sizes and digests.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	f, _, err := fileio.OpenRegular(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes: %w", p, maxManifestBytes, ErrCorrupt)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", p, ErrCorrupt, err)
	}
	if m.Format != "symb-manifest" || m.Version != 1 {
		return nil, fmt.Errorf("%s: format %q version %d, want symb-manifest 1: %w", p, m.Format, m.Version, ErrCorrupt)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, e := range m.Files {
		if err := CheckRelPath(e.Path); err != nil {
			return nil, fmt.Errorf("%s: %w: %v", p, ErrCorrupt, err)
		}
		if seen[e.Path] || Unlisted(e.Path) {
			return nil, fmt.Errorf("%s: %q listed twice or not allowed: %w", p, e.Path, ErrCorrupt)
		}
		seen[e.Path] = true
		if e.Size < 0 || len(e.SHA256) != 64 || strings.ToLower(e.SHA256) != e.SHA256 {
			return nil, fmt.Errorf("%s: entry %q has size %d, sha256 %q: %w", p, e.Path, e.Size, e.SHA256, ErrCorrupt)
		}
		if _, err := hex.DecodeString(e.SHA256); err != nil {
			return nil, fmt.Errorf("%s: entry %q sha256 is not hex: %w", p, e.Path, ErrCorrupt)
		}
	}
	return &m, nil
}

// Problem is one disagreement between a folder and its manifest.
type Problem struct {
	Path string
	Err  error
}

func (p Problem) Error() string { return p.Path + ": " + p.Err.Error() }

// Check compares dir with the manifest: every listed file exists with its size
// and digest (hashed on up to jobs goroutines), and no other file exists but
// the unlisted ones. It returns all problems found, sorted by path.
func (m *Manifest) Check(ctx context.Context, dir string, jobs int) ([]Problem, error) {
	present, err := ListFiles(dir)
	if err != nil {
		return nil, err
	}
	listed := make(map[string]bool, len(m.Files))
	for _, e := range m.Files {
		listed[e.Path] = true
	}
	var probs []Problem
	for _, rel := range present {
		if !listed[rel] {
			probs = append(probs, Problem{rel, errors.New("file is not in the manifest")})
		}
	}
	found := make([]*Problem, len(m.Files))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers.Count(jobs))
	for i, e := range m.Files {
		// A manifest built in memory (not by ReadManifest) may hold any path:
		// never look outside dir for it.
		if err := CheckRelPath(e.Path); err != nil {
			found[i] = &Problem{e.Path, fmt.Errorf("%w: %v", ErrCorrupt, err)}
			continue
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			full := filepath.Join(dir, filepath.FromSlash(e.Path))
			st, err := os.Lstat(full)
			switch {
			case errors.Is(err, os.ErrNotExist):
				found[i] = &Problem{e.Path, errors.New("missing")}
				return nil
			case err != nil:
				return err
			case !st.Mode().IsRegular():
				found[i] = &Problem{e.Path, errors.New("not a regular file")}
				return nil
			case st.Size() != e.Size:
				found[i] = &Problem{e.Path, fmt.Errorf("%w: size %d, manifest says %d", ErrMismatch, st.Size(), e.Size)}
				return nil
			}
			_, sum, err := HashFile(full)
			if err != nil {
				return err
			}
			if sum != e.SHA256 {
				found[i] = &Problem{e.Path, fmt.Errorf("%w: sha256 %s, manifest says %s", ErrMismatch, shortDigest(sum), shortDigest(e.SHA256))}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, p := range found {
		if p != nil {
			probs = append(probs, *p)
		}
	}
	sort.Slice(probs, func(i, j int) bool { return probs[i].Path < probs[j].Path })
	return probs, nil
}

// shortDigest abbreviates a hex digest for messages; it tolerates short or
// empty strings from a manifest that was not validated.
func shortDigest(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
