package convert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/convert/hub"
	"github.com/symbc/symbc/internal/fileio"
	"github.com/symbc/symbc/symb"
)

// tokenizerFiles are copied verbatim from the source folder into
// OUT/tokenizer/ when present.
var tokenizerFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"generation_config.json", "chat_template.jinja", "chat_template.json", "tokenizer.model",
}

// source is a resolved model: a local folder holding config.json, the
// checkpoint and the tokenizer files, and where it came from.
type source struct {
	dir      string // folder with the files (a Hub snapshot for Hub models)
	path     string // absolute local folder, for local sources
	id       string // Hub repo id, for Hub models
	revision string // Hub commit, for Hub models
	hf       *arch.HFConfig
	adapter  arch.Adapter
	cfg      symb.ModelConfig // derived by the adapter from config.json alone
	gen      *symb.Generation // sampling settings of generation_config.json, set by load
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// resolve finds the model: a local folder wins over a Hub id of the same
// spelling. config.json is read and the architecture checked before any
// weight is downloaded, so an unsupported model fails in seconds.
func resolve(ctx context.Context, s string, o *options) (*source, error) {
	if st, err := os.Stat(s); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a folder (want a Hugging Face model folder with config.json)", s)
		}
		if o.files != nil {
			return nil, fmt.Errorf("%s: %s selects files of a Hugging Face Hub repository; this is a local folder", s, o.files)
		}
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, err
		}
		src := &source{dir: abs, path: abs}
		if err := src.readConfig(filepath.Join(abs, "config.json"), o); err != nil {
			return nil, err
		}
		return src, nil
	}
	repo, ok := hub.ParseRepoID(s)
	if !ok {
		return nil, fmt.Errorf("%s: no such folder, and not a Hugging Face model id (org/name)", s)
	}
	if err := needFile(repo, "config.json", o.files); err != nil {
		return nil, err
	}
	client, err := o.hubClient()
	if err != nil {
		return nil, err
	}
	cfgPath, err := client.File(ctx, repo, o.revision, "config.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	snap := filepath.Dir(cfgPath)
	src := &source{id: repo, revision: filepath.Base(snap)}
	if !commitRE.MatchString(src.revision) {
		src.revision = o.revision // cache layout not as expected: keep what was asked
	}
	if err := src.readConfig(cfgPath, o); err != nil {
		return nil, err
	}
	want := map[string]bool{"config.json": true}
	for _, f := range tokenizerFiles {
		want[f] = o.files.Allows(f)
	}
	rev := o.revision
	if commitRE.MatchString(src.revision) {
		rev = src.revision // pin the commit config.json came from
	}
	switch idx, err := client.File(ctx, repo, rev, indexFile); {
	case err == nil:
		shards, err := shardNames(idx)
		if err != nil {
			return nil, err
		}
		for _, n := range append([]string{indexFile}, shards...) {
			if err := needFile(repo, n, o.files); err != nil {
				return nil, err
			}
			want[n] = true
		}
	case errors.Is(err, hub.ErrEntryNotFound), errors.Is(err, hub.ErrOffline):
		// Offline, an index that is not cached cannot be asked for: the
		// single file is then the only layout the cache can hold complete.
		if err := needFile(repo, singleFile, o.files); err != nil {
			return nil, err
		}
		want[singleFile] = true
	default:
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	dir, err := client.Snapshot(ctx, repo, rev, func(name string) bool { return want[name] })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	// Licence, notice and model card travel with the model when the Hub
	// has them; a cache filled without them still converts offline.
	docs := func(name string) bool { return isDocFile(name) && o.files.Allows(name) }
	switch _, err := client.Snapshot(ctx, repo, rev, docs); {
	case err == nil, errors.Is(err, hub.ErrEntryNotFound), errors.Is(err, hub.ErrOffline):
	default:
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	src.dir = dir
	return src, nil
}

func (s *source) readConfig(path string, o *options) error {
	hf, err := arch.ReadHFConfig(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no config.json: not a Hugging Face model folder", filepath.Dir(path))
		}
		return err
	}
	s.hf = hf
	if o.arch != "" {
		s.adapter, err = arch.Lookup(o.arch)
	} else {
		s.adapter, err = arch.Detect(hf)
	}
	if err != nil {
		return err
	}
	// Hyperparameters are checked here, before any weight is fetched.
	s.cfg, err = s.adapter.Config(hf)
	return err
}

// shardNames lists the files an index file names.
func shardNames(idxPath string) ([]string, error) {
	b, err := fileio.ReadLimited(idxPath, maxIndexBytes)
	if err != nil {
		return nil, err
	}
	wm, err := parseIndex(b, idxPath)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range wm {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// record is what config.symb.json says of the source: the Hub id and
// commit, the registry reference and digest, or a local folder's name only
// (the full path stays on this machine, in local.json).
func (s *source) record(dtype string) symb.Source {
	r := symb.Source{ID: s.id, Revision: s.revision,
		Architectures: s.hf.Architectures, ModelType: s.hf.ModelType, DType: dtype}
	if s.path != "" {
		r.Path = filepath.Base(s.path)
	}
	return r
}

// String describes the source for messages.
func (s *source) String() string {
	if s.id != "" {
		return s.id + "@" + s.revision
	}
	return s.path
}
