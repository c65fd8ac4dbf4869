package tokenizer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/symbc/symbc/third_party/jinja"
)

// A chat template comes from a downloaded model folder, so it is untrusted
// code. These bound what a template can make ApplyChatTemplate do; the
// engine (third_party/jinja) checks them as it runs, so a render that hits
// one, or whose context is done, stops at once instead of running on in the
// background.
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

// renderLimits are the engine's limits for one render: steps (a real
// template takes a few hundred per message), the text of the prompt and
// of each macro, the bytes expressions make in total, and macro nesting
// (which bounds recursion, as Python's recursion limit does in Jinja2).
var renderLimits = jinja.Limits{
	MaxSteps:  4_000_000,
	MaxOutput: maxChatOutput,
	MaxAlloc:  16 * maxChatOutput,
	MaxDepth:  256,
}

// ErrTemplateLimit reports a chat template that exceeded a resource limit.
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

// renderBudget is shared by the callables of one render.
type renderBudget struct {
	rangeItems int64
}

// rangeFunc is Python's range with a bound on how many numbers the render
// may make in total.
func (b *renderBudget) rangeFunc(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
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
	if n > maxRangeItems || float64(b.rangeItems)+n > maxRangeItems {
		return jinja.Undefined(), fmt.Errorf("%w: range(%d, %d, %d) would bring the numbers made by range to more than %d", ErrTemplateLimit, start, stop, step, maxRangeItems)
	}
	b.rangeItems += int64(n)
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

// render runs tmpl within renderLimits and the time limit, on the caller's
// goroutine: the engine returns as soon as ctx is done. A panic inside the
// engine becomes an error.
func render(parent context.Context, tmpl *jinja.Template, data map[string]jinja.Value) (out string, err error) {
	ctx, cancel := context.WithTimeout(parent, defaultRenderTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			out, err = "", fmt.Errorf("template failed: %v", p)
		}
	}()
	out, err = tmpl.RenderContext(ctx, data, renderLimits)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, jinja.ErrLimit):
		return "", fmt.Errorf("%w: %w", ErrTemplateLimit, err)
	case errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil:
		return "", fmt.Errorf("%w: rendering took longer than %v", ErrTemplateLimit, defaultRenderTimeout)
	}
	return "", err
}
