package hub

import "testing"

// TestFnmatchLikePython: each case's answer is what Python's
// fnmatch.fnmatch(name, pattern) gives on Linux (checked with CPython 3).
func TestFnmatchLikePython(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"*.json", "config.json", true},
		{"*.json", "sub/x.json", true}, // * crosses folders, unlike path.Match
		{"original/*", "original/consolidated.pth", true},
		{"original/", "original/params.json", true}, // a folder: what lies below
		{"*", "a/b", true},
		{"?.md", "a.md", true},
		{"?.md", "ab.md", false},
		{"[ab].md", "b.md", true},
		{"[!ab].md", "c.md", true},
		{"[!ab].md", "a.md", false},
		{"[a-c]x", "bx", true},
		{"[", "[", true},
		{"a[", "a[", true},
		{"[]]", "]", true},
		{"[!]]", "a", true},
		{"[^a]", "^", true},
		{"[a-]", "-", true},
		{"*.[jJ]son", "x.Json", true},
		{"readme*", "README.md", false}, // case-sensitive
		{`a\b`, `a\b`, true},
		{"*/x", "x", false},
		{"a.b", "axb", false},
		{"+(a)", "+(a)", true},
		{"model-*-of-*.safetensors", "model-00001-of-00002.safetensors", true},
	} {
		f, err := NewFilter([]string{c.pat}, nil)
		if err != nil {
			t.Errorf("%q: %v", c.pat, err)
			continue
		}
		if got := f.Allows(c.name); got != c.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", c.name, c.pat, got, c.want)
		}
	}
}

func TestFilterIncludeExclude(t *testing.T) {
	f, err := NewFilter([]string{"*.json", "*.safetensors"}, []string{"original/*", "*-00002-*"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"config.json": true, "model-00001-of-00002.safetensors": true,
		"model-00002-of-00002.safetensors": false, "original/params.json": false, "README.md": false,
	} {
		if f.Allows(name) != want {
			t.Errorf("Allows(%q) = %v, want %v", name, !want, want)
		}
	}
	if f, err := NewFilter(nil, nil); err != nil || f != nil || !f.Allows("anything") {
		t.Errorf("no patterns: %v %v", f, err)
	}
	if _, err := NewFilter(nil, []string{"[z-a]"}); err == nil {
		t.Error("an inverted range was accepted")
	}
	if _, err := NewFilter([]string{""}, nil); err == nil {
		t.Error("an empty pattern was accepted")
	}
}
