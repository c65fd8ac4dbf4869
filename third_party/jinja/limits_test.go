package jinja_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/symbc/symbc/third_party/jinja"
)

func TestRenderContextStops(t *testing.T) {
	// 10^12 iterations with an empty body: only the context ends it.
	tmpl, err := jinja.Compile(`{% set l = 'x' * 1000000 %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = tmpl.RenderContext(ctx, nil, jinja.Limits{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	// Building a million loop items between checks takes a moment; a render
	// that did not check the context would run for hours.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("render stopped %v after it started (context: 100 ms)", d)
	}
}

func TestRenderLimits(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		lim       jinja.Limits
		want      string // in the error
	}{
		{"steps", `{% for i in range(100000) %}{% endfor %}`, jinja.Limits{MaxSteps: 1000}, "steps"},
		{"output", `{% for i in range(1000) %}xxxxxxxxxx{% endfor %}`, jinja.Limits{MaxOutput: 5000}, "output"},
		{"macro output", `{% macro m() %}{% for i in range(1000) %}xxxxxxxxxx{% endfor %}{% endmacro %}{{ m()[:1] }}`, jinja.Limits{MaxOutput: 5000}, "output"},
		{"alloc", `{% for i in range(100) %}{% set s = 'x' * 100000 %}{% endfor %}`, jinja.Limits{MaxAlloc: 1 << 20}, "bytes"},
		{"depth", `{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`, jinja.Limits{MaxDepth: 50}, "nested"},
		{"repetition without limits", `{{ 'x' * 10**10 }}`, jinja.Limits{}, "string repetition"},
		{"list repetition without limits", `{{ [1, 2] * 10**9 }}`, jinja.Limits{}, "list repetition"},
		{"join without limits", `{{ (['x' * 1000000] * 100) | join }}`, jinja.Limits{}, "join"},
		{"overflow", `{{ 10 ** 30 }}`, jinja.Limits{}, "overflow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := jinja.Compile(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tmpl.RenderContext(context.Background(), nil, tc.lim)
			if !errors.Is(err, jinja.ErrLimit) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrLimit about %q", err, tc.want)
			}
		})
	}
}

func TestRecursionWithinLimits(t *testing.T) {
	// Recursive macros work, as in Jinja2, up to the depth limit.
	tmpl, err := jinja.Compile(`{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(10) }}`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.RenderContext(context.Background(), nil, jinja.Limits{MaxDepth: 20})
	if err != nil || out != "3628800" {
		t.Errorf("got %q, %v", out, err)
	}
}

func TestNestingRefusedAtCompile(t *testing.T) {
	for _, src := range []string{
		"{{ " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + " }}",
		"{{ " + strings.Repeat("-", 300) + "1 }}",
		strings.Repeat("{% if true %}", 300) + strings.Repeat("{% endif %}", 300),
	} {
		if _, err := jinja.Compile(src); !errors.Is(err, jinja.ErrLimit) {
			t.Errorf("%.20s...: err = %v, want ErrLimit", src, err)
		}
	}
	// Ordinary nesting compiles.
	if _, err := jinja.Compile("{{ " + strings.Repeat("(", 50) + "1" + strings.Repeat(")", 50) + " }}"); err != nil {
		t.Error(err)
	}
}
