//go:build unix

package main

import (
	"testing"

	"github.com/creack/pty"
)

// On a terminal, bars; with HF_HUB_DISABLE_PROGRESS_BARS, plain lines as
// the Hub's own tools do.
func TestProgressHonoursHubDisableBars(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	for v, bars := range map[string]bool{"": true, "1": false, "true": false, "0": true} {
		t.Setenv("HF_HUB_DISABLE_PROGRESS_BARS", v)
		_, isBar := newProgressRenderer(tty).(*barProgress)
		if isBar != bars {
			t.Errorf("HF_HUB_DISABLE_PROGRESS_BARS=%q: bars %v, want %v", v, isBar, bars)
		}
	}
}
