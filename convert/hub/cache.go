package hub

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/symbc/symbc/internal/fileio"
)

// repoCache is the cache folder of one repo. Every path it builds comes from
// names already checked by checkRelPath or checkBlobName, and join re-checks
// that the result stays inside the folder.
type repoCache struct {
	root string // cache root
	dir  string // <root>/models--org--name
	name string // models--org--name
}

func (c *Client) repoCache(repo string) repoCache {
	name := repoFolderName(repo)
	return repoCache{root: c.cacheDir, dir: filepath.Join(c.cacheDir, name), name: name}
}

// join places a checked relative path under base and refuses anything that
// would land outside it.
func join(base, rel string) (string, error) {
	p := filepath.Join(base, filepath.FromSlash(rel))
	r, err := filepath.Rel(base, p)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", fmt.Errorf("%w: %q leaves the cache folder %s", ErrUnsafeName, rel, base)
	}
	return p, nil
}

func (rc repoCache) snapshotDir(commit string) string {
	return filepath.Join(rc.dir, "snapshots", commit)
}

func (rc repoCache) blobPath(etag string) string { return filepath.Join(rc.dir, "blobs", etag) }

func (rc repoCache) lockPath(etag string) string {
	return filepath.Join(rc.root, ".locks", rc.name, etag+".lock")
}

// resolveLocal maps a revision to a commit without the network: a full
// commit id is itself, a branch or tag is read from refs/. It returns "" when
// unknown.
func (rc repoCache) resolveLocal(revision string) string {
	if commitPattern.MatchString(revision) {
		return revision
	}
	p, err := join(filepath.Join(rc.dir, "refs"), revision)
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(b))
	if checkBlobName("commit", commit) != nil {
		return ""
	}
	return commit
}

// cachedFile returns the snapshot path of filename when it resolves to a
// regular file (a broken symlink counts as absent).
func (rc repoCache) cachedFile(commit, filename string) (string, bool) {
	p, err := join(rc.snapshotDir(commit), filename)
	if err != nil {
		return "", false
	}
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

func (rc repoCache) missingFiles(commit string, names []string) []string {
	var missing []string
	for _, n := range names {
		if _, ok := rc.cachedFile(commit, n); !ok {
			missing = append(missing, n)
		}
	}
	return missing
}

// hasSelectedFile reports whether the snapshot holds at least one file that
// allow selects.
func (rc repoCache) hasSelectedFile(commit string, allow func(string) bool) bool {
	dir := rc.snapshotDir(commit)
	found := errors.New("found")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		if _, ok := rc.cachedFile(commit, filepath.ToSlash(rel)); ok && allow(filepath.ToSlash(rel)) {
			return found
		}
		return nil
	})
	return errors.Is(err, found)
}

// knownMissing reports whether an earlier lookup recorded that filename does
// not exist at commit.
func (rc repoCache) knownMissing(commit, filename string) bool {
	p, err := join(filepath.Join(rc.dir, ".no_exist", commit), filename)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// markMissing records that filename does not exist at commit. It is only a
// shortcut for later runs, so failures are ignored.
func (rc repoCache) markMissing(commit, filename string) {
	if checkBlobName("commit", commit) != nil {
		return
	}
	p, err := join(filepath.Join(rc.dir, ".no_exist", commit), filename)
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
}

// writeRef records the commit a branch or tag points to, atomically, and
// only when it changed (a read-only shared cache stays usable).
func (rc repoCache) writeRef(revision, commit string) error {
	if revision == commit {
		return nil
	}
	p, err := join(filepath.Join(rc.dir, "refs"), revision)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := writeFileAtomic(p, []byte(commit)); err != nil {
		return fmt.Errorf("record revision %s in the cache: %w", revision, err)
	}
	return nil
}

// writeFileAtomic writes through a temporary file and a rename so that a
// concurrent reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return fileio.WriteAtomic(path, data, 0o644)
}

// treeFile is the trees/<commit>.json format of the Hub's Python client.
type treeFile struct {
	FormatVersion int                  `json:"format_version"`
	Files         map[string]treeEntry `json:"files"`
}

type treeEntry struct {
	Size      int64  `json:"size"`
	BlobID    string `json:"blob_id"`
	LFSSHA256 string `json:"lfs_sha256,omitempty"`
	LFSSize   *int64 `json:"lfs_size,omitempty"`
	XetHash   string `json:"xet_hash,omitempty"`
}

const maxTreeBytes = 64 << 20

// readTree returns the file list of a commit recorded by an earlier
// download, or false when none is recorded or it is unusable.
func (rc repoCache) readTree(commit string) ([]string, bool) {
	f, err := os.Open(filepath.Join(rc.dir, "trees", commit+".json"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var t treeFile
	b, err := io.ReadAll(io.LimitReader(f, maxTreeBytes+1))
	if err != nil || len(b) > maxTreeBytes || json.Unmarshal(b, &t) != nil || t.FormatVersion != 1 || t.Files == nil {
		return nil, false
	}
	names := make([]string, 0, len(t.Files))
	for n := range t.Files {
		// A tampered list must not steer writes outside the cache.
		if checkRelPath("filename", n) != nil {
			return nil, false
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names, true
}

// writeTree records the file list of a commit so a later Snapshot can tell
// whether the cached snapshot is complete without the network. It is only
// written when the API gave every file's size and blob id, since the Hub's
// client relies on those fields too.
func (rc repoCache) writeTree(info *modelInfo) error {
	t := treeFile{FormatVersion: 1, Files: make(map[string]treeEntry, len(info.files))}
	for _, f := range info.files {
		if f.BlobID == "" || f.Size == nil {
			return nil
		}
		e := treeEntry{Size: *f.Size, BlobID: f.BlobID}
		if f.LFS != nil && f.LFS.SHA256 != "" {
			e.LFSSHA256 = f.LFS.SHA256
			size := f.LFS.Size
			e.LFSSize = &size
		}
		t.Files[f.Name] = e
	}
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return fmt.Errorf("encode file list of %s: %w", info.commit, err)
	}
	if err := writeFileAtomic(filepath.Join(rc.dir, "trees", info.commit+".json"), b); err != nil {
		return fmt.Errorf("record file list of commit %s in the cache: %w", info.commit, err)
	}
	return nil
}

// linkSnapshot points snapshots/<commit>/<filename> at the blob with a
// relative symlink, so the cache survives being moved. Where symlinks are
// unavailable (Windows without the privilege, some network file systems) the
// blob is moved when it was just downloaded, else copied.
func (rc repoCache) linkSnapshot(commit, filename, etag string, newBlob bool) (string, error) {
	dst, err := join(rc.snapshotDir(commit), filename)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("create snapshot folder: %w", err)
	}
	blob := rc.blobPath(etag)
	rel, err := filepath.Rel(filepath.Dir(dst), blob)
	if err != nil {
		rel = blob
	}
	tmp := tmpName(dst)
	if err := os.Symlink(rel, tmp); err == nil {
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("link %s into the snapshot: %w", filename, err)
		}
		return dst, nil
	}
	os.Remove(dst)
	if newBlob {
		if err := os.Rename(blob, dst); err == nil {
			return dst, nil
		}
	}
	if err := copyFile(blob, dst); err != nil {
		return "", fmt.Errorf("copy %s into the snapshot (symlinks unavailable): %w", filename, err)
	}
	return dst, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := tmpName(dst)
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o666)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// tmpName returns a fresh sibling name for p, so two processes writing the
// same file never share a temporary.
func tmpName(p string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return p + "." + hex.EncodeToString(b[:]) + ".tmp"
}
