package tokenizer

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestAccessors(t *testing.T) {
	tk := loadCached(t, storiesDir)
	if n := tk.VocabSize(); n != 512 {
		t.Errorf("VocabSize = %d, want 512", n)
	}
	if id, ok := tk.ID("<0x41>"); !ok || id != 3+0x41 {
		t.Errorf("ID(<0x41>) = %d, %v", id, ok)
	}
	if s, ok := tk.TokenString(1); !ok || s != "<s>" {
		t.Errorf("TokenString(1) = %q, %v", s, ok)
	}
	if _, ok := tk.TokenString(512); ok {
		t.Error("TokenString(512) should fail")
	}
	if _, ok := tk.ID("no such token"); ok {
		t.Error("ID of an unknown token should fail")
	}
	if got := tk.SpecialIDs(); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("SpecialIDs = %v", got)
	}
	// Unknown ids are ignored rather than failing the whole decode.
	ids := tk.Encode("Hello", false)
	if got := tk.Decode(append([]int{-1, 9999}, ids...), false); got != "Hello" {
		t.Errorf("Decode with bad ids = %q", got)
	}
	if got := tk.Encode("", true); !slices.Equal(got, []int{1}) {
		t.Errorf(`Encode("", true) = %v`, got)
	}
}

// TestLlamaClassAddsEOS checks the transformers rule for Llama-class
// tokenizers: add_bos_token / add_eos_token replace the post-processor.
func TestLlamaClassAddsEOS(t *testing.T) {
	cfg := []byte(`{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "add_bos_token": false, "add_eos_token": true}`)
	tk, err := FromBytes(storiesBytes(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := tk.Encode("Hi", true)
	if ids[0] == 1 || ids[len(ids)-1] != 2 {
		t.Errorf("ids %v: want no BOS and a final EOS", ids)
	}
	cfg = []byte(`{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<nope>"}`)
	if _, err := FromBytes(storiesBytes(t), cfg); err == nil || !strings.Contains(err.Error(), ConfigFile) {
		t.Errorf("missing BOS: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	good := string(storiesBytes(t))
	for name, c := range map[string]struct {
		tokenizer, config, want string
	}{
		"bad json":           {`{"model": `, "", "tokenizer.json"},
		"trailing data":      {good + "x", "", "after the top-level value"},
		"no model":           {`{"added_tokens": []}`, "", "no model"},
		"unigram":            {`{"model": {"type": "Unigram", "vocab": []}}`, "", `unsupported type "Unigram"`},
		"merge not in vocab": {`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}`, "", `merged token "ab"`},
		"bad merge line":     {`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}}`, "", "one space"},
		"unk missing":        {`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}`, "", "unk_token"},
		"huge id":            {`{"model": {"type": "BPE", "vocab": {"a": 99999999999}, "merges": []}}`, "", "far beyond"},
		"negative id":        {`{"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}}`, "", "negative"},
		"bad normalizer":     {`{"normalizer": {"type": "Precompiled"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`, "", `normalizer: unsupported type "Precompiled"`},
		"bad split":          {`{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`, "", "regex"},
		"bad behavior":       {`{"pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`, "", "Sideways"},
		"bad config":         {good, `{"bos_token": 5}`, "tokenizer_config.json"},
		"bad template list":  {good, `{"chat_template": [{"template": "x"}]}`, "missing name"},
	} {
		t.Run(name, func(t *testing.T) {
			var cfg []byte
			if c.config != "" {
				cfg = []byte(c.config)
			}
			_, err := FromBytes([]byte(c.tokenizer), cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestLoadFilesNamesPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, TokenizerFile)
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v should name %s", err, path)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing folder should fail")
	}
}

func TestLargeModelJSONNumbers(t *testing.T) {
	// model_max_length in Llama configs does not fit an int64.
	cfg := []byte(`{"model_max_length": 1000000000000000019884624838656, "bos_token": "<s>"}`)
	tk, err := FromBytes(storiesBytes(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tk.BOS() != 1 {
		t.Errorf("BOS = %d", tk.BOS())
	}
}

func TestLossyUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"ok":               "ok",
		"\xe2\x82":         "\uFFFD",
		"\xf0\x9f\x98":     "\uFFFD",
		"\xf0\x9f\x98x":    "\uFFFDx",
		"\xc0\x80":         "\uFFFD\uFFFD",
		"\xed\xa0\x80":     "\uFFFD\uFFFD\uFFFD",
		"a\xffb":           "a\uFFFDb",
		"\xe2\x82\xac\xe2": "€\uFFFD",
	} {
		if got := string(appendLossyUTF8(nil, []byte(in))); got != want {
			t.Errorf("%+q: got %+q, want %+q", in, got, want)
		}
	}
}

func TestDecoders(t *testing.T) {
	bf := byteFallbackDecoder{}
	if got := strings.Join(bf.decodeChain([]string{"a", "<0xE2>", "<0x82>", "<0xAC>", "b"}), "|"); got != "a|€|b" {
		t.Errorf("byte fallback: %q", got)
	}
	// A run of byte tokens that is not valid UTF-8 as a whole becomes one
	// replacement character per byte.
	if got := strings.Join(bf.decodeChain([]string{"<0xE2>", "<0x82>", "<0xAC>", "<0xFF>"}), "|"); got != "\uFFFD|\uFFFD|\uFFFD|\uFFFD" {
		t.Errorf("byte fallback, invalid run: %q", got)
	}
	if got := strings.Join(bf.decodeChain([]string{"<0xE2>", "<0x82>", "x"}), "|"); got != "\uFFFD|\uFFFD|x" {
		t.Errorf("byte fallback, cut run: %q", got)
	}
	st := stripDecoder{content: ' ', start: 1, stop: 1}
	if got := st.decodeChain([]string{"  a  ", "b"}); !slices.Equal(got, []string{" a ", "b"}) {
		t.Errorf("strip: %q", got)
	}
	if got := cleanUpTokenization("Hello , world ! I 'm sure it 's fine ."); got != "Hello, world! I'm sure it's fine." {
		t.Errorf("clean-up: %q", got)
	}
}

func TestAddedTokenFlags(t *testing.T) {
	toks := []addedToken{
		{id: 1, content: "<x>", lstrip: true, rstrip: true},
		{id: 2, content: "yes", singleWord: true},
		{id: 3, content: "<x><y>"},
	}
	tr := newTokenTrie(toks, []string{"<x>", "yes", "<x><y>"})
	var got []string
	for _, s := range tr.split(nil, "a  <x>  b yes yesno <x><y>") {
		got = append(got, s.text)
	}
	want := []string{"a", "  <x>  ", "b ", "yes", " yesno ", "<x><y>"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestConcurrentEncode shares one tokenizer (and its word cache and
// scratch pool) between goroutines; run with -race.
func TestConcurrentEncode(t *testing.T) {
	tk := loadCached(t, storiesDir)
	text := strings.Repeat("Once upon a time, a little dog ran home. ", 20)
	want := tk.Encode(text, true)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if got := tk.Encode(text, true); !slices.Equal(got, want) {
					errs <- "concurrent Encode differs"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestLongPromptMemory: a long prompt for a tokenizer that does not split
// on spaces (stories260k, like Llama 2: the whole text is one BPE word)
// costs a bounded number of bytes per input byte, and nothing stays pinned
// once the ids are returned. A 4 MB prompt used to allocate 867 MB and keep
// the work buffers in the pool.
func TestLongPromptMemory(t *testing.T) {
	tk := loadCached(t, storiesDir)
	text := strings.Repeat("Once upon a time, there was a little girl named Lily. ", 1<<20/54)
	tk.Encode("warm up", true)
	goruntime.GC()
	var before, after, held goruntime.MemStats
	goruntime.ReadMemStats(&before)
	ids := tk.Encode(text, true)
	goruntime.ReadMemStats(&after)
	goruntime.GC()
	goruntime.ReadMemStats(&held)
	perByte := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(text))
	pinned := int64(held.HeapAlloc) - int64(before.HeapAlloc) - int64(cap(ids))*8
	t.Logf("%d bytes -> %d ids: %.1f bytes allocated per input byte, %d bytes still held", len(text), len(ids), perByte, pinned)
	if perByte > 64 {
		t.Errorf("encoding allocated %.1f bytes per input byte, want at most 64", perByte)
	}
	if pinned > 8<<20 {
		t.Errorf("%d bytes still held after encoding", pinned)
	}
	if got := tk.Decode(ids, true); got != text {
		t.Error("long prompt does not decode back to its text")
	}
}
