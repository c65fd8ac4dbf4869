package registry_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/symbc/symbc/internal/testmodel"
	"github.com/symbc/symbc/registry"
	"github.com/symbc/symbc/symb"
)

// Push a model folder to a registry and pull it back. The registry here is
// go-containerregistry's in-memory one; plain HTTP is allowed because it
// listens on 127.0.0.1.
func Example() {
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/models/tiny:int4"

	tmp, err := os.MkdirTemp("", "registry-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "tiny")
	spec := testmodel.Spec{Layers: 2, Hidden: 32, Intermediate: 64, Vocab: 40, Heads: 4, KVHeads: 2,
		Weights: symb.INT4, Embeddings: symb.F16, GroupSize: 32, Seed: 1}
	if err := testmodel.Write(context.Background(), dir, spec); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	pushed, err := registry.Push(ctx, dir, ref)
	if err != nil {
		log.Fatal(err)
	}
	pulled, err := registry.Pull(ctx, ref, filepath.Join(tmp, "copy"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same manifest:", pulled.Digest == pushed.Digest)
	fmt.Println("files:", pulled.Files)
	// Output:
	// same manifest: true
	// files: 23
}
