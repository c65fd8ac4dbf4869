package symb

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var writerInfo = Info{DType: INT8, Scheme: SchemeAsym, GroupSize: 32, Shape: []int{4, 40}} // data 256, scales 16, mins 16

func TestWriterAbortLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "w.symb")
	w, err := Create(path, writerInfo)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteData(0, make([]byte, 256)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort() // idempotent
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("Abort left %v", names)
	}
	if err := w.WriteScales(0, make([]byte, 16)); err == nil {
		t.Error("write after Abort succeeded")
	}
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
}

func TestWriterCommitNeedsEverySection(t *testing.T) {
	t.Parallel()
	var overlapErr error
	full := func(w *Writer) {
		w.WriteData(0, make([]byte, 256))
		w.WriteScales(0, make([]byte, 16))
		w.WriteMins(0, make([]byte, 16))
	}
	cases := []struct {
		name  string
		write func(w *Writer)
		msg   string
	}{
		{"nothing", func(w *Writer) {}, "data section"},
		{"no mins", func(w *Writer) { w.WriteData(0, make([]byte, 256)); w.WriteScales(0, make([]byte, 16)) }, "mins section"},
		{"no scales", func(w *Writer) { w.WriteData(0, make([]byte, 256)); w.WriteMins(0, make([]byte, 16)) }, "scales section"},
		{"data hole", func(w *Writer) {
			w.WriteData(0, make([]byte, 100))
			w.WriteData(101, make([]byte, 155))
			w.WriteScales(0, make([]byte, 16))
			w.WriteMins(0, make([]byte, 16))
		}, "255 of 256"},
		// The same bytes twice must not make up for a hole.
		{"double write", func(w *Writer) {
			full(w)
			overlapErr = w.WriteData(0, make([]byte, 10))
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			overlapErr = nil
			dir := t.TempDir()
			path := filepath.Join(dir, "w.symb")
			w, err := Create(path, writerInfo)
			if err != nil {
				t.Fatal(err)
			}
			c.write(w)
			err = w.Commit()
			if c.msg == "" {
				if overlapErr == nil {
					t.Fatal("overlapping write accepted")
				}
				// The rejected overlap left the file complete: it commits.
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Commit: %v, want an error about %q", err, c.msg)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Fatalf("failed Commit left %v", names)
			}
		})
	}
}

func TestWriterRejectsBadWrites(t *testing.T) {
	t.Parallel()
	w, err := Create(filepath.Join(t.TempDir(), "w.symb"), writerInfo)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, c := range []struct {
		name string
		err  error
	}{
		{"negative offset", w.WriteData(-1, []byte{1})},
		{"past the end", w.WriteData(256, []byte{1})},
		{"overflowing", w.WriteScales(10, make([]byte, 7))},
		{"huge offset", w.WriteMins(1<<62, []byte{1})},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), "overflows") {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
	if err := w.WriteData(10, make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int{{0, 11}, {29, 2}, {15, 1}, {0, 256}} {
		if err := w.WriteData(int64(r[0]), make([]byte, r[1])); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("overlap %v: %v", r, err)
		}
	}
	// Adjacent writes on both sides are fine.
	if err := w.WriteData(0, make([]byte, 10)); err != nil {
		t.Error(err)
	}
	if err := w.WriteData(30, make([]byte, 226)); err != nil {
		t.Error(err)
	}
	if err := w.WriteData(0, nil); err != nil {
		t.Errorf("empty write: %v", err)
	}
}

// TestWriterKeepsOldFileUntilCommit checks that the destination is replaced
// only by Commit: an aborted rewrite leaves the previous file untouched.
func TestWriterKeepsOldFileUntilCommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "w.symb")
	rng := rand.New(rand.NewPCG(3, 4))
	old := randomTensor(rng, "w", writerInfo)
	if err := WriteFile(path, old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	w, err := Create(path, Info{DType: F32, Shape: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteData(0, make([]byte, 12)); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("destination changed before Commit")
	}
	w.Abort()
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("destination changed by Abort")
	}
	if names := dirEntries(t, dir); !slices.Equal(names, []string{"w.symb"}) {
		t.Fatalf("folder holds %v", names)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("committed file mode %v, want 0644", st.Mode().Perm())
	}
}

func TestWriterConcurrentRows(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	in := Info{DType: INT4, Scheme: SchemeSym, GroupSize: 32, Shape: []int{64, 96}}
	src := randomTensor(rng, "c", in)
	path := filepath.Join(t.TempDir(), "c.symb")
	w, err := Create(path, in)
	if err != nil {
		t.Fatal(err)
	}
	rowData, rowScales := int64(len(src.Data)/64), int64(len(src.Scales)/64)
	var wg sync.WaitGroup
	errs := make(chan error, 128)
	for r := int64(63); r >= 0; r-- {
		wg.Go(func() {
			errs <- w.WriteData(r*rowData, src.Data[r*rowData:(r+1)*rowData])
			errs <- w.WriteScales(r*rowScales, src.Scales[r*rowScales:(r+1)*rowScales])
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !bytes.Equal(f.Tensor().Data, src.Data) || !bytes.Equal(f.Tensor().Scales, src.Scales) {
		t.Fatal("concurrently written sections differ")
	}
	if err := w.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	w.Abort() // after Commit: must not remove the file
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Abort after Commit removed the file: %v", err)
	}
}

func TestWriteFileRejectsWrongSections(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(8, 9))
	good := randomTensor(rng, "x", writerInfo)
	for name, mut := range map[string]func(*Tensor){
		"short data":   func(t *Tensor) { t.Data = t.Data[:len(t.Data)-1] },
		"no mins":      func(t *Tensor) { t.Mins = nil },
		"extra scales": func(t *Tensor) { t.Scales = append(t.Scales, 0, 0) },
		"bad info":     func(t *Tensor) { t.GroupSize = 33 },
	} {
		bad := *good
		mut(&bad)
		err := WriteFile(filepath.Join(dir, "x.symb"), &bad)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "x.symb") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("rejected writes left %v", names)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.symb"), good); err == nil {
		t.Error("write into a missing folder succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "x.symb"), good); err != nil {
		t.Fatal(err)
	}
	f, err := Open(filepath.Join(dir, "x.symb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("second Close: %v", err)
	}
}
