package convert

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/symbc/symbc/runtime/tokenizer"
)

// checkTokenizer loads the source's tokenizer, when it has one, and checks
// its ids against the model's vocab_size, so that a tokenizer of another
// model is refused before anything is written rather than failing every
// request later.
func checkTokenizer(dir string, vocabSize int) error {
	if _, err := os.Stat(filepath.Join(dir, tokenizer.TokenizerFile)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	tk, err := tokenizer.Load(dir)
	if err != nil {
		return err
	}
	if err := tk.CheckVocab(vocabSize); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, tokenizer.TokenizerFile), err)
	}
	return nil
}
