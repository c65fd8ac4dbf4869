package runtime

// engine is how a Session keeps its past and attends to it: a KV cache of
// its own (kvEngine), the symbiotic state (symbioticState), or rows of a
// Scheduler's paged cache (batcher).
type engine interface {
	// reserve makes room for n more positions after s.pos, before a pass.
	reserve(s *Session, n int)
	// attend takes the keys and values of the n new tokens of layer li
	// from s.b.k and s.b.v and computes their attention into s.b.att.
	attend(s *Session, li, n int)
	// reset forgets the past, keeping memory for reuse.
	reset()
	// memoryBytes is the memory held for the past.
	memoryBytes() int64
}

// kvEngine is EngineExact's cache for one sequence: a kvCache that grows
// by doubling (up to the context length) and the sequence's block table.
type kvEngine struct {
	c     *kvCache
	max   int // blocks of the whole context
	table []int
	rows  []batchRow
}

func newKVEngine(m *Model) *kvEngine {
	return &kvEngine{c: newKVCache(m, m.kvType, 0), max: (m.maxCtx + kvBlockTokens - 1) / kvBlockTokens}
}

func (e *kvEngine) reserve(s *Session, n int) {
	need := (s.pos + n + kvBlockTokens - 1) / kvBlockTokens
	if more := need - len(e.table); more > e.c.available() {
		e.c.grow(min(max(e.c.blocks, more-e.c.available(), 1), e.max-e.c.blocks))
	}
	for len(e.table) < need {
		e.table = append(e.table, e.c.alloc())
	}
}

func (e *kvEngine) attend(s *Session, li, n int) {
	e.rows = e.rows[:0]
	for t := range n {
		e.rows = append(e.rows, batchRow{table: e.table, pos: s.pos + t})
	}
	attendCache(s, e.c, li, e.rows, []batchSpan{{0, n}})
}

func (e *kvEngine) reset() {
	e.c.release(e.table)
	e.table = e.table[:0]
}

func (e *kvEngine) memoryBytes() int64 { return e.c.bytes() }

// symbioticState is EngineSymbiotic's memory: per layer [heads][qk][v]
// (attnDims), updated token by token (Session.symbiotic).
type symbioticState [][]float32

func newSymbioticState(m *Model) symbioticState {
	d := m.dims
	st := make(symbioticState, len(m.layers))
	for i := range st {
		st[i] = make([]float32, d.heads*d.qk*d.v)
	}
	return st
}

func (symbioticState) reserve(*Session, int) {}

func (st symbioticState) attend(s *Session, li, n int) { s.symbiotic(st[li], n) }

func (st symbioticState) reset() {
	for _, l := range st {
		clear(l)
	}
}

func (st symbioticState) memoryBytes() int64 {
	var n int64
	for _, l := range st {
		n += int64(len(l)) * 4
	}
	return n
}
