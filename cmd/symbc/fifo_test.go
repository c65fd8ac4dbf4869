//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestConvertRefusesFIFO: a named pipe as model.safetensors is refused at
// once (opening it for reading would block until a writer comes).
func TestConvertRefusesFIFO(t *testing.T) {
	src := storiesSource(t, nil)
	weights := filepath.Join(src, "model.safetensors")
	if err := os.Remove(weights); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(weights, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		convertFails(t, src, "model.safetensors", "named pipe")
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		// Unblock the open so the test process can end.
		if f, err := os.OpenFile(weights, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		<-done
		t.Fatal("convert blocked on a FIFO")
	}
}
