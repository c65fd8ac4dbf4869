package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
)

// chatHelp is what the REPL prints on start and for /help.
const chatHelp = `/clear forgets the conversation, /exit (or Ctrl-D) leaves, Ctrl-C stops a reply`

// maxChatLine bounds one line typed at the prompt.
const maxChatLine = 1 << 20

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// maxStdinPrompt bounds a prompt read from standard input.
const maxStdinPrompt = 64 << 20

// readStdinPrompt reads standard input whole as the prompt of run; one
// final line break (what echo and editors add) is not part of it.
func readStdinPrompt(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxStdinPrompt+1))
	if err != nil {
		return "", fmt.Errorf("reading the prompt from standard input: %w", err)
	}
	if len(b) > maxStdinPrompt {
		return "", fmt.Errorf("the prompt on standard input is longer than %d bytes", maxStdinPrompt)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if p == "" {
		return "", usagef("no prompt: standard input is empty (give --prompt, or run on a terminal to chat)")
	}
	return p, nil
}

// runChat runs the REPL of `symbc run` on the command's streams. Ctrl-C
// stops the current reply instead of the command, so the command's context
// (which Ctrl-C cancels) is not the chat's: SIGTERM still ends it.
func runChat(cmd *cobra.Command, m *runtime.Model, name string, opts []runtime.GenOption) error {
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	defer signal.Stop(interrupts)
	terminate := make(chan os.Signal, 1)
	signal.Notify(terminate, syscall.SIGTERM)
	defer signal.Stop(terminate)
	ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
	defer cancel()
	go func() {
		select {
		case <-terminate:
			cancel()
		case <-ctx.Done():
		}
	}()
	return chatREPL(ctx, m, name, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), interrupts, opts)
}

// chatREPL is `symbc run MODEL` on a terminal without a prompt: a chat that
// keeps the conversation and streams each reply. interrupts delivers Ctrl-C:
// during a reply it stops that reply only (what was said so far stays in
// the conversation); at the prompt it reminds how to leave. A model without
// a chat template continues each line as plain text, with no history.
func chatREPL(ctx context.Context, m *runtime.Model, name string, in io.Reader, out, errw io.Writer,
	interrupts <-chan os.Signal, opts []runtime.GenOption) error {
	chat := m.Tokenizer() != nil && m.Tokenizer().HasChatTemplate()
	mode := "chat"
	if !chat {
		mode = "no chat template: each line is continued as plain text"
	}
	fmt.Fprintf(errw, "%s (%s). %s\n", name, mode, chatHelp)

	// The reader owns stdin until it ends; a line goes out only when the
	// loop asks for one, so nothing is read while a reply streams.
	next, restore := lineSource(in, out)
	defer restore()
	want, lines := make(chan struct{}), make(chan chatLine, 1)
	go func() {
		for range want {
			l := next()
			lines <- l
			if l.err != nil && !l.interrupted {
				return
			}
		}
	}()
	defer close(want)

	var history []tokenizer.Message
	for {
		want <- struct{}{}
		var l chatLine
	read:
		for {
			select {
			case l = <-lines:
				break read
			case <-interrupts:
				fmt.Fprintf(out, "\n(%s)\n>>> ", chatHelp)
			case <-ctx.Done():
				fmt.Fprintln(out)
				return nil
			}
		}
		if l.interrupted {
			fmt.Fprintf(out, "^C\n(%s)\n", chatHelp)
			continue
		}
		if errors.Is(l.err, io.EOF) {
			fmt.Fprintln(out)
			return nil
		}
		if l.err != nil {
			return fmt.Errorf("reading standard input: %w", l.err)
		}
		text := strings.TrimSpace(l.text)
		switch {
		case text == "":
			continue
		case text == "/exit" || text == "/bye" || text == "/quit":
			return nil
		case text == "/clear":
			history = nil
			fmt.Fprintln(out, "(conversation cleared)")
			continue
		case strings.HasPrefix(text, "/"):
			fmt.Fprintf(out, "(unknown command %s; %s)\n", text, chatHelp)
			continue
		}

		var reply strings.Builder
		genOpts := append(opts[:len(opts):len(opts)], runtime.WithOnText(func(piece string) error {
			reply.WriteString(piece)
			_, err := io.WriteString(out, piece)
			return err
		}))
		turnCtx, cancel := context.WithCancel(ctx)
		type result struct {
			res *runtime.Result
			err error
		}
		done := make(chan result, 1)
		if chat {
			history = append(history, tokenizer.Message{Role: "user", Content: text})
			msgs := history
			go func() { r, err := m.Chat(turnCtx, msgs, genOpts...); done <- result{r, err} }()
		} else {
			fmt.Fprint(out, text)
			go func() { r, err := m.Generate(turnCtx, text, genOpts...); done <- result{r, err} }()
		}
		var r result
		stopped := false
	wait:
		for {
			select {
			case r = <-done:
				break wait
			case <-interrupts:
				stopped = true
				cancel()
			}
		}
		cancel()
		if !strings.HasSuffix(reply.String(), "\n") {
			fmt.Fprintln(out)
		}
		switch {
		case stopped || (r.err != nil && errors.Is(r.err, context.Canceled) && ctx.Err() == nil):
			fmt.Fprintln(errw, "(reply stopped)")
		case ctx.Err() != nil:
			return nil
		case r.err != nil:
			// One failed turn (a prompt past the context, say) does not end
			// the chat: the turn is dropped.
			fmt.Fprintf(errw, "symbc: %v\n", r.err)
			if chat {
				history = history[:len(history)-1]
			}
			continue
		default:
			fmt.Fprintf(errw, "(%d prompt tokens, %d generated, %.1f tokens/s)\n",
				r.res.PromptTokens, r.res.CompletionTokens, r.res.DecodeTokensPerSecond)
		}
		if chat {
			history = append(history, tokenizer.Message{Role: "assistant", Content: reply.String()})
		}
	}
}

