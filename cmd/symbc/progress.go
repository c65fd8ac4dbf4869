package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/convert/hub"
)

// convertProgress renders the events of a conversion on w, for
// convert.WithProgress: a bar of input bytes when w is a terminal,
// otherwise (or with HF_HUB_DISABLE_PROGRESS_BARS set, as the Hub's tools
// honour it) one plain line per tensor (for logs and CI). Every command that
// may convert (convert, and run/serve/... given a Hub id) uses it.
func convertProgress(w io.Writer) func(convert.Event) {
	r := newProgressRenderer(w)
	return func(e convert.Event) {
		switch e.Kind {
		case convert.EventDownload:
			r.Download(e.Name, e.Bytes, e.Total)
		case convert.EventStart:
			r.Start(e.Count, e.Total)
		case convert.EventAdvance:
			r.Advance(e.Bytes)
		case convert.EventTensor:
			r.Tensor(e.Name, e.Spec, e.Bytes)
		case convert.EventFinish:
			r.Finish()
		}
	}
}

func newProgressRenderer(w io.Writer) progressRenderer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !hub.ProgressBarsDisabled() {
		return &barProgress{w: w}
	}
	return &lineProgress{w: w}
}

// progressRenderer is one way of drawing conversion progress; its methods
// are called from several goroutines.
type progressRenderer interface {
	Download(file string, done, total int64)
	Start(tensors int, inputBytes int64)
	Advance(bytes int64)
	Tensor(name, spec string, bytes int64)
	Finish()
}

type barProgress struct {
	w   io.Writer
	mu  sync.Mutex
	bar *progressbar.ProgressBar
	dl  string // file being downloaded
	dlb *progressbar.ProgressBar
}

func (p *barProgress) Download(file string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dlb == nil || p.dl != file {
		if p.dlb != nil {
			_ = p.dlb.Finish()
		}
		p.dl = file
		p.dlb = progressbar.NewOptions64(total, progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("download "+file), progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	_ = p.dlb.Set64(done)
}

func (p *barProgress) Start(tensors int, inputBytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dlb != nil {
		_ = p.dlb.Finish()
		p.dlb = nil
	}
	p.bar = progressbar.NewOptions64(inputBytes, progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("convert %d tensors", tensors)),
		progressbar.OptionShowBytes(true), progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}

func (p *barProgress) Advance(n int64) {
	if p.bar != nil {
		_ = p.bar.Add64(n)
	}
}

func (p *barProgress) Tensor(string, string, int64) {}

func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range []*progressbar.ProgressBar{p.dlb, p.bar} {
		if b != nil {
			_ = b.Finish()
		}
	}
}

type lineProgress struct {
	w     io.Writer
	mu    sync.Mutex
	n, of int
	dl    map[string]bool
}

func (p *lineProgress) Download(file string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if done == total && !p.dl[file] {
		if p.dl == nil {
			p.dl = map[string]bool{}
		}
		p.dl[file] = true
		fmt.Fprintf(p.w, "downloaded %s (%d bytes)\n", file, total)
	}
}

func (p *lineProgress) Start(tensors int, inputBytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.of = tensors
	fmt.Fprintf(p.w, "converting %d tensors (%d input bytes)\n", tensors, inputBytes)
}

func (p *lineProgress) Advance(int64) {}

func (p *lineProgress) Tensor(name, spec string, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	fmt.Fprintf(p.w, "[%d/%d] %s %s %d bytes\n", p.n, p.of, name, spec, bytes)
}

func (p *lineProgress) Finish() {}
