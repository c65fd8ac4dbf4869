package tokenizer

import (
	"fmt"
	"slices"
	"testing"
)

func mustFromBytes(t *testing.T, tokenizerJSON string) *Tokenizer {
	t.Helper()
	tk, err := FromBytes([]byte(tokenizerJSON), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestUnkAndFuseUnk(t *testing.T) {
	const base = `{"model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3}, "merges": ["a b"], "unk_token": "<unk>", "fuse_unk": %s}}`
	for fuse, want := range map[string][]int{"true": {3, 0, 3}, "false": {3, 0, 0, 3}} {
		tk := mustFromBytes(t, sprintf(base, fuse))
		if got := tk.Encode("abxyab", false); !slices.Equal(got, want) {
			t.Errorf("fuse_unk=%s: got %v, want %v", fuse, got, want)
		}
	}
}

func TestContinuingSubwordPrefix(t *testing.T) {
	tk := mustFromBytes(t, `{"model": {"type": "BPE", "vocab": {"a": 0, "##b": 1, "##c": 2, "ab": 3, "##bc": 4, "b": 5},
		"merges": ["a ##b", "##b ##c"], "continuing_subword_prefix": "##"}}`)
	if got := tk.Encode("abc", false); !slices.Equal(got, []int{3, 2}) {
		t.Errorf("got %v, want [3 2]", got)
	}
}

// TestGPT2ByteLevel covers ByteLevel with its own regex (run by regexp2),
// add_prefix_space and the ByteLevel decoder.
func TestGPT2ByteLevel(t *testing.T) {
	tk := mustFromBytes(t, `{
		"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true, "use_regex": true},
		"decoder": {"type": "ByteLevel"},
		"model": {"type": "BPE", "vocab": {"Ġ": 0, "h": 1, "i": 2, "Ġh": 3, "Ġhi": 4, "!": 5, "Ċ": 6},
			"merges": ["Ġ h", "Ġh i"]}}`)
	ids := tk.Encode("hi hi!\n", false)
	if want := []int{4, 4, 5, 6}; !slices.Equal(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
	if got := tk.Decode(ids, false); got != " hi hi!\n" {
		t.Errorf("decode: %q", got)
	}
}

func TestIgnoreMerges(t *testing.T) {
	const spec = `{"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
		"model": {"type": "BPE", "ignore_merges": %s, "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}, "merges": ["a b"]}}`
	// abc is in the vocabulary but no merge builds it.
	if got := mustFromBytes(t, sprintf(spec, "true")).Encode("abc", false); !slices.Equal(got, []int{4}) {
		t.Errorf("ignore_merges: got %v", got)
	}
	if got := mustFromBytes(t, sprintf(spec, "false")).Encode("abc", false); !slices.Equal(got, []int{3, 2}) {
		t.Errorf("merges: got %v", got)
	}
}

func TestMetaspacePipeline(t *testing.T) {
	tk := mustFromBytes(t, `{
		"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		"decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		"added_tokens": [{"id": 5, "content": "<e>", "special": true, "normalized": false}],
		"model": {"type": "BPE", "vocab": {"▁": 0, "h": 1, "i": 2, "▁h": 3, "▁hi": 4, "<e>": 5}, "merges": ["▁ h", "▁h i"]}}`)
	ids := tk.Encode("hi hi<e>", false)
	if want := []int{4, 4, 5}; !slices.Equal(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
	if got := tk.Decode(ids, true); got != "hi hi" {
		t.Errorf("decode: %q", got)
	}
}

func TestPostProcessors(t *testing.T) {
	tk := mustFromBytes(t, `{
		"post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
		"model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1, "</s>": 2}, "merges": []}}`)
	if got := tk.Encode("a", true); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("roberta: %v", got)
	}
	tk = mustFromBytes(t, `{
		"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[X]"}}, {"Sequence": {"id": "A"}}, {"SpecialToken": {"id": "[Y]"}}],
			"special_tokens": {"[X]": {"id": "[X]", "ids": [0]}, "[Y]": {"id": "[Y]", "ids": [2, 2]}}},
		"model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1, "</s>": 2}, "merges": []}}`)
	if got := tk.Encode("a", true); !slices.Equal(got, []int{0, 1, 2, 2}) {
		t.Errorf("template: %v", got)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
