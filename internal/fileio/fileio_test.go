package fileio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.bin")
	want := bytes.Repeat([]byte("symb"), 3000)
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, size, err := OpenRegular(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size != int64(len(want)) {
		t.Errorf("size = %d, want %d", size, len(want))
	}
	b, unmap, err := Map(f, size)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Error("mapped bytes differ from the file")
	}
	// The advice calls must leave the contents readable.
	WillNeed(b)
	DontNeed(b[1:])
	if !bytes.Equal(b, want) {
		t.Error("mapped bytes differ after DontNeed")
	}
	if err := unmap(); err != nil {
		t.Fatal(err)
	}

	if _, _, err := OpenRegular(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("OpenRegular(folder) = %v, want a not-a-regular-file error", err)
	}
	if _, _, err := OpenRegular(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenRegular(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestMapEmpty(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, size, err := OpenRegular(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, unmap, err := Map(f, size)
	if err != nil || len(b) != 0 {
		t.Fatalf("Map(empty) = %d bytes, %v", len(b), err)
	}
	if err := unmap(); err != nil {
		t.Fatal(err)
	}
}

func TestReadLimited(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := ReadLimited(p, 7)
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("ReadLimited = %q, %v", b, err)
	}
	if _, err := ReadLimited(p, 6); err == nil || !strings.Contains(err.Error(), "7 bytes, more than the 6 expected") || !strings.Contains(err.Error(), p) {
		t.Errorf("ReadLimited over the limit = %v, want an error naming the file and sizes", err)
	}
	if _, err := ReadLimited(p+".missing", 6); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadLimited(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestWriteAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "index.json")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteAtomic(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read back %q, %v; want %q", b, err, content)
		}
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode(), err)
	}
	if err := WriteAtomic(filepath.Join(dir, "missing", "x"), []byte("x"), 0o644); err == nil {
		t.Error("write into a missing folder succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the file (no temporary left)", len(entries))
	}
}
