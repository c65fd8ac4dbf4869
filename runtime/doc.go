// Package runtime runs a model: it loads weights (a .symb folder mapped
// without copying, or any other Weights such as a Hugging Face checkpoint
// read by the converter), executes the forward pass in float32, and offers
// text generation on top.
//
// Where to start:
//   - Load or New give a *Model; Model.NewSession gives a Session whose
//     Forward appends tokens and returns their logits (the low-level API that
//     verification uses to compare position by position).
//   - Model.Generate, Model.Stream and Model.Chat tokenize, run prefill and
//     decode, sample, and stop on EOS ids, stop strings or a token budget.
//   - Bench measures prompt-processing and token-generation speed.
//
// The forward pass follows Hugging Face's LlamaForCausalLM and branches only
// on features named in symb.ModelConfig (biases, q/k norms, soft-capping,
// sliding windows, LayerNorm, YaRN scaling, mixture-of-experts MLPs in
// moe.go, multi-head latent attention in mla.go, ...), never on an
// architecture name. A config that asks for a feature or combination this
// package does not implement is refused at load with an ErrUnsupported
// error rather than run with wrong numbers.
//
// Two engines exist. EngineExact keeps a float32 KV cache and reproduces the
// source model. EngineSymbiotic replaces the cache by a fixed-size state per
// attention head (Session.symbiotic in attention.go); it uses constant memory in the sequence
// length and is not expected to match the source model.
package runtime
