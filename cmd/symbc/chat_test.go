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
	dir := chatModel(t)
	cmd := exec.Command(os.Args[0], "run", dir, "--temperature", "0", "--max-tokens", "400", "--threads", "1")
	cmd.Env = append(os.Environ(), "SYMBC_TEST_MAIN=1", "SYMBC_MODELS="+t.TempDir())
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	tm := &terminal{t: t, ptmx: ptmx}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
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
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()

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

	// Ctrl-C once the reply streams stops that reply only; the reply
	// would otherwise run for 400 tokens.
	tm.expect(`>>> `)
	tm.send("/clear\n")
	tm.expect(`conversation cleared`)
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
	// Ctrl-C at the prompt is not an exit either.
	tm.send("\x03")
	tm.expect(`/exit \(or Ctrl-D\) leaves`)
	tm.send("/exit\n")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("symbc run exited with %v after /exit", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("/exit did not end the chat")
	}
	ptmx.Close()
	<-readDone
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
