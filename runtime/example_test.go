package runtime_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/convert"
	"github.com/symbc/symbc/quantize"
	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
)

// Load a .symb model folder and stream the reply to a chat. The folder here
// is testdata's stories260k converted at f32 (so greedy decoding gives
// transformers' own tokens), with a one-line chat template added, since
// that model has none of its own.
func Example_chat() {
	tmp, err := os.MkdirTemp("", "runtime-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "stories260k")
	ctx := context.Background()
	f32 := convert.WithPolicy(quantize.PolicyFromSpec(quantize.Spec{Type: quantize.F32}))
	if _, err := convert.Convert(ctx, "../testdata/models/stories260k", dir, f32); err != nil {
		log.Fatal(err)
	}
	tmpl := "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
	if err := os.WriteFile(filepath.Join(dir, "tokenizer", "chat_template.jinja"), []byte(tmpl), 0o644); err != nil {
		log.Fatal(err)
	}

	m, err := runtime.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	prompt, err := m.EncodeChat(ctx, []tokenizer.Message{{Role: "user", Content: "Once upon a time"}})
	if err != nil {
		log.Fatal(err)
	}
	for piece, err := range m.StreamIDs(ctx, prompt, runtime.WithTemperature(0), runtime.WithMaxTokens(12)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(piece)
	}
	fmt.Println()
	// Output:
	// , there was a little girl named Lily. She
}
