package tokenizer

import (
	"bytes"
	"testing"
)

// TokenBytes of the ids of a text, concatenated, give the text back: byte
// for byte with byte-level tokenizers, with the one space SentencePiece
// prepends otherwise.
func TestTokenBytes(t *testing.T) {
	texts := []string{"Hello world", "Once upon a time, there was a cat.", " two  spaces\nand a newline", "naïve café 日本語 🙂"}
	check := func(name string, tk *Tokenizer, prefix string) {
		for _, text := range texts {
			var got []byte
			for _, id := range tk.Encode(text, false) {
				got = append(got, tk.TokenBytes(id)...)
			}
			if want := prefix + text; !bytes.Equal(got, []byte(want)) {
				t.Errorf("%s: %q gives %q", name, want, got)
			}
		}
	}
	check("stories260k", loadCached(t, storiesDir), " ")
	for _, family := range []string{"llama3", "qwen3"} {
		check(family, loadCached(t, familyDir(t, family)), "")
	}
	tk := loadCached(t, storiesDir)
	if got := tk.TokenBytes(tk.EOS()); string(got) != "</s>" {
		t.Errorf("EOS gives %q", got)
	}
	if tk.TokenBytes(-1) != nil || tk.TokenBytes(tk.VocabSize()) != nil {
		t.Error("bytes for ids outside the vocabulary")
	}
}
