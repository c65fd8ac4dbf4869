package registry

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/symbc/symbc/symb"
)

const (
	maxTarFolders = 1 << 16 // folder entries one tar layer may create
	maxTarTrailer = 1 << 20 // bytes allowed after a tar's end-of-archive marker
)

// tarRules bound what one tar layer may write.
type tarRules struct {
	// sizes, for a .symb pull: every file must be one that manifest.json
	// lists, with the same size, and every entry must lie inside the
	// layer's folder (its title).
	sizes map[string]int64
	// claim, for a source pull (sizes nil): called before each file is
	// written; it refuses a path another layer wrote.
	claim func(name string) error
	// maxBytes, for a source pull: the file bytes the layer may write.
	maxBytes int64
	// noDiffID skips the DiffID check (a compressed source layer whose
	// config lists no DiffIDs; its blob digest was checked on the way).
	noDiffID bool
}

// extractTar unpacks a tar (or tar+gzip, tar+zstd) layer into tmp. Every
// entry must be a folder or a regular file with a safe relative path, and
// rules decide which files may be written, which bounds what a hostile
// archive can write. Links, devices and anything else are refused. The
// uncompressed stream must hash to the layer's DiffID.
func extractTar(ctx context.Context, r io.Reader, l pullLayer, tmp string, rules tarRules) error {
	switch {
	case l.gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	case l.zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	diff := sha256.New()
	src := io.TeeReader(r, diff)
	tr := tar.NewReader(src)
	seen := map[string]bool{}
	folders := 0
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		name := h.Name
		if rules.sizes == nil {
			name = strings.TrimPrefix(name, "./")
		}
		if h.Typeflag == tar.TypeDir {
			name = strings.TrimSuffix(name, "/")
			if name == "." || name == "" {
				continue
			}
		}
		if err := symb.CheckRelPath(name); err != nil {
			return fmt.Errorf("tar entry %q: refusing a path that could escape the folder: %v", h.Name, err)
		}
		if rules.sizes != nil && name != l.title && !strings.HasPrefix(name, l.title+"/") {
			return fmt.Errorf("tar entry %q lies outside the layer's folder %s", h.Name, l.title)
		}
		if seen[name] {
			return fmt.Errorf("tar entry %q appears twice", h.Name)
		}
		seen[name] = true
		dst := filepath.Join(tmp, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if folders++; folders > maxTarFolders {
				return fmt.Errorf("more than %d folders in one tar layer", maxTarFolders)
			}
			if err := os.MkdirAll(dst, pullDirMode); err != nil {
				return err
			}
		case tar.TypeReg:
			if rules.sizes != nil {
				size, ok := rules.sizes[name]
				if !ok {
					return fmt.Errorf("tar entry %q is not a file of %s", h.Name, symb.ManifestFile)
				}
				if h.Size != size {
					return fmt.Errorf("tar entry %q has %d bytes, %s says %d", h.Name, h.Size, symb.ManifestFile, size)
				}
			} else {
				if written += h.Size; h.Size < 0 || written > rules.maxBytes {
					return fmt.Errorf("tar entry %q: the layer unpacks to more than %d bytes", h.Name, rules.maxBytes)
				}
				if err := rules.claim(name); err != nil {
					return fmt.Errorf("tar entry %q: %w", h.Name, err)
				}
			}
			if err := writeFile(ctx, dst, tr, h.Size); err != nil {
				return err
			}
		case tar.TypeSymlink:
			return fmt.Errorf("tar entry %q is a symbolic link (to %q): refused", h.Name, h.Linkname)
		case tar.TypeLink:
			return fmt.Errorf("tar entry %q is a hard link (to %q): refused", h.Name, h.Linkname)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return fmt.Errorf("tar entry %q is a device or pipe: refused", h.Name)
		default:
			return fmt.Errorf("tar entry %q has type %q: only files and folders are allowed", h.Name, h.Typeflag)
		}
	}
	// The DiffID covers the padding after the end marker too.
	n, err := io.CopyN(io.Discard, src, maxTarTrailer+1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("tar: %w", err)
	}
	if n > maxTarTrailer {
		return fmt.Errorf("more than %d bytes after the end of the tar", maxTarTrailer)
	}
	if got := "sha256:" + hex.EncodeToString(diff.Sum(nil)); !rules.noDiffID && got != l.diffID.String() {
		return fmt.Errorf("tar has digest %s, the config's DiffID is %s: %w", got, l.diffID, errBlob)
	}
	return nil
}
