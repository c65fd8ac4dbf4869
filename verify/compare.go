package verify

import (
	"context"
	"fmt"
)

// runner is what numerics needs of a model: logits for a fresh sequence and
// greedy decoding with the KV cache. The runtime provides it for both the
// converted folder and the source checkpoint.
type runner interface {
	Logits(ctx context.Context, ids []int) ([]float32, error) // len(ids) × vocab
	Greedy(ctx context.Context, prompt []int, n int) ([]int, error)
	Vocab() int
}

// compareLogits compares a reference logits matrix with a candidate's, row by
// row; ids is the sequence (its next tokens feed perplexity).
func compareLogits(ref, cand []float32, ids []int, vocab int) (*accumulator, error) {
	if len(ref) != len(ids)*vocab || len(cand) != len(ref) {
		return nil, fmt.Errorf("logits of %d and %d values for %d tokens × vocab %d", len(ref), len(cand), len(ids), vocab)
	}
	acc := &accumulator{}
	for i := range ids {
		next := -1
		if i+1 < len(ids) {
			next = ids[i+1]
		}
		row := ref[i*vocab : (i+1)*vocab]
		if err := acc.Add(row, cand[i*vocab:(i+1)*vocab], next); err != nil {
			return nil, fmt.Errorf("position %d: %w", i, err)
		}
	}
	return acc, nil
}

// greedyMatch counts the steps of got that equal want before the first difference.
func greedyMatch(want, got []int) int {
	n := 0
	for n < len(want) && n < len(got) && want[n] == got[n] {
		n++
	}
	return n
}
