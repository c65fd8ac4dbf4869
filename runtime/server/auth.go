package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// WithAPIKeys makes every endpoint but /health (and CORS preflights)
// require "Authorization: Bearer KEY" with one of keys. Empty keys are
// dropped; with none left the server is open, as without the option.
func WithAPIKeys(keys ...string) Option {
	return func(c *config) error {
		for _, k := range keys {
			if k != "" {
				c.apiKeys = append(c.apiKeys, sha256.Sum256([]byte(k)))
			}
		}
		return nil
	}
}

// authorized reports whether r carries one of the keys. The keys are kept
// and compared as SHA-256 digests, all of them every time, so that the time
// taken says nothing about how much of a key matched or which one did.
func (s *server) authorized(r *http.Request) bool {
	if len(s.cfg.apiKeys) == 0 {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(key)))
	match := 0
	for _, k := range s.cfg.apiKeys {
		match |= subtle.ConstantTimeCompare(got[:], k[:])
	}
	return match == 1
}

// unauthorized is OpenAI's answer to a missing or wrong key. It never
// repeats the key that was sent.
func unauthorized(r *http.Request) *apiError {
	msg := "Incorrect API key provided. Pass a key the server was started with as 'Authorization: Bearer KEY'."
	if r.Header.Get("Authorization") == "" {
		msg = "You didn't provide an API key. Pass it as 'Authorization: Bearer KEY'."
	}
	return &apiError{status: http.StatusUnauthorized, Message: msg, Type: errInvalidRequest, Code: "invalid_api_key"}
}
