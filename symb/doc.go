// Package symb is the .symb format (docs/FORMAT.md): the tensor file header
// codec, a reader that maps files without copying, an atomic writer, and
// the model folder around them.
//
// Where to start:
//   - Open and File read one tensor file; Create and Writer write one
//     (writer.go states the concurrency contract); ParseHeader (header.go)
//     says what a nil error guarantees about a header.
//   - Config (config.symb.json, ReadConfig, WriteConfig) describes a model;
//     ModelConfig.Validate holds the structural rules every reader shares.
//   - table.go is FORMAT.md §4 in code: ModelConfig.Tensors lists every
//     tensor file a config implies, with its shape and Role, and
//     ModelConfig.Spec looks one up. The converter's adapters, the
//     integrity check and the runtime loader all derive from it.
//   - Manifest (manifest.json) lists every file with its size and SHA-256;
//     CheckStructure compares a folder with its config without hashing;
//     OpenModel maps a folder's tensors on demand; Describe summarises one.
//
// This package imports nothing else of symbc but small internal helpers, so
// every other package can stand on it.
package symb
