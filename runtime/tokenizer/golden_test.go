package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sharedTestdata is shared/testdata, which sits next to the repository.
var sharedTestdata = filepath.Join("..", "..", "..", "shared", "testdata")

var families = []string{"llama3", "llama2", "qwen3", "gemma3", "deepseek_v3", "cl100k"}

// loaded caches tokenizers across tests: the big ones take a while to load.
var loaded sync.Map

func familyDir(t testing.TB, family string) string {
	t.Helper()
	dir := filepath.Join(sharedTestdata, "tokenizers", family)
	if _, err := os.Stat(filepath.Join(dir, TokenizerFile)); err != nil {
		// A skip shows only with -v; CI sets SYMBC_REQUIRE_GOLDENS=1 so
		// that missing goldens fail instead.
		if os.Getenv("SYMBC_REQUIRE_GOLDENS") != "" {
			t.Fatalf("shared test data not found (%v); it is expected at %s", err, dir)
		}
		t.Skipf("shared test data not found (%v); it is expected at %s", err, dir)
	}
	return dir
}

func loadCached(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	if tk, ok := loaded.Load(dir); ok {
		return tk.(*Tokenizer)
	}
	tk, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	loaded.Store(dir, tk)
	return tk
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return out
}

type encodeCase struct {
	Name               string   `json:"name"`
	Text               string   `json:"text"`
	IDs                []int    `json:"ids"`
	IDsWithSpecial     []int    `json:"ids_with_special"`
	Tokens             []string `json:"tokens"`
	Decoded            string   `json:"decoded"`
	DecodedWithSpecial string   `json:"decoded_with_special"`
	DecodedSkipSpecial string   `json:"decoded_skip_special"`
}

func TestEncodeGoldens(t *testing.T) {
	for _, fam := range families {
		t.Run(fam, func(t *testing.T) {
			dir := familyDir(t, fam)
			tk := loadCached(t, dir)
			cases := readJSONL[encodeCase](t, filepath.Join(dir, "encode.jsonl"))
			pass := 0
			for _, c := range cases {
				ok := true
				check := func(what string, got, want any) {
					if !equalJSON(got, want) {
						ok = false
						t.Errorf("%s %s: got %v, want %v", c.Name, what, got, want)
					}
				}
				ids := tk.Encode(c.Text, false)
				check("ids", ids, c.IDs)
				check("ids_with_special", tk.Encode(c.Text, true), c.IDsWithSpecial)
				var toks []string
				for _, id := range c.IDs {
					s, _ := tk.TokenString(id)
					toks = append(toks, s)
				}
				check("tokens", toks, c.Tokens)
				check("decoded", tk.Decode(c.IDs, false), c.Decoded)
				check("decoded_with_special", tk.Decode(c.IDsWithSpecial, false), c.DecodedWithSpecial)
				check("decoded_skip_special", tk.Decode(c.IDsWithSpecial, true), c.DecodedSkipSpecial)
				if ok {
					pass++
				}
			}
			t.Logf("%s: %d/%d encode cases pass", fam, pass, len(cases))
		})
	}
}

type chatCase struct {
	Name                string         `json:"name"`
	Messages            []Message      `json:"messages"`
	AddGenerationPrompt bool           `json:"add_generation_prompt"`
	TemplateVars        map[string]any `json:"template_vars"`
	Rendered            string         `json:"rendered"`
	IDs                 []int          `json:"ids"`
}

