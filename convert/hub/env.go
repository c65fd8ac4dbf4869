package hub

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NewFromEnv builds a Client configured the way the Hub's Python client reads
// its environment, so symbc shares the cache and login of other tools:
//
//	HF_ENDPOINT                      endpoint (default https://huggingface.co)
//	HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
//	~/.cache/huggingface/hub         cache folder, first set wins
//	HF_TOKEN, HUGGING_FACE_HUB_TOKEN token, else the file HF_TOKEN_PATH or HF_HOME/token
//	HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE  "1", "ON", "YES" or "TRUE" forbid network access
//	HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT  seconds (default 10)
//
// opts are applied after the environment, so explicit options win. A bad
// HF_ENDPOINT is an error.
func NewFromEnv(opts ...Option) (*Client, error) {
	home, _ := os.UserHomeDir()
	env := envOptions(os.Getenv, os.ReadFile, home)
	return New(append(env, opts...)...)
}

// envOptions is NewFromEnv without the process environment, for tests.
func envOptions(getenv func(string) string, readFile func(string) ([]byte, error), home string) []Option {
	expand := func(p string) string {
		p = os.Expand(p, getenv)
		if p == "~" {
			return home
		}
		if strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
			return filepath.Join(home, p[2:])
		}
		return p
	}
	firstSet := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}

	hfHome := firstSet("HF_HOME")
	if hfHome == "" {
		cacheHome := firstSet("XDG_CACHE_HOME")
		if cacheHome == "" {
			cacheHome = filepath.Join(home, ".cache")
		}
		hfHome = filepath.Join(cacheHome, "huggingface")
	}
	hfHome = expand(hfHome)

	cacheDir := firstSet("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
	if cacheDir == "" {
		cacheDir = filepath.Join(hfHome, "hub")
	}
	opts := []Option{WithCacheDir(expand(cacheDir))}

	if ep := firstSet("HF_ENDPOINT"); ep != "" {
		opts = append(opts, WithEndpoint(ep))
	}

	token := cleanToken(firstSet("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"))
	if token == "" {
		tokenPath := firstSet("HF_TOKEN_PATH")
		if tokenPath == "" {
			tokenPath = filepath.Join(hfHome, "token")
		}
		// A missing or unreadable token file simply means "not logged in".
		if b, err := readFile(expand(tokenPath)); err == nil {
			token = cleanToken(string(b))
		}
	}
	if token != "" {
		opts = append(opts, WithToken(token))
	}

	if isTrue(getenv("HF_HUB_OFFLINE")) || isTrue(getenv("TRANSFORMERS_OFFLINE")) {
		opts = append(opts, WithOffline(true))
	}
	if s := seconds(getenv("HF_HUB_ETAG_TIMEOUT")); s > 0 {
		opts = append(opts, func(c *Client) error { c.metaTimeout = s; return nil })
	}
	if s := seconds(getenv("HF_HUB_DOWNLOAD_TIMEOUT")); s > 0 {
		opts = append(opts, func(c *Client) error { c.stallTimeout = s; return nil })
	}
	return opts
}

// cleanToken drops line breaks and surrounding spaces, as a token file often
// ends with a newline.
func cleanToken(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", "")
	return strings.TrimSpace(s)
}

// ProgressBarsDisabled reports HF_HUB_DISABLE_PROGRESS_BARS, with which the
// Hub's own tools stop drawing progress bars: callers then print plain lines.
func ProgressBarsDisabled() bool { return isTrue(os.Getenv("HF_HUB_DISABLE_PROGRESS_BARS")) }

func isTrue(v string) bool {
	switch strings.ToUpper(v) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

func seconds(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
