package registry

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// epoch is the modification time of every tar entry and file-metadata
// annotation: constant metadata keeps layers and manifests reproducible.
var epoch = time.Unix(0, 0).UTC()

const (
	fileMode = 0o644
	dirMode  = 0o755

	// Pulled files and folders are created like any file tool's: these
	// modes less the umask.
	pullFileMode = 0o666
	pullDirMode  = 0o777
)

// packRoot returns the folder a file is packed under when a model is packed
// ("layers/layer_03" for "layers/layer_03/attn_q.symb"), or "" when the file
// stays a layer of its own.
func packRoot(rel string) string {
	parts := strings.SplitN(rel, "/", 3)
	if len(parts) == 3 && parts[0] == "layers" {
		return parts[0] + "/" + parts[1]
	}
	return ""
}

// tarEntries lists the entries of the tar of files (folder-relative, all
// under root): root and every folder between it and a file get an entry
// ending in "/", and entries are sorted, so a folder precedes its contents.
func tarEntries(root string, files []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		out = append(out, f)
		// Parents of a seen folder were added with it.
		for d := path.Dir(f); !seen[d] && d != "."; d = path.Dir(d) {
			seen[d] = true
			out = append(out, d+"/")
			if d == root {
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// writeTarGz writes the reproducible tar+gzip of files to w. The tar stream
// also goes to diff (for the layer's DiffID), and each file's bytes to
// tee(rel) when tee is not nil and returns a writer. The gzip uses stored
// (level 0) blocks: weights do not compress, and the gzip framing is what
// generic clients such as oras expect before they unpack a folder layer.
func writeTarGz(ctx context.Context, w io.Writer, dir, root string, files []string, diff io.Writer, tee func(rel string) io.Writer) error {
	gz, err := gzip.NewWriterLevel(w, gzip.NoCompression)
	if err != nil {
		return err
	}
	var tw *tar.Writer
	if diff != nil {
		tw = tar.NewWriter(io.MultiWriter(gz, diff))
	} else {
		tw = tar.NewWriter(gz)
	}
	buf := make([]byte, 1<<20)
	for _, e := range tarEntries(root, files) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasSuffix(e, "/") {
			h := &tar.Header{Typeflag: tar.TypeDir, Name: e, Mode: dirMode, ModTime: epoch}
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
			continue
		}
		if err := addTarFile(ctx, tw, dir, e, buf, tee); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func addTarFile(ctx context.Context, tw *tar.Writer, dir, rel string, buf []byte, tee func(string) io.Writer) error {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", rel)
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: fileMode, Size: st.Size(), ModTime: epoch}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	var dst io.Writer = tw
	if tee != nil {
		if t := tee(rel); t != nil {
			dst = io.MultiWriter(tw, t)
		}
	}
	n, err := io.CopyBuffer(dst, ctxReader{ctx, f}, buf)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if n != st.Size() {
		return fmt.Errorf("%s: changed while being read (%d of %d bytes)", rel, n, st.Size())
	}
	return nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
