package hub

import (
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestEnvOptions(t *testing.T) {
	home := filepath.FromSlash("/home/u")
	type want struct {
		cache, endpoint, token string
		offline                bool
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		files map[string]string
		want  want
	}{
		{
			name: "defaults",
			want: want{cache: "/home/u/.cache/huggingface/hub", endpoint: DefaultEndpoint},
		},
		{
			name:  "HF_HOME and its token file",
			env:   map[string]string{"HF_HOME": "/data/hf"},
			files: map[string]string{"/data/hf/token": "hf_file\n"},
			want:  want{cache: "/data/hf/hub", endpoint: DefaultEndpoint, token: "hf_file"},
		},
		{
			name:  "HF_HUB_CACHE wins, HF_TOKEN wins over the file",
			env:   map[string]string{"HF_HOME": "/data/hf", "HF_HUB_CACHE": "~/hubcache", "HF_TOKEN": " hf_env ", "HF_ENDPOINT": "https://mirror.example/"},
			files: map[string]string{"/data/hf/token": "hf_file"},
			want:  want{cache: "/home/u/hubcache", endpoint: "https://mirror.example", token: "hf_env"},
		},
		{
			name:  "HF_TOKEN_PATH and XDG_CACHE_HOME",
			env:   map[string]string{"XDG_CACHE_HOME": "/xdg", "HF_TOKEN_PATH": "/secrets/t", "HF_HUB_OFFLINE": "yes"},
			files: map[string]string{"/secrets/t": "hf_path", "/xdg/huggingface/token": "hf_other"},
			want:  want{cache: "/xdg/huggingface/hub", endpoint: DefaultEndpoint, token: "hf_path", offline: true},
		},
		{
			name: "legacy names",
			env:  map[string]string{"HUGGINGFACE_HUB_CACHE": "/legacy", "HUGGING_FACE_HUB_TOKEN": "hf_old", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_OFFLINE": "0"},
			want: want{cache: "/legacy", endpoint: DefaultEndpoint, token: "hf_old", offline: true},
		},
		{
			name: "offline off",
			env:  map[string]string{"HF_HUB_OFFLINE": "0"},
			want: want{cache: "/home/u/.cache/huggingface/hub", endpoint: DefaultEndpoint},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			readFile := func(p string) ([]byte, error) {
				if s, ok := tc.files[filepath.ToSlash(p)]; ok {
					return []byte(s), nil
				}
				return nil, fs.ErrNotExist
			}
			c := mustNew(t, envOptions(getenv, readFile, home)...)
			abs, _ := filepath.Abs(filepath.FromSlash(tc.want.cache))
			if c.cacheDir != abs || c.endpoint != tc.want.endpoint || c.token != tc.want.token || c.offline != tc.want.offline {
				t.Errorf("got cache=%q endpoint=%q token=%q offline=%v; want %+v", c.cacheDir, c.endpoint, c.token, c.offline, tc.want)
			}
		})
	}
}

func TestEnvTimeoutsAndOptionOrder(t *testing.T) {
	env := map[string]string{"HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "42", "HF_TOKEN": "hf_env"}
	opts := envOptions(func(k string) string { return env[k] }, func(string) ([]byte, error) { return nil, fs.ErrNotExist }, "/h")
	c := mustNew(t, append(opts, WithToken("hf_explicit"))...)
	if c.metaTimeout != 3*time.Second || c.stallTimeout != 42*time.Second {
		t.Errorf("timeouts = %s, %s", c.metaTimeout, c.stallTimeout)
	}
	if c.token != "hf_explicit" {
		t.Errorf("explicit option should win over the environment, token = %q", c.token)
	}
}

// Options given a value they cannot take make New fail; a bad HF_ENDPOINT
// is such a value.
func TestBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Option{WithEndpoint("huggingface.co"), WithEndpoint("ftp://hf.example"), WithEndpoint("https://"), WithJobs(-1)} {
		if c, err := New(o); err == nil {
			t.Errorf("accepted: %+v", c)
		}
	}
	env := map[string]string{"HF_ENDPOINT": "hf.local:8080"}
	opts := envOptions(func(k string) string { return env[k] }, func(string) ([]byte, error) { return nil, fs.ErrNotExist }, "/h")
	if _, err := New(opts...); err == nil || !strings.Contains(err.Error(), "hf.local:8080") {
		t.Errorf("HF_ENDPOINT hf.local:8080: %v", err)
	}
	if c := mustNew(t, WithJobs(0)); c.jobs != runtime.GOMAXPROCS(0) {
		t.Errorf("WithJobs(0): %d jobs, want one per CPU", c.jobs)
	}
}
