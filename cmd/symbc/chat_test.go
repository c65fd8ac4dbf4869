package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/symbc/symbc/symb"
)

// TestMain lets a test start this test binary as the symbc command itself
// (SYMBC_TEST_MAIN=1), in a process of its own with a terminal of its own.
func TestMain(m *testing.M) {
	if os.Getenv("SYMBC_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// chatModel is stories260k with a chat template that joins the messages:
// every turn adds the whole conversation to the prompt.
func chatModel(t *testing.T) string {
	t.Helper()
	dir, _ := convertStories(t)
	return withChatTemplate(t, dir)
}

// longChatModel is chatModel with a context of 8,192 positions instead of
// 512, so that a reply can run for thousands of tokens (seconds): long
// enough for a Ctrl-C sent after its first piece to arrive while it runs.
func longChatModel(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "models", "stories260k")
	long := filepath.Join(t.TempDir(), "stories-long")
	if err := os.CopyFS(long, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(long, "config.json")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const from, to = `"max_position_embeddings": 512`, `"max_position_embeddings": 8192`
	if !strings.Contains(string(b), from) {
		t.Fatalf("%s has no %s", cfg, from)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stories")
	if msg, err := runCLI(t, "convert", long, out, "--quiet"); err != nil {
		t.Fatalf("convert: %v\n%s", err, msg)
	}
	return withChatTemplate(t, out)
}

// withChatTemplate gives the converted model in dir a chat template that
// joins the messages and rewrites its manifest.
func withChatTemplate(t *testing.T, dir string) string {
	t.Helper()
	tmpl := "{% for m in messages %}{{ m.content }} {% endfor %}"
	if err := os.WriteFile(filepath.Join(dir, "tokenizer", "chat_template.jinja"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	man, err := symb.BuildManifest(context.Background(), dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := symb.WriteManifest(dir, man); err != nil {
		t.Fatal(err)
	}
	return dir
}

// terminal is the master side of a pseudo-terminal with everything the
// child wrote to it so far.
type terminal struct {
	t    *testing.T
	ptmx *os.File
	mu   sync.Mutex
	buf  strings.Builder
	seen int // bytes of buf already matched by expect

	readDone chan struct{} // closed when reading the terminal has stopped
}

func (tm *terminal) send(s string) {
	tm.t.Helper()
	if _, err := tm.ptmx.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

// expect waits until the output after the last match matches re and
// returns the submatches.
func (tm *terminal) expect(re string) []string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for {
		tm.mu.Lock()
		rest := tm.buf.String()[tm.seen:]
		if loc := rx.FindStringSubmatchIndex(rest); loc != nil {
			m := rx.FindStringSubmatch(rest)
			tm.seen += loc[1]
			tm.mu.Unlock()
			return m
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("terminal never showed %q; after the last match it shows:\n%s\nall:\n%s", re, rest, tm.buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestChatREPLThroughATerminal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("pseudo-terminals are a Unix facility")
	}
	tm, exited := startChat(t, chatModel(t), "--max-tokens", "400")
	stats := `\((\d+) prompt tokens, (\d+) generated`
	tm.expect(`\(chat\)\. /clear forgets the conversation`)
	tm.expect(`>>> `)
	tm.send("Once upon a time\n")
	turn1, _ := strconv.Atoi(tm.expect(stats)[1])
	tm.expect(`>>> `)
	tm.send("Lily went to the park\n")
	turn2, _ := strconv.Atoi(tm.expect(stats)[1])
	if turn2 <= turn1 {
		t.Errorf("the second turn's prompt has %d tokens, the first %d: the conversation was not kept", turn2, turn1)
	}
	tm.expect(`>>> `)
	tm.send("/clear\n")
	tm.expect(`conversation cleared`)
	tm.send("Once upon a time\n")
	if again, _ := strconv.Atoi(tm.expect(stats)[1]); again != turn1 {
		t.Errorf("after /clear the prompt has %d tokens, want %d as in the first turn", again, turn1)
	}

	// The up arrow recalls typed lines: twice up past "/clear" is the
	// first turn's line, which gets the first turn's prompt again.
	tm.expect(`>>> `)
	tm.send("/clear\n")
	tm.expect(`conversation cleared`)
	tm.expect(`>>> `)
	tm.send("\x1b[A")
	tm.expect(`/clear`)
	tm.send("\x1b[A")
	tm.expect(`Once upon a time`)
	tm.send("\r")
	if again, _ := strconv.Atoi(tm.expect(stats)[1]); again != turn1 {
		t.Errorf("the recalled line's prompt has %d tokens, want %d as in the first turn", again, turn1)
	}

	// Ctrl-C at the prompt is not an exit.
	tm.expect(`>>> `)
	tm.send("\x03")
	tm.expect(`/exit \(or Ctrl-D\) leaves`)
	tm.exit(exited)
}

// TestChatREPLCtrlCStopsTheReply checks that Ctrl-C while a reply streams
// stops that reply only, on a model whose 4,000-token reply would take
// seconds.
func TestChatREPLCtrlCStopsTheReply(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("pseudo-terminals are a Unix facility")
	}
	tm, exited := startChat(t, longChatModel(t), "--max-tokens", "4000")
	tm.expect(`>>> `)
	tm.send("Tom had a dog\n")
	tm.expect(`dog\r?\n.`) // the echo, then the reply's first piece
	tm.send("\x03")
	tm.expect(`\(reply stopped\)`)
	tm.expect(`>>> `)
	select {
	case err := <-exited:
		t.Fatalf("Ctrl-C during a reply ended the chat: %v", err)
	default:
	}
	tm.exit(exited)
}

// startChat starts "symbc run DIR" in chat mode on a pseudo-terminal of its
// own (greedy, one thread, args added) and returns the terminal, which
// collects everything the chat writes, and the channel of the process's
// exit. The process is killed when the test ends.
func startChat(t *testing.T, dir string, args ...string) (*terminal, <-chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"run", dir, "--temperature", "0", "--threads", "1"}, args...)...)
	cmd.Env = append(os.Environ(), "SYMBC_TEST_MAIN=1", "SYMBC_MODELS="+t.TempDir())
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	tm := &terminal{t: t, ptmx: ptmx, readDone: make(chan struct{})}
	go func() {
		defer close(tm.readDone)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			tm.mu.Lock()
			tm.buf.Write(b[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
		ptmx.Close()
		<-tm.readDone
	})
	return tm, exited
}

// exit sends /exit and checks that the chat ends without an error.
func (tm *terminal) exit(exited <-chan error) {
	tm.t.Helper()
	tm.send("/exit\n")
	select {
	case err := <-exited:
		if err != nil {
			tm.t.Errorf("symbc run exited with %v after /exit", err)
		}
	case <-time.After(30 * time.Second):
		tm.t.Fatal("/exit did not end the chat")
	}
}

func TestRunReadsThePromptFromStdin(t *testing.T) {
	dir, _ := convertStories(t)
	args := []string{"run", dir, "--temperature", "0", "--max-tokens", "8"}
	want, _, code := symbcRun(t, append(args, "--prompt", "Once upon a time")...)
	if code != 0 {
		t.Fatal(want)
	}
	root := newRootCmd()
	var out, errb strings.Builder
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader("Once upon a time\n"))
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil || out.String() != want {
		t.Errorf("prompt on stdin: %q, %v; --prompt gives %q", out.String(), err, want)
	}
	root = newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err == nil || exitCode(err) != 2 {
		t.Errorf("empty stdin: %v, want a usage error", err)
	}
}
