package tokenizer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/ardanlabs/jinja"
)

// A chat template comes from a downloaded model folder, so it is untrusted
// code. The Jinja engine has no limits of its own; these bound what a
// template can make ApplyChatTemplate do.
const (
	// maxRangeItems bounds the numbers all range() calls of one render may
	// produce together. Real templates loop over messages or tools; this
	// stops range(10**9) and nested loops over large ranges.
	maxRangeItems = 1 << 20
	// defaultRenderTimeout bounds one render (real templates take
	// microseconds).
	defaultRenderTimeout = 10 * time.Second
	// maxChatOutput bounds the rendered prompt.
	maxChatOutput = 16 << 20
)

// ErrTemplateLimit reports a chat template that exceeded a resource limit or
// uses a construct that could make rendering unbounded.
var ErrTemplateLimit = errors.New("chat template exceeds a limit")

// WithContext makes ApplyChatTemplate give up when ctx is done (it always
// gives up after an internal time limit too); nil is an error.
func WithContext(ctx context.Context) ChatOption {
	return func(o *chatOptions) error {
		if ctx == nil {
			return errors.New("nil context for the chat template")
		}
		o.ctx = ctx
		return nil
	}
}

// renderBudget is shared by the callables of one render, so that a render
// that was abandoned stops at its next call into them.
type renderBudget struct {
	rangeItems atomic.Int64
	stopped    atomic.Bool
}

func (b *renderBudget) check() error {
	if b.stopped.Load() {
		return fmt.Errorf("%w: render abandoned", ErrTemplateLimit)
	}
	return nil
}

// rangeFunc is Python's range with a bound on how many numbers the render
// may make in total. It replaces the engine's builtin, which allocates the
// whole list up front without limit.
func (b *renderBudget) rangeFunc(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if err := b.check(); err != nil {
		return jinja.Undefined(), err
	}
	var start, stop, step int64 = 0, 0, 1
	switch len(args) {
	case 1:
		stop = jinjaInt(args[0])
	case 2:
		start, stop = jinjaInt(args[0]), jinjaInt(args[1])
	case 3:
		start, stop, step = jinjaInt(args[0]), jinjaInt(args[1]), jinjaInt(args[2])
	default:
		return jinja.Undefined(), fmt.Errorf("range: expected 1 to 3 arguments, got %d", len(args))
	}
	if step == 0 {
		return jinja.Undefined(), errors.New("range: step must not be zero")
	}
	// Count in float64 so that extreme bounds cannot overflow.
	n := 0.0
	if step > 0 && stop > start {
		n = (float64(stop) - float64(start) + float64(step) - 1) / float64(step)
	} else if step < 0 && stop < start {
		n = (float64(start) - float64(stop) - float64(step) - 1) / -float64(step)
	}
	if n > maxRangeItems || b.rangeItems.Add(int64(n)) > maxRangeItems {
		return jinja.Undefined(), fmt.Errorf("%w: range(%d, %d, %d) would bring the numbers made by range to more than %d", ErrTemplateLimit, start, stop, step, maxRangeItems)
	}
	items := make([]jinja.Value, 0, int(n))
	for i, k := start, 0; k < int(n); i, k = i+step, k+1 {
		items = append(items, jinja.NewInt(i))
	}
	return jinja.NewList(items), nil
}

// jinjaInt converts a range argument as the engine's builtin does.
func jinjaInt(v jinja.Value) int64 {
	switch {
	case v.IsInt():
		return v.AsInt()
	case v.IsFloat():
		f := v.AsFloat()
		// Saturate: converting an out-of-range float to int64 is undefined.
		if f >= 1<<63 {
			return 1<<63 - 1
		}
		if f <= -(1<<63) || f != f {
			return -1 << 63
		}
		return int64(f)
	case v.IsBool():
		if v.AsBool() {
			return 1
		}
	}
	return 0
}

// render runs tmpl on its own goroutine so that a template that loops or
// recurses without end cannot hang the caller, and turns a panic inside the
// engine (e.g. a negative string repetition) into an error.
func render(ctx context.Context, tmpl *jinja.Template, data map[string]jinja.Value, b *renderBudget) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultRenderTimeout)
	defer cancel()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("template failed: %v", p)}
			}
			done <- r
		}()
		r.out, r.err = tmpl.RenderValues(data)
	}()
	select {
	case r := <-done:
		if r.err == nil && len(r.out) > maxChatOutput {
			return "", fmt.Errorf("%w: output of %d bytes is more than %d", ErrTemplateLimit, len(r.out), maxChatOutput)
		}
		return r.out, r.err
	case <-ctx.Done():
		// The goroutine cannot be killed; the budget makes it fail at its
		// next call into range, raise_exception or strftime_now.
		b.stopped.Store(true)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", fmt.Errorf("%w: rendering took longer than %v", ErrTemplateLimit, defaultRenderTimeout)
		}
		return "", ctx.Err()
	}
}

var (
	macroDefRe = regexp.MustCompile(`\{%-?\+?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
	macroEndRe = regexp.MustCompile(`\{%-?\+?\s*endmacro\b`)
	setAliasRe = regexp.MustCompile(`\{%-?\+?\s*set\s+([A-Za-z_][A-Za-z0-9_]*)\s*=([^%]*)%\}`)
	identRe    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// checkRecursion refuses templates whose macros can call themselves,
// directly, through other macros, or through a variable set to a macro: the
// engine recurses on the Go stack without a depth limit, and overflowing it
// kills the process rather than returning an error.
func checkRecursion(src string) error {
	type macro struct {
		name string
		body string
	}
	var macros []macro
	for _, loc := range macroDefRe.FindAllStringSubmatchIndex(src, -1) {
		name := src[loc[2]:loc[3]]
		rest := src[loc[1]:]
		end := macroEndRe.FindStringIndex(rest)
		if end == nil {
			end = []int{len(rest)}
		}
		macros = append(macros, macro{name, rest[:end[0]]})
	}
	if len(macros) == 0 {
		return nil
	}
	// refs[x] lists the macro-ish names that x may call.
	names := make(map[string]bool, len(macros))
	for _, m := range macros {
		names[m.name] = true
	}
	refs := make(map[string][]string)
	// Aliases: {% set f = some_macro %} makes f another name for it.
	for changed := true; changed; {
		changed = false
		for _, s := range setAliasRe.FindAllStringSubmatch(src, -1) {
			for _, id := range identRe.FindAllString(s[2], -1) {
				if names[id] && !names[s[1]] {
					names[s[1]] = true
					changed = true
				}
				if names[id] {
					refs[s[1]] = append(refs[s[1]], id)
				}
			}
		}
	}
	for _, m := range macros {
		for _, id := range identRe.FindAllString(m.body, -1) {
			if names[id] {
				refs[m.name] = append(refs[m.name], id)
			}
		}
	}
	const (
		unvisited = iota
		active
		finished
	)
	state := make(map[string]int, len(names))
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case active:
			return fmt.Errorf("%w: macro %s can call itself (%v); recursive macros are not allowed", ErrTemplateLimit, n, append(path, n))
		case finished:
			return nil
		}
		state[n] = active
		for _, r := range refs[n] {
			if err := visit(r, append(path, n)); err != nil {
				return err
			}
		}
		state[n] = finished
		return nil
	}
	for n := range names {
		if err := visit(n, nil); err != nil {
			return err
		}
	}
	return nil
}
