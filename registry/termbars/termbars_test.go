package termbars

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/symbc/symbc/registry"
)

func feed(r *Renderer, phase registry.Phase) {
	r.Handle(registry.Event{Phase: phase, Kind: registry.EventTotal, Size: 3000, Count: 3})
	var wg sync.WaitGroup
	for _, name := range []string{"a.symb", "layers/layer_00/b.symb", "c.symb"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Handle(registry.Event{Phase: phase, Kind: registry.EventStart, Name: name, Size: 1000})
			for range 10 {
				r.Handle(registry.Event{Phase: phase, Kind: registry.EventBytes, Name: name, N: 100})
			}
			r.Handle(registry.Event{Phase: phase, Kind: registry.EventDone, Name: name, Size: 1000})
		}()
	}
	wg.Wait()
	r.Handle(registry.Event{Phase: phase, Kind: registry.EventRetry, Name: "c.symb"})
	r.Close()
}

func TestPlain(t *testing.T) {
	var buf bytes.Buffer
	feed(New(&buf, false), registry.PhaseUpload)
	want := "uploading 3 blobs, 2.93 KiB\nretrying c.symb\n"
	if buf.String() != want {
		t.Errorf("plain output %q, want %q", buf.String(), want)
	}
}

func TestTerminal(t *testing.T) {
	var buf bytes.Buffer
	feed(New(&buf, true), registry.PhaseDownload)
	out := buf.String()
	for _, want := range []string{"downloading", "layers/layer_00/b.symb", "\x1b[2K", "100%"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "retrying") {
		t.Error("retries are not printed as lines on a terminal")
	}
}
