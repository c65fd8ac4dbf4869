package symb

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Model is an open model folder: its config plus lazily mapped tensor files.
// It is safe for concurrent use.
type Model struct {
	Dir    string
	Config *Config

	mu    sync.Mutex
	files map[string]*File
}

// OpenModel reads dir/config.symb.json. Tensor files are mapped on first use.
func OpenModel(dir string) (*Model, error) {
	c, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	return &Model{Dir: dir, Config: c, files: map[string]*File{}}, nil
}

// Tensor maps (once) and returns the tensor called name. A missing file is an
// error wrapping os.ErrNotExist that names the tensor.
func (m *Model) Tensor(name string) (*Tensor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[name]; ok {
		return f.Tensor(), nil
	}
	if err := CheckRelPath(name); err != nil {
		return nil, err
	}
	f, err := Open(TensorPath(m.Dir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		return nil, err
	}
	f.tensor.Name = name
	m.files[name] = f
	return f.Tensor(), nil
}

// Has reports whether the folder has a file for tensor name.
func (m *Model) Has(name string) bool {
	_, err := os.Stat(TensorPath(m.Dir, name))
	return err == nil
}

// Close unmaps every tensor file; tensors obtained earlier become invalid.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	m.files = map[string]*File{}
	return errors.Join(errs...)
}
