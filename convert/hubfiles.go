package convert

import (
	"fmt"

	"github.com/symbc/symbc/convert/hub"
)

// WithFiles selects which files of a Hub repository are fetched, with glob
// patterns as huggingface_hub's allow_patterns and ignore_patterns (see
// hub.Filter): the files a conversion reads are fetched only when the
// patterns select them. Optional files (tokenizer extras, licence, model
// card) that the patterns leave out are skipped; a required one
// (config.json, the index, a weight shard) left out is an error naming it.
// Patterns apply to Hub sources only.
func WithFiles(include, exclude []string) Option {
	return func(o *options) error {
		f, err := hub.NewFilter(include, exclude)
		if err != nil {
			return err
		}
		o.files = f
		return nil
	}
}

// needFile refuses a file the conversion cannot do without when the
// patterns leave it out.
func needFile(repo, name string, f *hub.Filter) error {
	if f.Allows(name) {
		return nil
	}
	return fmt.Errorf("%s: %s is needed to convert the model, but %s leaves it out", repo, name, f)
}
