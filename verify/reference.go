package verify

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/nlpodyssey/safetensors"
)

// Reference is logits produced elsewhere for a token sequence, in the layout
// of testdata/models/*/reference.safetensors: input_ids [T] (I64) and logits
// [T, vocab] (F32), optionally prompt_ids [P] and greedy_ids [G] (I64) for a
// greedy-decoding check.
type Reference struct {
	Path      string
	InputIDs  []int
	Logits    []float32 // T × Vocab, row i predicts the token after InputIDs[i]
	Vocab     int
	PromptIDs []int
	GreedyIDs []int
	Metadata  map[string]string
}

// maxReferenceBytes bounds what ReadReference loads (a 256k vocab × 2k tokens fits).
const maxReferenceBytes = 4 << 30

// ReadReference reads and validates a reference logits file.
func ReadReference(path string) (*Reference, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxReferenceBytes {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for reference files", path, st.Size(), int64(maxReferenceBytes))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st2, err := safetensors.Deserialize(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file: %v", path, err)
	}
	ref := &Reference{Path: path}
	if ref.InputIDs, err = readIDs(st2, "input_ids", true); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lv, ok := st2.Tensor("logits")
	if !ok {
		return nil, fmt.Errorf("%s: tensor logits is missing (want F32 [T, vocab])", path)
	}
	shape := lv.Shape()
	if lv.DType() != safetensors.F32 || len(shape) != 2 || shape[0] != uint64(len(ref.InputIDs)) || shape[1] == 0 || shape[1] > 1<<24 {
		return nil, fmt.Errorf("%s: tensor logits is %v %v, want F32 [%d, vocab]", path, lv.DType(), shape, len(ref.InputIDs))
	}
	ref.Vocab = int(shape[1])
	data := lv.Data()
	ref.Logits = make([]float32, len(data)/4)
	for i := range ref.Logits {
		ref.Logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	if ref.PromptIDs, err = readIDs(st2, "prompt_ids", false); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ref.GreedyIDs, err = readIDs(st2, "greedy_ids", false); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if (ref.PromptIDs == nil) != (ref.GreedyIDs == nil) {
		return nil, fmt.Errorf("%s: prompt_ids and greedy_ids come together; only one is present", path)
	}
	for _, ids := range [][]int{ref.InputIDs, ref.PromptIDs, ref.GreedyIDs} {
		for _, id := range ids {
			if id < 0 || id >= ref.Vocab {
				return nil, fmt.Errorf("%s: token id %d outside the vocabulary of %d", path, id, ref.Vocab)
			}
		}
	}
	if _, md, err := safetensors.ReadMetadata(b); err == nil {
		ref.Metadata = md.Metadata()
	}
	return ref, nil
}

// readIDs reads a 1-D I64 tensor of token ids; absent is an error only when required.
func readIDs(st safetensors.SafeTensors, name string, required bool) ([]int, error) {
	tv, ok := st.Tensor(name)
	if !ok {
		if required {
			return nil, fmt.Errorf("tensor %s is missing (want I64 [T])", name)
		}
		return nil, nil
	}
	if tv.DType() != safetensors.I64 || len(tv.Shape()) != 1 || tv.Shape()[0] == 0 {
		return nil, fmt.Errorf("tensor %s is %v %v, want I64 [T] with T ≥ 1", name, tv.DType(), tv.Shape())
	}
	data := tv.Data()
	ids := make([]int, len(data)/8)
	for i := range ids {
		v := int64(binary.LittleEndian.Uint64(data[8*i:]))
		if v < 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("tensor %s: id %d at %d is out of range", name, v, i)
		}
		ids[i] = int(v)
	}
	return ids, nil
}
