package server

import (
	"testing"

	"github.com/symbc/symbc/symb"
)

// Options given a value they cannot take make New fail instead of being
// replaced by a default in silence.
func TestBadOptions(t *testing.T) {
	t.Parallel()
	hot := -0.5
	for name, o := range map[string]Option{
		"concurrent": WithMaxConcurrent(-1),
		"body":       WithMaxBodyBytes(-1),
		"log":        WithRequestLog(nil),
		"defaults":   WithGenerationDefaults(symb.Generation{Temperature: &hot}),
		"cors path":  WithCORSOrigins("http://localhost:3000/app"),
		"cors bare":  WithCORSOrigins("localhost"),
	} {
		if _, err := New(nil, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(nil, WithMaxConcurrent(0), WithMaxBodyBytes(0), WithCORSOrigins("*", " http://localhost:3000/ ", "https://a.example:8443")); err != nil {
		t.Errorf("good options: %v", err)
	}
}
