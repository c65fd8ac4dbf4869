package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/internal/filelock"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/symb"
	"github.com/symbc/symbc/verify"
)

// Pull stores the model at the registry reference ref under its canonical
// name (registry/repository:tag, or repository@digest) and returns it. The
// tag is resolved with one manifest request; a manifest the store already
// holds under another name is not downloaded again. A name that is already
// stored is updated to what the tag points at now.
func (s *Store) Pull(ctx context.Context, ref string) (*Model, error) {
	res, err := registry.Resolve(ctx, ref, s.registry...)
	if err != nil {
		return nil, err
	}
	name := canonicalName(res)
	return s.fetch(ctx, name, func(ix *index) *nameEntry {
		for d, m := range ix.Models {
			if slices.Contains(m.OCIDigests, res.Digest) {
				return &nameEntry{Digest: d, Origin: FromRegistry, Source: ref, OCIDigest: res.Digest}
			}
		}
		return nil
	}, func(ctx context.Context, dir string) (*nameEntry, error) {
		// By digest, so that a tag moving meanwhile cannot mix two models.
		if _, err := registry.Pull(ctx, res.Ref+"@"+res.Digest, dir, s.registry...); err != nil {
			return nil, err
		}
		return &nameEntry{Origin: FromRegistry, Source: ref, OCIDigest: res.Digest}, nil
	})
}

// canonicalName is the name a registry model is stored under.
func canonicalName(res *registry.Resolved) string {
	if strings.LastIndex(res.Ref, ":") > strings.LastIndex(res.Ref, "/") {
		return res.Ref // a tag
	}
	return res.Ref + "@" + res.Digest
}

// Convert stores the Hugging Face model id, converted with convert's
// default recipe (the source goes into the Hugging Face cache as with
// `symbc convert`), under the name id.
func (s *Store) Convert(ctx context.Context, id string) (*Model, error) {
	return s.fetch(ctx, id, nil, func(ctx context.Context, dir string) (*nameEntry, error) {
		if _, err := convert.Convert(ctx, id, dir, s.convert...); err != nil {
			return nil, err
		}
		cfg, err := symb.ReadConfig(dir)
		if err != nil {
			return nil, err
		}
		return &nameEntry{Origin: FromHub, Source: id, Revision: cfg.Source.Revision}, nil
	})
}

// fetch stores a model under name: have (if not nil) may find it already
// stored by another name; otherwise get writes it into a new folder, which
// is checked and moved into place. One fetch of a name runs at a time, in
// every process.
func (s *Store) fetch(ctx context.Context, name string, have func(*index) *nameEntry,
	get func(ctx context.Context, dir string) (*nameEntry, error)) (*Model, error) {
	sum := sha256.Sum256([]byte(name))
	unlock, err := filelock.Lock(ctx, filepath.Join(s.root, locksDir, hex.EncodeToString(sum[:12])+".lock"))
	if err != nil {
		return nil, fmt.Errorf("model store %s: %w", s.root, err)
	}
	defer unlock()
	if have != nil {
		var found bool
		err := s.update(ctx, func(ix *index) error {
			e := have(ix)
			if found = e != nil; found {
				e.Added = time.Now().UTC()
				ix.Names[name] = e
			}
			return s.prune(ix)
		})
		if err != nil {
			return nil, err
		}
		if found {
			return s.Lookup(name)
		}
	}
	// What crashed runs left in tmp/ goes first.
	s.sweepTmp()
	work, release, err := s.workDir(ctx, "fetch-")
	if err != nil {
		return nil, err
	}
	defer release()
	dir := filepath.Join(work, "model")
	e, err := get(ctx, dir)
	if err != nil {
		return nil, err
	}
	if err := s.ingest(ctx, name, dir, e); err != nil {
		return nil, err
	}
	return s.Lookup(name)
}

// ingest checks the finished folder dir and moves it into models/ (or drops
// it when that digest is stored already), then points name at it.
func (s *Store) ingest(ctx context.Context, name, dir string, e *nameEntry) error {
	rep, err := verify.Integrity(ctx, dir)
	if err != nil {
		return err
	}
	if !rep.Pass {
		return fmt.Errorf("%s: not stored: the model fails its integrity check: %s (%d problems)", name, rep.Problems[0], len(rep.Problems)+rep.Omitted)
	}
	sum, err := symb.Describe(dir)
	if err != nil {
		return err
	}
	digest, err := digestOf(dir)
	if err != nil {
		return err
	}
	e.Digest, e.Added = digest, time.Now().UTC()
	if err := os.MkdirAll(filepath.Join(s.root, modelsDir), 0o755); err != nil {
		return err
	}
	return s.update(ctx, func(ix *index) error {
		m := ix.Models[digest]
		target := s.modelDir(digest)
		if m == nil {
			// A folder without an index entry is a leftover of a removal or
			// a crash: the checked folder replaces it.
			if err := s.discard(target); err != nil {
				return err
			}
			if err := os.Rename(dir, target); err != nil {
				return err
			}
			m = &modelInfo{Size: sum.TotalBytes, Params: sum.Params, BitsPerWeight: sum.BitsPerWeight, Integrity: true}
			ix.Models[digest] = m
		} else if _, err := os.Stat(filepath.Join(target, symb.ManifestFile)); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("model store %s: %s is indexed but its folder is missing; remove it with `symbc rm %s`", s.root, digest, digest)
		}
		if e.OCIDigest != "" && !slices.Contains(m.OCIDigests, e.OCIDigest) {
			m.OCIDigests = append(m.OCIDigests, e.OCIDigest)
		}
		ix.Names[name] = e
		return s.prune(ix)
	})
}
