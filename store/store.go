// Package store keeps .symb models by name on this machine, as ollama and
// the Hugging Face cache do: `symbc run registry.example.com/m:int4` or
// `symbc run org/name` fetches the model once (Pull from an OCI registry,
// Convert from the Hub) and every later command finds it by the same name.
//
// A model lives once, in a folder named by its digest (the SHA-256 of its
// manifest.json, which lists the SHA-256 of every file): two names for the
// same bytes share one folder. A model enters the store only after
// verify.Integrity passed on it. index.json maps names to digests; it is
// rewritten atomically under a lock file, and fetching a name holds a lock
// of its own, so concurrent commands on one store wait for each other
// instead of fetching twice or losing an update. Fetches and removals work
// in tmp/, each folder owned through a lock file; what a crashed run left
// there is removed by the next fetch or removal (tmp.go).
//
// Start with Resolve (resolve.go), which every command uses to turn its
// model argument into a folder.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/internal/filelock"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/symb"
	"github.com/symbc/symbc/verify"
)

// ErrNotFound reports a name the store does not hold.
var ErrNotFound = errors.New("not in the model store")

// Layout of a store folder.
const (
	indexFile  = "index.json"
	lockFile   = "index.lock"
	modelsDir  = "models" // models/<sha256 hex>/: one .symb folder per digest
	tmpDir     = "tmp"    // fetches in progress; renamed into models/ when done
	locksDir   = "locks"  // one lock file per name being fetched
	maxIndex   = 64 << 20
	maxReport  = 16 << 20
	indexLevel = 1
)

// Origin says how a model came into the store.
type Origin string

const (
	FromRegistry Origin = "registry" // pulled from an OCI registry
	FromHub      Origin = "hub"      // converted from a Hugging Face Hub id
	FromFolder   Origin = "folder"   // not stored: a folder named on the command line
)

// Model is one name of a stored model (or, from Resolve, a plain folder).
type Model struct {
	Name          string    `json:"name"`
	Digest        string    `json:"digest,omitempty"` // sha256:... of manifest.json
	Dir           string    `json:"dir"`
	Origin        Origin    `json:"origin"`
	Source        string    `json:"source,omitempty"`     // the reference or Hub id it came from
	OCIDigest     string    `json:"oci_digest,omitempty"` // manifest digest in the registry
	Revision      string    `json:"revision,omitempty"`   // Hub commit
	Added         time.Time `json:"added,omitzero"`
	Size          int64     `json:"size,omitempty"` // bytes of every file
	Params        int64     `json:"parameters,omitempty"`
	BitsPerWeight float64   `json:"bits_per_weight,omitempty"`
	// Verified is what is known of the model's quality: the integrity check
	// every stored model passed on the way in, and the verdict of the
	// folder's verify.json when it has one.
	Verified *Verified `json:"verified,omitempty"`
}

// Verified is the verify result of a stored model.
type Verified struct {
	Integrity     bool     `json:"integrity"`      // verify.Integrity passed when it was stored
	Pass          *bool    `json:"pass,omitempty"` // verify.json's verdict
	MeanKLD       *float64 `json:"mean_kld,omitempty"`
	Top1Agreement *float64 `json:"top1_agreement,omitempty"`
	Reference     string   `json:"reference,omitempty"`
}

// String is the short form `symbc list` prints.
func (v *Verified) String() string {
	if v == nil {
		return "-"
	}
	if v.Pass == nil {
		if v.Integrity {
			return "integrity ok"
		}
		return "unchecked"
	}
	s := "FAIL"
	if *v.Pass {
		s = "pass"
	}
	if v.MeanKLD != nil {
		s += fmt.Sprintf(" (KLD %.3g)", *v.MeanKLD)
	}
	return s
}

// Option configures a Store.
type Option func(*Store)

// WithRegistryOptions passes options (credentials, progress, transport) to
// every registry call of the store.
func WithRegistryOptions(opts ...registry.Option) Option {
	return func(s *Store) { s.registry = append(s.registry, opts...) }
}

