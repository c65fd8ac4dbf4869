package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/symbc/symbc/convert/hub"
	"github.com/symbc/symbc/registry"
)

// Kind is what a model argument names.
type Kind int

const (
	KindFolder   Kind = iota // a folder (existing, or spelled as a path)
	KindStored               // a name (or digest) the store holds
	KindRegistry             // an OCI reference: host/repository[:tag|@digest]
	KindHub                  // a Hugging Face Hub id: org/name (or hf.co/org/name)
)

// hubPrefixes mark a Hub id explicitly, as ollama and llama.cpp write them.
var hubPrefixes = []string{"hf.co/", "huggingface.co/", "hf://"}

// Classify says what arg names, without any network request: an existing
// path is a folder; something spelled as a path (absolute, ./, ../, ~) is a
// folder too; a name or digest in the store is stored; a reference whose
// first part is a registry host (with a dot or a port, or localhost) is a
// registry reference; the Hub's org/name shape is a Hub id. key is the name
// to look the model up by (canonical for registry references).
func (s *Store) Classify(arg string) (kind Kind, key string) {
	if _, err := os.Stat(arg); err == nil || looksLikePath(arg) {
		return KindFolder, arg
	}
	for _, p := range hubPrefixes {
		if rest, ok := strings.CutPrefix(arg, p); ok {
			if id, ok := hub.ParseRepoID(rest); ok {
				return s.storedOr(KindHub, id)
			}
			return KindFolder, arg
		}
	}
	if IsRegistryRef(arg) {
		if r, err := name.ParseReference(arg, name.Insecure); err == nil {
			key := r.Name()
			if _, ok := r.(name.Digest); ok {
				key = r.Context().Name() + "@" + r.Identifier()
			}
			return s.storedOr(KindRegistry, key)
		}
	}
	if _, err := s.Lookup(arg); err == nil {
		return KindStored, arg
	}
	if id, ok := hub.ParseRepoID(arg); ok && strings.Contains(id, "/") {
		return s.storedOr(KindHub, id)
	}
	return KindFolder, arg
}

func (s *Store) storedOr(k Kind, key string) (Kind, string) {
	if _, err := s.Lookup(key); err == nil {
		return KindStored, key
	}
	return k, key
}

func looksLikePath(arg string) bool {
	return filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") || strings.HasPrefix(arg, "~") ||
		strings.HasSuffix(arg, "/") || (runtime.GOOS == "windows" && strings.Contains(arg, `\`))
}

// IsRegistryRef reports whether arg is spelled as a registry reference
// (registry.IsReference) and not as a Hub id with an hf.co/ prefix.
func IsRegistryRef(arg string) bool {
	for _, p := range hubPrefixes {
		if strings.HasPrefix(arg, p) {
			return false
		}
	}
	return registry.IsReference(arg)
}

// Resolve turns a command's model argument into a model folder: a folder is
// returned as it is (whether or not it exists: loading it says what is
// wrong); a stored name without any request; a registry reference is
// pulled and a Hub id converted into the store first.
func (s *Store) Resolve(ctx context.Context, arg string) (*Model, error) {
	kind, key := s.Classify(arg)
	switch kind {
	case KindStored:
		return s.Lookup(key)
	case KindRegistry:
		return s.Pull(ctx, arg)
	case KindHub:
		m, err := s.Convert(ctx, key)
		if err != nil && key == arg && (errors.Is(err, hub.ErrRepoNotFound) || errors.Is(err, hub.ErrNetwork) || errors.Is(err, hub.ErrOffline)) {
			// Perhaps a mistyped folder: say every place that was looked at.
			return nil, fmt.Errorf("%s: no such folder, not in the model store %s, and as a Hugging Face id: %w", arg, s.root, err)
		}
		return m, err
	}
	return &Model{Name: filepath.Base(filepath.Clean(arg)), Dir: arg, Origin: FromFolder}, nil
}