func TestChatGoldens(t *testing.T) {
	for _, fam := range families {
		t.Run(fam, func(t *testing.T) {
			dir := familyDir(t, fam)
			path := filepath.Join(dir, "chat.jsonl")
			if _, err := os.Stat(path); err != nil {
				tk := loadCached(t, dir)
				if tk.HasChatTemplate() {
					t.Fatalf("%s has no chat goldens but a chat template was loaded", fam)
				}
				if _, err := tk.ApplyChatTemplate([]Message{{Role: "user", Content: "hi"}}); err != ErrNoChatTemplate {
					t.Fatalf("ApplyChatTemplate without template: got %v, want ErrNoChatTemplate", err)
				}
				return
			}
			tk := loadCached(t, dir)
			have := map[string]string{}
			for _, kv := range tk.templateVars {
				have[kv[0]] = kv[1]
			}
			pass := 0
			cases := readJSONL[chatCase](t, path)
			for _, c := range cases {
				opts := []ChatOption{WithGenerationPrompt(c.AddGenerationPrompt)}
				for k, v := range c.TemplateVars {
					if strings.HasSuffix(k, "_token") {
						if have[k] != v {
							t.Errorf("%s: template var %s = %q, want %v", c.Name, k, have[k], v)
						}
						continue
					}
					opts = append(opts, WithVar(k, v))
				}
				for k := range have {
					if _, ok := c.TemplateVars[k]; !ok {
						t.Errorf("%s: template var %s is set but the golden has none", c.Name, k)
					}
				}
				got, err := tk.ApplyChatTemplate(c.Messages, opts...)
				if err != nil {
					t.Errorf("%s: %v", c.Name, err)
					continue
				}
				if got != c.Rendered {
					t.Errorf("%s: rendered\n got %q\nwant %q", c.Name, got, c.Rendered)
					continue
				}
				if ids, _ := tk.EncodeChat(c.Messages, opts...); !slices.Equal(ids, c.IDs) {
					t.Errorf("%s: ids\n got %v\nwant %v", c.Name, ids, c.IDs)
					continue
				}
				pass++
			}
			t.Logf("%s: %d/%d chat cases pass", fam, pass, len(cases))
		})
	}
}

// equalJSON compares values the way the goldens see them: nil and empty
// slices are the same.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(normalizeEmpty(a))
	jb, _ := json.Marshal(normalizeEmpty(b))
	return string(ja) == string(jb)
}

func normalizeEmpty(v any) any {
	switch x := v.(type) {
	case []int:
		if len(x) == 0 {
			return []int{}
		}
	case []string:
		if len(x) == 0 {
			return []string{}
		}
	}
	return v
}

type storiesCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

// storiesDir is the copy of the stories260k tokenizer kept in the
// repository, so this test runs on a fresh clone.
var storiesDir = filepath.Join("..", "..", "testdata", "tokenizers", "stories260k")

func TestStories260kGoldens(t *testing.T) {
	tk := loadCached(t, storiesDir)
	cases := readJSONL[storiesCase](t, filepath.Join(storiesDir, "tokenizer_goldens.jsonl"))
	pass := 0
	for _, c := range cases {
		got := tk.Encode(c.Text, true)
		if !slices.Equal(got, c.IDs) {
			t.Errorf("%q: got %v, want %v", c.Text, got, c.IDs)
			continue
		}
		// Without special tokens in the text, decoding gives the text back.
		if !slices.ContainsFunc(c.IDs[1:], tk.IsSpecial) {
			if d := tk.Decode(c.IDs, true); d != c.Text {
				t.Errorf("%q: decoded to %q", c.Text, d)
				continue
			}
		}
		pass++
	}
	t.Logf("stories260k: %d/%d cases pass", pass, len(cases))
	if tk.BOS() != 1 || tk.EOS() != 2 {
		t.Errorf("BOS/EOS = %d/%d, want 1/2", tk.BOS(), tk.EOS())
	}
}

// TestStories260kSharedCopy checks that the repository copy matches the
// original in shared/ when that is present.
func TestStories260kSharedCopy(t *testing.T) {
	src := filepath.Join(sharedTestdata, "models", "stories260k")
	for _, name := range []string{TokenizerFile, ConfigFile, "tokenizer_goldens.jsonl"} {
		want, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Skipf("shared test data not found (%v)", err)
		}
		got, err := os.ReadFile(filepath.Join(storiesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s", filepath.Join(storiesDir, name), filepath.Join(src, name))
		}
	}
}
