//go:build unix

package main

import (
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// symbcProcess is this test binary started as the symbc command.
func symbcProcess(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SYMBC_TEST_MAIN=1")
	return cmd
}

// onlyEntry checks that parent holds name and nothing else: no partial
// folder, set-aside folder or lock file.
func onlyEntry(t *testing.T, parent, name string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Errorf("%s holds %v, want only %s", parent, names, name)
	}
}

// killAfter starts cmd, kills it with SIGKILL after d and waits for it.
func killAfter(t *testing.T, cmd *exec.Cmd, d time.Duration) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	cmd.Process.Kill()
	cmd.Wait()
}

// TestConvertSurvivesSIGKILL kills convert at random points (several
// seeds) and checks that the next run succeeds and leaves nothing but the
// output folder.
func TestConvertSurvivesSIGKILL(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models", "stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	args := []string{"convert", src, out, "--quiet", "--quantize", "int8", "--method", "mse", "--force"}
	start := time.Now()
	if b, err := symbcProcess(args...).CombinedOutput(); err != nil {
		t.Fatalf("convert: %v\n%s", err, b)
	}
	took := time.Since(start)
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 12))
		d := time.Duration(r.Int64N(int64(took)))
		killAfter(t, symbcProcess(args...), d)
		if b, err := symbcProcess(args...).CombinedOutput(); err != nil {
			t.Fatalf("seed %d (killed after %v): the next convert failed: %v\n%s", seed, d, err, b)
		}
		onlyEntry(t, parent, "out")
		if b, err := symbcProcess("verify", out).CombinedOutput(); err != nil {
			t.Fatalf("seed %d: verify after the next convert: %v\n%s", seed, err, b)
		}
	}
}

// slowRegistry is an in-memory registry whose blob downloads take a while,
// counting them.
func slowRegistry(t *testing.T, blobGets *atomic.Int64) string {
	t.Helper()
	return wrappedRegistry(t, func(r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			blobGets.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// pushedToSlowRegistry pushes the converted stories260k to a slowRegistry
// counting its blob GETs in gets and returns the pushed reference.
func pushedToSlowRegistry(t *testing.T, gets *atomic.Int64) string {
	t.Helper()
	host := slowRegistry(t, gets)
	model, _ := convertStories(t)
	ref := host + "/m:v1"
	if _, stderr, err := registryCLI("", "push", model, ref, "--quiet"); err != nil {
		t.Fatalf("push: %v\n%s", err, stderr)
	}
	return ref
}

// TestPullSurvivesSIGKILL kills pull at random points (several seeds) and
// checks that the next pull succeeds and leaves nothing but the folder; a
// pull that finds a dead run's partial folder downloads only what is
// missing from it.
func TestPullSurvivesSIGKILL(t *testing.T) {
	var gets atomic.Int64
	ref := pushedToSlowRegistry(t, &gets)
	parent := t.TempDir()
	dir := filepath.Join(parent, "pulled")
	args := []string{"pull", ref, dir, "--force", "--quiet", "--jobs", "2"}
	start := time.Now()
	gets.Store(0)
	if b, err := symbcProcess(args...).CombinedOutput(); err != nil {
		t.Fatalf("pull: %v\n%s", err, b)
	}
	took, all := time.Since(start), gets.Load()
	// What a complete pull gives, to compare later pulls with.
	want := filepath.Join(t.TempDir(), "want")
	if err := os.Rename(dir, want); err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 34))
		d := time.Duration(r.Int64N(int64(took)))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		killAfter(t, symbcProcess(args...), d)
		if b, err := symbcProcess(args...).CombinedOutput(); err != nil {
			t.Fatalf("seed %d (killed after %v): the next pull failed: %v\n%s", seed, d, err, b)
		}
		onlyEntry(t, parent, "pulled")
		sameTree(t, want, dir)
	}

	// A complete partial folder of a dead run: nothing but the config
	// blob is downloaded again.
	if err := os.Rename(dir, filepath.Join(parent, ".pulled.pull")); err != nil {
		t.Fatal(err)
	}
	gets.Store(0)
	if b, err := symbcProcess(args...).CombinedOutput(); err != nil {
		t.Fatalf("resumed pull: %v\n%s", err, b)
	}
	if n := gets.Load(); n != 1 {
		t.Errorf("resumed pull downloaded %d blobs, want 1 (the config) of %d", n, all)
	}
	onlyEntry(t, parent, "pulled")
	sameTree(t, want, dir)
}

// sameTree checks that got holds exactly the files of want, byte for byte.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	read := func(root string) map[string]string {
		files := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			files[rel] = string(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	w, g := read(want), read(got)
	if len(w) != len(g) {
		t.Errorf("%s has %d files, %s has %d", got, len(g), want, len(w))
	}
	for name, b := range w {
		if g[name] != b {
			t.Errorf("%s differs from %s", filepath.Join(got, name), filepath.Join(want, name))
		}
	}
}

// TestSecondInterruptExits: the first SIGINT cancels the command's context;
// a command stuck in a call that cannot see it (here, reading a standard
// input that never ends) is ended by the second.
func TestSecondInterruptExits(t *testing.T) {
	dir := storiesFolder(t)
	cmd := symbcProcess("run", dir, "--messages", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	for range 2 {
		cmd.Process.Signal(os.Interrupt)
		time.Sleep(300 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("interrupted run exited 0")
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("two interrupts did not end the process")
	}
}

// TestStorePullSurvivesSIGKILL kills `symbc pull REF` into the model store
// at random points and checks that the next pull succeeds and that the
// store's tmp/ is empty afterwards: the dead run's folder is swept.
func TestStorePullSurvivesSIGKILL(t *testing.T) {
	var gets atomic.Int64
	ref := pushedToSlowRegistry(t, &gets)
	args := []string{"pull", ref, "--quiet", "--jobs", "2"}
	measure := symbcProcess(args...)
	measure.Env = append(measure.Env, "SYMBC_MODELS="+t.TempDir())
	start := time.Now()
	if b, err := measure.CombinedOutput(); err != nil {
		t.Fatalf("pull: %v\n%s", err, b)
	}
	took := time.Since(start)
	for seed := range uint64(4) {
		store := t.TempDir()
		run := func() *exec.Cmd {
			cmd := symbcProcess(args...)
			cmd.Env = append(cmd.Env, "SYMBC_MODELS="+store)
			return cmd
		}
		d := time.Duration(rand.New(rand.NewPCG(seed, 56)).Int64N(int64(took)))
		killAfter(t, run(), d)
		if b, err := run().CombinedOutput(); err != nil {
			t.Fatalf("seed %d (killed after %v): the next pull failed: %v\n%s", seed, d, err, b)
		}
		if ents, err := os.ReadDir(filepath.Join(store, "tmp")); err == nil && len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("seed %d (killed after %v): tmp/ still holds %v", seed, d, names)
		}
		if b, err := run().CombinedOutput(); err != nil {
			t.Fatalf("seed %d: a third pull failed: %v\n%s", seed, err, b)
		}
	}
}
