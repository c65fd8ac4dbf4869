package store

import (
	"fmt"
	"path/filepath"

	"github.com/symbc/symbc/arch"
	"github.com/symbc/symbc/symb"
)

// CheckFolder is the check every command runs on a model folder before
// using it: its config names an architecture an adapter knows and its files
// match that config (symb.CheckStructure: manifest present, exactly the
// implied tensor files). It hashes nothing, so it stays instant; hashes and
// headers are verify.Integrity's job. A folder without a readable
// config.symb.json passes, so that what reads it next (the runtime loader,
// a tokenizer) says what is wrong with it.
func CheckFolder(dir string) error {
	c, err := symb.ReadConfig(dir)
	if err != nil {
		return nil
	}
	if _, err := arch.Lookup(c.Architecture); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, symb.ConfigFile), err)
	}
	return symb.CheckStructure(dir, c)
}
