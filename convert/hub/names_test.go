package hub

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseRepoID(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"meta-llama/Llama-3.2-1B", true},
		{"gpt2", true},
		{"Qwen/Qwen2.5-0.5B-Instruct", true},
		{"org/name.v1_2", true},
		{"", false},
		{"./model", false},
		{"../model", false},
		{"/abs/path", false},
		{"a/b/c", false},
		{"org--x/name", false},
		{"org/na..me", false},
		{"org/name.git", false},
		{"org/-name", false},
		{"org/name-", false},
		{`C:\models\x`, false},
		{"org/xy", true},
	} {
		got, ok := ParseRepoID(tc.in)
		if ok != tc.ok || (ok && got != tc.in) {
			t.Errorf("ParseRepoID(%q) = %q, %v; want ok=%v", tc.in, got, ok, tc.ok)
		}
	}
	// An existing local folder wins even when it looks like a repo id.
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll(filepath.Join("acme", "model"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := ParseRepoID("acme/model"); ok {
		t.Error("existing folder acme/model was taken for a Hub id")
	}
	if _, ok := ParseRepoID("acme/other"); !ok {
		t.Error("acme/other (absent locally) should be a Hub id")
	}
}

func TestCheckRelPath(t *testing.T) {
	good := []string{"config.json", "sub/dir/file.bin", "a..b", "..hidden", "x/.gitattributes"}
	bad := []string{"", "/etc/passwd", "../x", "a/../../x", "a/..", "..", `a\b`, "C:/x", "c:x", "a//b", "./a", "a/./b", "a\x00b"}
	for _, s := range good {
		if err := checkRelPath("filename", s); err != nil {
			t.Errorf("%q rejected: %v", s, err)
		}
	}
	for _, s := range bad {
		if err := checkRelPath("filename", s); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("%q accepted (err %v)", s, err)
		}
	}
}

func TestJoinStaysInside(t *testing.T) {
	base := t.TempDir()
	if p, err := join(base, "a/b.json"); err != nil || p != filepath.Join(base, "a", "b.json") {
		t.Errorf("join = %q, %v", p, err)
	}
	for _, s := range []string{"../x", "a/../../x"} {
		if _, err := join(base, s); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("join(%q) accepted", s)
		}
	}
}

func TestNormalizeEtagAndBlobNames(t *testing.T) {
	for in, want := range map[string]string{
		`"abc123"`:   "abc123",
		`W/"abc123"`: "abc123",
		`abc123`:     "abc123",
	} {
		if got := normalizeEtag(in); got != want {
			t.Errorf("normalizeEtag(%q) = %q, want %q", in, got, want)
		}
	}
	for _, s := range []string{"..", "../x", "a/b", "", ".hidden", "x..y"} {
		if checkBlobName("etag", s) == nil {
			t.Errorf("blob name %q accepted", s)
		}
	}
	if err := checkBlobName("etag", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); err != nil {
		t.Error(err)
	}
}

func TestQuotePath(t *testing.T) {
	for _, tc := range []struct{ in, safe, want string }{
		{"refs/pr/1", "", "refs%2Fpr%2F1"},
		{"sub dir/a+b.json", "/", "sub%20dir/a%2Bb.json"},
		{"main", "", "main"},
		{"é~_.-", "/", "%C3%A9~_.-"},
	} {
		if got := quotePath(tc.in, tc.safe); got != tc.want {
			t.Errorf("quotePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