// WithConvertOptions passes options (Hub client, progress, tool) to every
// conversion of the store. The recipe is convert's default.
func WithConvertOptions(opts ...convert.Option) Option {
	return func(s *Store) { s.convert = append(s.convert, opts...) }
}

// Store is a model store rooted at one folder. Its methods may be called
// from several goroutines and processes at once.
type Store struct {
	root     string
	registry []registry.Option
	convert  []convert.Option
}

// Open returns the store at root. Nothing is created until a model is
// stored, so a command that is given a folder leaves no trace.
func Open(root string, opts ...Option) *Store {
	s := &Store{root: filepath.Clean(root)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Root is the store's folder.
func (s *Store) Root() string { return s.root }

// index is index.json: names and the models they point at.
type index struct {
	Version int                   `json:"version"`
	Names   map[string]*nameEntry `json:"names"`
	Models  map[string]*modelInfo `json:"models"` // by digest
}

type nameEntry struct {
	Digest    string    `json:"digest"`
	Origin    Origin    `json:"origin"`
	Source    string    `json:"source,omitempty"`
	OCIDigest string    `json:"oci_digest,omitempty"`
	Revision  string    `json:"revision,omitempty"`
	Added     time.Time `json:"added"`
}

type modelInfo struct {
	Size          int64    `json:"size"`
	Params        int64    `json:"parameters"`
	BitsPerWeight float64  `json:"bits_per_weight"`
	Integrity     bool     `json:"integrity"`
	OCIDigests    []string `json:"oci_digests,omitempty"`
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func (s *Store) readIndex() (*index, error) {
	ix := &index{Version: indexLevel, Names: map[string]*nameEntry{}, Models: map[string]*modelInfo{}}
	p := filepath.Join(s.root, indexFile)
	b, err := fileio.ReadLimited(p, maxIndex)
	if errors.Is(err, os.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, ix); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if ix.Version != indexLevel {
		return nil, fmt.Errorf("%s: version %d, this symbc reads version %d", p, ix.Version, indexLevel)
	}
	if ix.Names == nil {
		ix.Names = map[string]*nameEntry{}
	}
	if ix.Models == nil {
		ix.Models = map[string]*modelInfo{}
	}
	// Digests become folder names: anything else in the file is refused.
	for n, e := range ix.Names {
		if e == nil || !digestRE.MatchString(e.Digest) || ix.Models[e.Digest] == nil {
			return nil, fmt.Errorf("%s: name %q points at no stored model", p, n)
		}
	}
	for d, m := range ix.Models {
		if !digestRE.MatchString(d) || m == nil {
			return nil, fmt.Errorf("%s: %q is not a sha256 digest", p, d)
		}
	}
	return ix, nil
}

// update applies fn to the index under the store's lock and writes the
// result atomically; fn's error leaves the index as it was.
func (s *Store) update(ctx context.Context, fn func(*index) error) error {
	unlock, err := filelock.Lock(ctx, filepath.Join(s.root, lockFile))
	if err != nil {
		return fmt.Errorf("model store %s: %w", s.root, err)
	}
	defer unlock()
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(ix); err != nil {
		return err
	}
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	return fileio.WriteAtomic(filepath.Join(s.root, indexFile), append(b, '\n'), 0o600)
}

func (s *Store) modelDir(digest string) string {
	return filepath.Join(s.root, modelsDir, strings.TrimPrefix(digest, "sha256:"))
}

func (s *Store) model(name string, e *nameEntry, m *modelInfo) Model {
	dir := s.modelDir(e.Digest)
	return Model{
		Name: name, Digest: e.Digest, Dir: dir, Origin: e.Origin, Source: e.Source,
		OCIDigest: e.OCIDigest, Revision: e.Revision, Added: e.Added,
		Size: m.Size, Params: m.Params, BitsPerWeight: m.BitsPerWeight,
		Verified: readVerified(dir, m.Integrity),
	}
}

// readVerified adds the folder's verify.json, read now: `symbc verify
// --save` on a stored model updates what List says.
func readVerified(dir string, integrity bool) *Verified {
	v := &Verified{Integrity: integrity}
	b, err := fileio.ReadLimited(filepath.Join(dir, symb.ReportFile), maxReport)
	if err != nil {
		return v
	}
	var r verify.Report
	if json.Unmarshal(b, &r) != nil {
		return v
	}
	v.Pass, v.Reference = &r.Pass, r.Reference
	if o := r.Overall; o != nil {
		v.MeanKLD, v.Top1Agreement = &o.MeanKLD, &o.Top1Agreement
	}
	return v
}

// List returns every name in the store, sorted.
func (s *Store) List() ([]Model, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	out := make([]Model, 0, len(ix.Names))
	for n, e := range ix.Names {
		out = append(out, s.model(n, e, ix.Models[e.Digest]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup finds a stored model by name, or by its digest (sha256:HEX, or at
// least 12 hex digits of it) as List prints it. The name is taken as it is;
// Resolve canonicalises references first.
func (s *Store) Lookup(name string) (*Model, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	if e := ix.Names[name]; e != nil {
		m := s.model(name, e, ix.Models[e.Digest])
		return &m, nil
	}
	if d, ok := digestPrefix(name); ok {
		var found []string
		for n, e := range ix.Names {
			if strings.HasPrefix(e.Digest, d) {
				found = append(found, n)
			}
		}
		sort.Strings(found)
		if len(found) > 0 {
			e := ix.Names[found[0]]
			for _, n := range found[1:] {
				if ix.Names[n].Digest != e.Digest {
					return nil, fmt.Errorf("%s: the digest prefix names more than one model (%s, %s)", name, found[0], n)
				}
			}
			m := s.model(found[0], e, ix.Models[e.Digest])
			return &m, nil
		}
	}
	return nil, fmt.Errorf("%s: %w %s", name, ErrNotFound, s.root)
}

var hexPrefixRE = regexp.MustCompile(`^(?:sha256:)?([0-9a-f]{12,64})$`)

func digestPrefix(s string) (string, bool) {
	m := hexPrefixRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return "sha256:" + m[1], true
}

// Remove deletes the name (or every name of a digest given as Lookup takes
// it) and, once no name points at it any more, the model folder. It returns
// the names removed.
func (s *Store) Remove(ctx context.Context, name string) ([]string, error) {
	s.sweepTmp()
	var removed []string
	err := s.update(ctx, func(ix *index) error {
		removed = nil
		if ix.Names[name] != nil {
			removed = []string{name}
		} else if d, ok := digestPrefix(name); ok {
			for n, e := range ix.Names {
				if strings.HasPrefix(e.Digest, d) {
					removed = append(removed, n)
				}
			}
		}
		if len(removed) == 0 {
			return fmt.Errorf("%s: %w %s", name, ErrNotFound, s.root)
		}
		for _, n := range removed {
			delete(ix.Names, n)
		}
		// The folders go while the lock is held, so that a fetch of the
		// same digest cannot find a half-deleted folder.
		return s.prune(ix)
	})
	sort.Strings(removed)
	return removed, err
}

// prune deletes the models no name points at any more (a tag that moved
// leaves its old model behind).
func (s *Store) prune(ix *index) error {
	used := map[string]bool{}
	for _, e := range ix.Names {
		used[e.Digest] = true
	}
	for d := range ix.Models {
		if !used[d] {
			if err := s.discard(s.modelDir(d)); err != nil {
				return err
			}
			delete(ix.Models, d)
		}
	}
	return nil
}

// discard renames dir into tmp/ and deletes it there (a crash meanwhile
// leaves it to the next sweep of tmp/).
func (s *Store) discard(dir string) error {
	gone, release, err := s.workDir(context.Background(), "rm-")
	if err != nil {
		return err
	}
	defer release()
	if err := os.Rename(dir, filepath.Join(gone, "model")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(gone)
}

// digestOf is the store's address of a model folder: the SHA-256 of its
// manifest.json.
func digestOf(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, symb.ManifestFile))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
