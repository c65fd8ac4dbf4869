package hub

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Every name that reaches the file system (repo id, revision, filename, etag,
// commit) may come from the network or the command line, so each one is
// checked here before it is joined onto the cache folder.

var (
	// repoIDPattern follows the Hub's own rule: an optional namespace and a
	// name of word characters, '-' and '.', neither starting nor ending with
	// '-' or '.'.
	repoIDPattern = regexp.MustCompile(`^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?/)?[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$`)
	// commitPattern is a full git commit id; such a revision never moves and
	// needs no lookup.
	commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
	// sha256Pattern is the etag form the Hub uses for LFS files: the SHA-256
	// of the content, which is verified after the download.
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// blobNamePattern bounds what an etag or commit may look like before it
	// becomes a single path element.
	blobNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$`)
)

// validRepoID reports whether s is a Hub repository id ("name" or
// "namespace/name").
func validRepoID(s string) bool {
	if !repoIDPattern.MatchString(s) {
		return false
	}
	return !strings.Contains(s, "--") && !strings.Contains(s, "..") && !strings.HasSuffix(s, ".git")
}

// ParseRepoID tells a Hub model id from a local path. A path that exists
// locally always wins, so a folder named like "org/model" is converted as a
// folder. Otherwise s is a repo id when it has the Hub's shape.
func ParseRepoID(s string) (repo string, ok bool) {
	if s == "" {
		return "", false
	}
	if _, err := os.Lstat(s); err == nil {
		return "", false
	}
	if !validRepoID(s) {
		return "", false
	}
	return s, true
}

// checkRelPath rejects a repository-relative path that could leave the folder
// it is joined onto, on POSIX or on Windows: absolute paths, drive letters,
// backslashes, "..", "." and empty segments, NUL bytes.
func checkRelPath(kind, name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s %q %s", ErrUnsafeName, kind, name, why)
	}
	switch {
	case name == "":
		return bad("is empty")
	case len(name) > 1024:
		return bad("is longer than 1024 bytes")
	case strings.ContainsRune(name, 0):
		return bad("contains a NUL byte")
	case strings.Contains(name, `\`):
		return bad("contains a backslash")
	case strings.HasPrefix(name, "/"):
		return bad("is an absolute path")
	}
	for _, seg := range strings.Split(name, "/") {
		switch {
		case seg == "" || seg == ".":
			return bad("has an empty or '.' path segment")
		case seg == "..":
			return bad("has a '..' path segment")
		case len(seg) >= 2 && seg[1] == ':' && isASCIILetter(seg[0]):
			return bad("has a drive letter")
		}
	}
	return nil
}

func isASCIILetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// checkBlobName validates an etag or commit id received from the server
// before it is used as a file or folder name.
func checkBlobName(kind, name string) error {
	if !blobNamePattern.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("%w: %s %q from the server is not a plain name", ErrUnsafeName, kind, name)
	}
	return nil
}

// normalizeEtag strips the weak marker and quotes of an ETag header value,
// as the Hub's own client does.
func normalizeEtag(v string) string {
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

// quotePath percent-escapes s like Python's urllib.parse.quote, keeping the
// bytes in safe unescaped, so URLs match what the Hub's clients send.
func quotePath(s, safe string) string {
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isASCIILetter(c) || (c >= '0' && c <= '9') || strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// repoFolderName is the cache folder of a model repo: "models--org--name".
func repoFolderName(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}
