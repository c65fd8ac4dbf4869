package convert

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/symbc/symbc/arch"
)

// FuzzCheckpoint feeds arbitrary bytes as model.safetensors: opening,
// planning against the llama3 fixture's config and reading every planned
// tensor must return errors, never panic or read out of bounds.
func FuzzCheckpoint(f *testing.F) {
	for _, p := range []string{"llama3/model.safetensors", "stories260k/model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(fixtures, p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add([]byte(`{}`))
	f.Add(stBytes(`{"model.norm.weight":{"dtype":"F8_E4M3","shape":[64],"data_offsets":[0,64]}}`, make([]byte, 64)))
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\x00\x00\x00\x00"))
	hf, err := arch.ReadHFConfig(filepath.Join(fixtures, "llama3", "config.json"))
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := arch.Llama{}.Config(hf)
	if err != nil {
		f.Fatal(err)
	}
	ms, err := arch.Llama{}.Tensors(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, singleFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		ck, err := openCheckpoint(dir)
		if err != nil {
			return
		}
		defer ck.Close()
		for _, st := range ck.tensors {
			if !st.readable() {
				continue
			}
			rows, cols := st.rowsCols()
			if rows*cols > 1<<16 {
				continue
			}
			buf := make([]float32, rows*cols)
			_ = st.Read(buf, 0, rows, 0, cols)
		}
		items, err := plan(ck, cfg, ms)
		if err != nil {
			return
		}
		for _, it := range items {
			buf := make([]float32, it.Rows()*it.Cols())
			if err := it.reader.Read(buf, 0, it.Rows(), 0, it.Cols()); err != nil {
				t.Fatalf("%s: planned tensor unreadable: %v", it.Name, err)
			}
		}
	})
}

// FuzzHFConfig checks that config.json decoding and the Llama adapter only
// ever return errors on hostile input, and that an accepted config yields a
// mapping list that passes arch.Check.
func FuzzHFConfig(f *testing.F) {
	for _, m := range []string{"llama3", "stories260k"} {
		b, err := os.ReadFile(filepath.Join(fixtures, m, "config.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"hidden_size":64,"intermediate_size":1,"num_hidden_layers":1,"num_attention_heads":64,"vocab_size":1,"head_dim":2,"eos_token_id":[0,0]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hf, err := arch.ParseHFConfig(b, "config.json")
		if err != nil {
			return
		}
		a, err := arch.Detect(hf)
		if err != nil {
			a = arch.Llama{}
		}
		cfg, err := a.Config(hf)
		if err != nil {
			return
		}
		if cfg.NumLayers > 64 {
			return // the mapping list grows with the layer count; nothing new to learn
		}
		ms, err := a.Tensors(cfg)
		if err != nil {
			return
		}
		if err := arch.Check(ms); err != nil {
			t.Fatalf("accepted config gives a bad mapping list: %v", err)
		}
	})
}
