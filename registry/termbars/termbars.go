// Package termbars shows registry.Push and registry.Pull progress: on a
// terminal, a bar for every blob in flight above an overall bar; elsewhere,
// a plain line per phase.
package termbars

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/symbc/symbc/internal/humanize"
	"github.com/symbc/symbc/registry"
)

// Renderer turns events into output. Its Handle method is safe for
// concurrent use and fits registry.WithProgress.
type Renderer struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	phase   registry.Phase
	overall *progressbar.ProgressBar
	files   []*fileBar // in the order they started
	drawn   int        // lines of the block on screen
	last    time.Time
	skipped int
}

type fileBar struct {
	name string
	bar  *progressbar.ProgressBar
}

// New renders to w (usually stderr); tty selects bars over plain lines.
func New(w io.Writer, tty bool) *Renderer { return &Renderer{w: w, tty: tty} }

var verbs = map[registry.Phase]string{
	registry.PhaseHash: "hashing", registry.PhaseUpload: "uploading", registry.PhaseDownload: "downloading",
}

// Handle takes one event.
func (r *Renderer) Handle(ev registry.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.tty {
		r.plain(ev)
		return
	}
	switch ev.Kind {
	case registry.EventTotal:
		r.finish()
		r.phase, r.skipped = ev.Phase, 0
		r.overall = newBar(ev.Size, fmt.Sprintf("%-11s %d blobs", verbs[ev.Phase], ev.Count))
	case registry.EventStart:
		if ev.Phase != registry.PhaseHash && ev.Size > 0 {
			r.files = append(r.files, &fileBar{ev.Name, newBar(ev.Size, clipName(ev.Name))})
		}
	case registry.EventBytes:
		if r.overall != nil {
			r.overall.Add64(ev.N)
		}
		if f := r.find(ev.Name); f != nil {
			f.bar.Add64(ev.N)
		}
	case registry.EventSkip:
		r.skipped++
		if r.overall != nil {
			r.overall.Add64(ev.Size)
			r.overall.Describe(fmt.Sprintf("%-11s %d already there", verbs[r.phase], r.skipped))
		}
	case registry.EventDone:
		for i, f := range r.files {
			if f.name == ev.Name {
				r.files = append(r.files[:i], r.files[i+1:]...)
				break
			}
		}
	}
	// Starts and ends redraw at once, bytes at most ten times a second.
	if ev.Kind != registry.EventBytes || time.Since(r.last) > 100*time.Millisecond {
		r.draw()
	}
}

func (r *Renderer) find(name string) *fileBar {
	for _, f := range r.files {
		if f.name == name {
			return f
		}
	}
	return nil
}

// newBar renders into its own state only; draw places the text.
func newBar(max int64, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(io.Discard),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(25),
		progressbar.OptionThrottle(90*time.Millisecond),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetRenderBlankState(true),
	)
}

func clipName(s string) string {
	const n = 40
	if len(s) > n {
		s = "…" + s[len(s)-n+1:]
	}
	return fmt.Sprintf("  %-*s", n, s)
}

// draw rewrites the block: one line per file in flight, the overall bar last.
func (r *Renderer) draw() {
	if r.overall == nil {
		return
	}
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn)
	}
	lines := 0
	for _, f := range r.files {
		fmt.Fprintf(&b, "\r\x1b[2K%s\n", strings.TrimLeft(f.bar.String(), "\r"))
		lines++
	}
	fmt.Fprintf(&b, "\r\x1b[2K%s\n\x1b[J", strings.TrimLeft(r.overall.String(), "\r"))
	r.drawn = lines + 1
	r.last = time.Now()
	io.WriteString(r.w, b.String())
}

// finish leaves the finished overall bar on screen and forgets the block.
func (r *Renderer) finish() {
	if r.overall == nil {
		return
	}
	r.files = nil
	r.overall.Finish()
	r.draw()
	r.overall, r.drawn = nil, 0
}

// Close draws the final state.
func (r *Renderer) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tty {
		r.finish()
	}
}

// plain prints a line per phase and per retry, nothing per blob: logs of
// models with thousands of files stay readable.
func (r *Renderer) plain(ev registry.Event) {
	switch ev.Kind {
	case registry.EventTotal:
		fmt.Fprintf(r.w, "%s %d blobs, %s\n", verbs[ev.Phase], ev.Count, humanize.Bytes(ev.Size))
	case registry.EventRetry:
		fmt.Fprintf(r.w, "retrying %s\n", ev.Name)
	}
}
