package convert

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/registry"
)

// WithRegistry passes options (credentials, plain HTTP, progress) to the
// download of a source given as a registry reference.
func WithRegistry(opts ...registry.Option) Option {
	return func(o *options) error { o.registry = append(o.registry, opts...); return nil }
}

// fetchRegistrySource downloads the ModelPack artifact at ref (a Hugging
// Face checkpoint that modctl, KitOps or oras pushed) into a folder next to
// out, where the conversion reads it like a local folder; cleanup removes
// it. rec is the reference and digest the source record keeps.
func fetchRegistrySource(ctx context.Context, ref, out string, o *options) (dir string, rec *registry.SourceResult, cleanup func(), err error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", nil, nil, err
	}
	work, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".source-")
	if err != nil {
		return "", nil, nil, err
	}
	cleanup = func() { os.RemoveAll(work) }
	dir = filepath.Join(work, "source")
	res, err := registry.PullSource(ctx, ref, dir, o.registry...)
	if err != nil {
		cleanup()
		return "", nil, nil, err
	}
	if res.Format == "symb" {
		cleanup()
		return "", nil, nil, fmt.Errorf("%s is a .symb model already: fetch it with symbc pull", ref)
	}
	return dir, res, cleanup, nil
}
