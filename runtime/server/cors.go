package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// WithCORSOrigins lets browser pages from these origins (such as
// "http://localhost:3000", or "*" for any) call the API: responses carry
// Access-Control-Allow-Origin and preflight OPTIONS requests are answered.
// Without it no CORS headers are sent and browsers refuse cross-origin calls.
// An origin that is not "*" nor scheme://host[:port] is an error.
func WithCORSOrigins(origins ...string) Option {
	return func(c *config) error {
		for _, o := range origins {
			if o = strings.TrimSuffix(strings.TrimSpace(o), "/"); o != "" {
				if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil) {
					return fmt.Errorf("CORS origin %q: want \"*\" or scheme://host[:port]", o)
				}
				c.corsOrigins = append(c.corsOrigins, o)
			}
		}
		return nil
	}
}

// cors sets the CORS headers of a request from an allowed origin and
// answers preflights; it reports whether the request was answered.
func (s *server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if len(s.cfg.corsOrigins) == 0 || origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	allowed := slices.Contains(s.cfg.corsOrigins, "*") || slices.Contains(s.cfg.corsOrigins, origin)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if !allowed {
		if preflight {
			writeError(w, &apiError{status: http.StatusForbidden, Type: errInvalidRequest, Code: "cors_origin_not_allowed",
				Message: "Origin " + origin + " is not allowed (see --cors-origin)"})
			return true
		}
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if !preflight {
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}
