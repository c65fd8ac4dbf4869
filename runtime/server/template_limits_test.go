//go:build linux

package server

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatusKB reads a "Name: N kB" line of /proc/self/status.
func procStatusKB(t *testing.T, name string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("/proc/self/status has no %s", name)
	return 0
}

// idleCPU is the CPU time the process uses over d once nothing should run.
func idleCPU(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	before := cpuTime(t)
	time.Sleep(d)
	return cpuTime(t) - before
}

// TestHostileTemplateStops serves a model whose chat template is hostile
// (an endless loop, a huge string repetition, unbounded recursion, a
// string that doubles each step) and checks, from the process's own CPU
// time and memory, that each render stops when its request ends (with a
// 400, or when the client leaves): no core keeps running after it and the
// peak memory stays bounded.
func TestHostileTemplateStops(t *testing.T) {
	const (
		// loop runs 10^12 iterations: only the engine's limits end it.
		loop      = `{% set l = 'x' * 1000000 %}{% for a in l %}{% for b in l %}{{ b }}{% endfor %}{% endfor %}`
		repeat    = `{{ 'x' * 10**10 }}`
		recursion = `{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`
		doubling  = `{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}`
		// spin loops without output and without range, so that only the
		// step limit, the time limit or the request's context stops it.
		spin = `{% set l = 'x' * 1000000 %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}`
	)
	dir := storiesDir(t)
	for _, tc := range []struct {
		name, tmpl string
		leave      bool // the client leaves after 300 ms instead of waiting for the 400
	}{
		{"loop", loop, false},
		{"repeat", repeat, false},
		{"recursion", recursion, false},
		{"doubling", doubling, false},
		{"client leaves", spin, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "tokenizer", "chat_template.jinja"), []byte(tc.tmpl), 0o644); err != nil {
				t.Fatal(err)
			}
			hwm := procStatusKB(t, "VmHWM")
			start := time.Now()
			srv, logs := newServer(t, loadModel(t, dir))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.leave {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions",
				strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":1}`))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			switch {
			case tc.leave && err == nil:
				resp.Body.Close()
				t.Fatalf("request ended with %s before the client left", resp.Status)
			case tc.leave:
			case err != nil:
				t.Fatal(err)
			default:
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("status %s, want 400", resp.Status)
				}
			}
			took := time.Since(start)
			if tc.leave {
				// The handler ends (and logs the request) once the render
				// has stopped.
				logs.waitFor(t, 2*time.Second, "POST /v1/chat/completions", "canceled by client")
			}
			// Finish the garbage collection of what the render made, so
			// that the second below measures only what still runs.
			time.Sleep(100 * time.Millisecond)
			goruntime.GC()
			// A core still rendering would use about all of this second; the
			// runtime's own background work uses a few milliseconds.
			if cpu := idleCPU(t, time.Second); cpu > 300*time.Millisecond {
				t.Errorf("the process used %v of CPU in the second after the request ended (in %v)", cpu, took.Round(time.Millisecond))
			}
			if grew := procStatusKB(t, "VmHWM") - hwm; grew > 600<<10 {
				t.Errorf("peak RSS grew by %d MiB during the request", grew>>10)
			}
			t.Logf("request ended after %v", took.Round(time.Millisecond))
		})
	}
}
