package jinja

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrLimit reports a render that exceeded one of its Limits, or a value
// larger than any template may make.
var ErrLimit = errors.New("template limit exceeded")

// maxValueBytes bounds every string a template makes, whatever the Limits:
// repetition, join, replace and padding check the size of their result
// before allocating it, so that no expression can ask for gigabytes.
const maxValueBytes = 32 << 20

// maxItems bounds every list a template makes (range, list repetition) and
// the items a for loop may materialise, whatever the Limits.
const maxItems = 1 << 22

// maxNesting bounds the nesting of brackets in an expression and of block
// tags, since parsing them recurses on the Go stack.
const maxNesting = 200

// Limits bound one render. A zero field means no limit of that kind (the
// engine-wide bounds on single values still apply).
type Limits struct {
	// MaxSteps bounds the template nodes executed and expressions
	// evaluated.
	MaxSteps int64
	// MaxOutput bounds the bytes of the rendered text, and of the text a
	// macro, call or set block renders.
	MaxOutput int
	// MaxAlloc bounds the bytes of all strings (and list slots, at 16
	// bytes each) that expressions make over the render.
	MaxAlloc int64
	// MaxDepth bounds nested macro and caller calls.
	MaxDepth int
}

// budget is the state of one render's limits, shared by the nested
// evaluators of macros, calls and blocks. A render runs on one goroutine.
type budget struct {
	ctx   context.Context
	lim   Limits
	steps int64
	alloc int64
	depth int
}

// ctxCheckEvery is how many steps pass between checks of the context: a
// step takes well under a microsecond, so a cancelled render stops within
// microseconds.
const ctxCheckEvery = 256

func (b *budget) step() error {
	b.steps++
	if b.lim.MaxSteps > 0 && b.steps > b.lim.MaxSteps {
		return fmt.Errorf("%w: more than %d steps", ErrLimit, b.lim.MaxSteps)
	}
	if b.steps%ctxCheckEvery == 0 {
		if err := b.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// charge counts n bytes made by an expression.
func (b *budget) charge(n int64) error {
	b.alloc += n
	if b.lim.MaxAlloc > 0 && b.alloc > b.lim.MaxAlloc {
		return fmt.Errorf("%w: expressions made more than %d bytes", ErrLimit, b.lim.MaxAlloc)
	}
	return nil
}

func (b *budget) enter() error {
	b.depth++
	if b.lim.MaxDepth > 0 && b.depth > b.lim.MaxDepth {
		return fmt.Errorf("%w: macro calls nested more than %d deep", ErrLimit, b.lim.MaxDepth)
	}
	return nil
}

func (b *budget) leave() { b.depth-- }

// checkOutput reports whether a buffer holding have bytes may grow by add.
func (b *budget) checkOutput(have, add int) error {
	if b.lim.MaxOutput > 0 && have+add > b.lim.MaxOutput {
		return fmt.Errorf("%w: output of more than %d bytes", ErrLimit, b.lim.MaxOutput)
	}
	return nil
}

// checkSize reports whether a string of n bytes may be made.
func checkSize(what string, n float64) error {
	if n > maxValueBytes {
		return fmt.Errorf("%w: %s would make a string of %.0f bytes (at most %d)", ErrLimit, what, n, maxValueBytes)
	}
	return nil
}

// checkCount reports whether a list of n items may be made.
func checkCount(what string, n float64) error {
	if n > maxItems {
		return fmt.Errorf("%w: %s would make %.0f items (at most %d)", ErrLimit, what, n, maxItems)
	}
	return nil
}

// repeatString is s * n with Python's semantics (n <= 0 gives "").
func repeatString(s string, n int64) (Value, error) {
	if n <= 0 || s == "" {
		return NewString(""), nil
	}
	if err := checkSize("string repetition", float64(len(s))*float64(n)); err != nil {
		return Undefined(), err
	}
	return NewString(strings.Repeat(s, int(n))), nil
}

// repeatList is l * n with Python's semantics.
func repeatList(l *List, n int64) (Value, error) {
	if n <= 0 || l.Len() == 0 {
		return NewList(nil), nil
	}
	if err := checkCount("list repetition", float64(l.Len())*float64(n)); err != nil {
		return Undefined(), err
	}
	items := make([]Value, 0, l.Len()*int(n))
	for range n {
		items = append(items, l.Items...)
	}
	return NewList(items), nil
}

// replaceString is strings.Replace with its result size checked first.
func replaceString(s, old, new string, count int) (Value, error) {
	if len(new) > len(old) {
		n := strings.Count(s, old)
		if count >= 0 && count < n {
			n = count
		}
		if err := checkSize("replace", float64(len(s))+float64(n)*float64(len(new)-len(old))); err != nil {
			return Undefined(), err
		}
	}
	return NewString(strings.Replace(s, old, new, count)), nil
}

// joinStrings is strings.Join with its result size checked first.
func joinStrings(parts []string, sep string) (Value, error) {
	n := float64(len(sep)) * float64(max(len(parts)-1, 0))
	for _, p := range parts {
		n += float64(len(p))
	}
	if err := checkSize("join", n); err != nil {
		return Undefined(), err
	}
	return NewString(strings.Join(parts, sep)), nil
}

// padding is n spaces, n checked first.
func padding(what string, n int64) (string, error) {
	if n <= 0 {
		return "", nil
	}
	if err := checkSize(what, float64(n)); err != nil {
		return "", err
	}
	return strings.Repeat(" ", int(n)), nil
}
