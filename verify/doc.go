// Package verify checks a converted model folder (docs/VERIFY.md).
//
// Where to start:
//   - Integrity checks the folder without running it: manifest sizes and
//     digests, config validity, and every tensor file the format's table
//     implies (symb.ModelConfig.Tensors) present with its shape and finite
//     scales.
//   - Numerics runs the model in the bundled runtime and compares its logits
//     with reference files or with the source checkpoint (mean KL divergence,
//     top-1 agreement, greedy decoding), judged against bounds that depend
//     on the storage types (thresholds.go).
//   - Verify does both and returns the Report that `symbc verify --save`
//     writes as verify.json; symb.VerifySummary is the part other tools read.
//
// verify stands on runtime and convert, never the other way round.
package verify
