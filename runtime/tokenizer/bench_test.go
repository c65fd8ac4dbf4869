package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
)

// benchParagraph is ordinary English prose with some punctuation, digits
// and a little non-ASCII text.
const benchParagraph = `The tokenizer turns text into integers. It splits the input on added tokens, normalizes each piece, cuts it into words with a regular expression and then applies byte-pair merges, 280,147 of them for Llama 3. In 2024, most open models (Llama, Qwen, Gemma, DeepSeek) shipped a tokenizer.json file; "café", "naïve" and "日本語" must round-trip exactly. Don't forget: spaces   and tabs	matter too!
`

func BenchmarkEncode(b *testing.B) {
	text := strings.Repeat(benchParagraph, 8)
	for _, fam := range []string{"llama3", "qwen3", "llama2", "gemma3"} {
		b.Run(fam, func(b *testing.B) {
			tk := loadCached(b, familyDir(b, fam))
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for b.Loop() {
				tk.Encode(text, true)
			}
		})
	}
	b.Run("stories260k", func(b *testing.B) {
		tk := loadCached(b, storiesDir)
		b.SetBytes(int64(len(text)))
		b.ResetTimer()
		for b.Loop() {
			tk.Encode(text, true)
		}
	})
}

// BenchmarkEncodeUncached measures BPE without the word cache, i.e. on
// text whose words were never seen.
func BenchmarkEncodeUncached(b *testing.B) {
	text := strings.Repeat(benchParagraph, 8)
	tk := loadCached(b, familyDir(b, "llama3"))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.model.cache = newWordCache(0)
		tk.Encode(text, true)
	}
}

func BenchmarkDecode(b *testing.B) {
	tk := loadCached(b, familyDir(b, "llama3"))
	ids := tk.Encode(strings.Repeat(benchParagraph, 8), false)
	for b.Loop() {
		tk.Decode(ids, false)
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, fam := range []string{"llama3", "gemma3"} {
		b.Run(fam, func(b *testing.B) {
			dir := familyDir(b, fam)
			for b.Loop() {
				if _, err := Load(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("stories260k", func(b *testing.B) {
		for b.Loop() {
			if _, err := Load(filepath.Clean(storiesDir)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncode4MB encodes a 4 MB prompt, the size a server request may
// bring; with -benchmem, B/op is the memory one such request allocates.
//
//	go test ./runtime/tokenizer -run - -bench Encode4MB -benchmem -benchtime 3x
func BenchmarkEncode4MB(b *testing.B) {
	text := strings.Repeat(benchParagraph, 4<<20/len(benchParagraph))
	for _, fam := range []string{"llama3", "qwen3", "deepseek_v3", "cl100k", "llama2", "gemma3"} {
		b.Run(fam, func(b *testing.B) {
			tk := loadCached(b, familyDir(b, fam))
			tk.Encode(text, true) // fill the word cache, as earlier requests would
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for b.Loop() {
				tk.Encode(text, true)
			}
		})
	}
}