// chatLine is one line typed at the chat's prompt; interrupted marks Ctrl-C
// pressed at the prompt (in raw mode it is a key, not a signal).
type chatLine struct {
	text        string
	err         error
	interrupted bool
}

// lineSource returns what reads the chat's lines, prompt included. On a
// terminal that is golang.org/x/term's line editor, with the arrow keys
// recalling earlier lines; the terminal is raw only while a line is read,
// so Ctrl-C during a reply is still the signal that stops it. restore puts
// the terminal back as it was. Elsewhere lines are read plainly.
func lineSource(in io.Reader, out io.Writer) (next func() chatLine, restore func()) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 4096), maxChatLine)
		return func() chatLine {
			fmt.Fprint(out, ">>> ")
			if sc.Scan() {
				return chatLine{text: sc.Text()}
			}
			err := sc.Err()
			if err == nil {
				err = io.EOF
			}
			return chatLine{err: err}
		}, func() {}
	}
	fd := int(f.Fd())
	orig, err := term.GetState(fd)
	if err != nil {
		return lineSource(struct{ io.Reader }{in}, out)
	}
	keys := &ctrlCReader{r: f}
	var history term.History
	return func() chatLine {
		// A fresh editor per line (sharing the history) starts at a clean
		// prompt whatever the reply left on the screen.
		t := term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{keys, out}, ">>> ")
		if history != nil {
			t.History = history
		}
		history = t.History
		if w, h, err := term.GetSize(fd); err == nil && w > 0 && h > 0 {
			t.SetSize(w, h)
		}
		if _, err := term.MakeRaw(fd); err != nil {
			return chatLine{err: err}
		}
		keys.sawCtrlC = false
		text, err := t.ReadLine()
		term.Restore(fd, orig)
		if errors.Is(err, io.EOF) && keys.sawCtrlC {
			return chatLine{interrupted: true, err: err}
		}
		if len(text) > maxChatLine {
			return chatLine{err: fmt.Errorf("a line longer than %d bytes", maxChatLine)}
		}
		return chatLine{text: text, err: err}
	}, func() { term.Restore(fd, orig) }
}

// ctrlCReader notes a Ctrl-C among the keys read: the line editor answers
// Ctrl-C and Ctrl-D alike (io.EOF), and only Ctrl-D leaves the chat.
type ctrlCReader struct {
	r        io.Reader
	sawCtrlC bool
}

func (c *ctrlCReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if bytes.IndexByte(p[:n], 3) >= 0 {
		c.sawCtrlC = true
	}
	return n, err
}
