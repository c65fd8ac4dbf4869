package tokenizer

import (
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"
)

// bpeModel is a byte-pair-encoding model as described by tokenizer.json.
// Merges are keyed by the ids of the two parts, so merging never builds
// strings.
type bpeModel struct {
	vocab        map[string]int
	merges       map[uint64]bpeMerge
	unkID        int // -1 without an unk token
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix

	// byteLevel is set when the pre-tokenizer maps bytes to the GPT-2
	// alphabet: the model then starts from one symbol per byte.
	byteLevel  bool
	bl         *byteLevelTables
	byteSymbol [256]int // vocabulary id of each byte's rune, -1 if absent
	// fallbackID holds the ids of "<0x00>".."<0xFF>" for byte fallback.
	fallbackID [256]int

	pool  sync.Pool // *bpeWork
	cache *wordCache
}

type bpeMerge struct {
	rank  int32
	newID int32
}

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPEModel(spec *modelSpec) (*bpeModel, error) {
	if isNull(spec.Vocab) {
		return nil, fmt.Errorf("model: BPE without a vocab")
	}
	vocab, err := parseVocab(spec.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m := &bpeModel{
		vocab:        vocab,
		unkID:        -1,
		fuseUnk:      spec.FuseUnk,
		byteFallback: spec.ByteFallback,
		ignoreMerges: spec.IgnoreMerges,
		cache:        newWordCache(wordCacheEntries),
	}
	if spec.ContinuingSubwordPrefix != nil {
		m.prefix = *spec.ContinuingSubwordPrefix
	}
	if spec.EndOfWordSuffix != nil {
		m.suffix = *spec.EndOfWordSuffix
	}
	if spec.UnkToken != nil {
		id, ok := m.vocab[*spec.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model: unk_token %q is not in the vocab", *spec.UnkToken)
		}
		m.unkID = id
	}
	for b := 0; b < 256; b++ {
		m.fallbackID[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackID[b] = id
		}
	}
	if !isNull(spec.Merges) {
		if err := m.addMerges(spec.Merges); err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
	}
	m.pool.New = func() any { return new(bpeWork) }
	return m, nil
}

func (m *bpeModel) addMerges(raw []byte) error {
	m.merges = make(map[uint64]bpeMerge, len(raw)/12)
	buf := make([]byte, 0, 64)
	rank := 0
	return scanMerges(raw, func(first, second []byte) error {
		defer func() { rank++ }()
		a, ok := m.vocab[string(first)]
		if !ok {
			return fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, first)
		}
		b, ok := m.vocab[string(second)]
		if !ok {
			return fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, second)
		}
		if m.prefix != "" && len(second) >= len(m.prefix) && string(second[:len(m.prefix)]) == m.prefix {
			second = second[len(m.prefix):]
		}
		buf = append(append(buf[:0], first...), second...)
		n, ok := m.vocab[string(buf)]
		if !ok {
			return fmt.Errorf("merges[%d]: merged token %q is not in the vocab", rank, buf)
		}
		// A repeated pair keeps its last rank, like the reference loader.
		m.merges[pairKey(a, b)] = bpeMerge{rank: int32(rank), newID: int32(n)}
		return nil
	})
}

// enableByteLevel switches the model to byte-level input.
func (m *bpeModel) enableByteLevel(bl *byteLevelTables) {
	m.byteLevel = true
	m.bl = bl
	for b := 0; b < 256; b++ {
		m.byteSymbol[b] = -1
		if id, ok := m.vocab[string(bl.toRune[b])]; ok {
			m.byteSymbol[b] = id
		}
	}
}

// bpeWork is per-call scratch space, pooled to keep Encode allocation-light.
type bpeWork struct {
	syms []bpeSymbol
	heap mergeHeap
}

// bpeSymbol is one symbol of a word being merged. A prompt can be one
// multi-megabyte word (models without a pre-tokenizer), so the fields are
// 32-bit: 16 bytes per input byte rather than 32.
type bpeSymbol struct {
	id         int32
	prev, next int32 // -1 at the ends
	gone       bool
}

// maxPooledSymbols bounds the scratch returned to the pool: the buffers of
// one huge word are dropped rather than kept alive for later calls.
const maxPooledSymbols = 1 << 16

// tokenize appends the ids for one pre-tokenized piece.
func (m *bpeModel) tokenize(dst []int, piece string) []int {
	if piece == "" {
		return dst
	}
	if ids, ok := m.cache.get(piece); ok {
		return append(dst, ids...)
	}
	start := len(dst)
	dst = m.tokenizeUncached(dst, piece)
	m.cache.put(piece, dst[start:])
	return dst
}

func (m *bpeModel) tokenizeUncached(dst []int, piece string) []int {
	if m.ignoreMerges {
		word := piece
		if m.byteLevel {
			word = m.bl.mapString(piece)
		}
		if id, ok := m.vocab[word]; ok {
			return append(dst, id)
		}
	}
	w := m.pool.Get().(*bpeWork)
	defer func() {
		if cap(w.syms) <= maxPooledSymbols {
			m.pool.Put(w)
		}
	}()
	// At most one symbol per byte: sized once, a long word does not leave
	// a trail of doubled copies behind.
	w.syms = slices.Grow(w.syms[:0], len(piece))
	if m.byteLevel && !m.byteSymbols(w, piece) {
		w.syms = w.syms[:0]
		m.charSymbols(w, m.bl.mapString(piece))
	} else if !m.byteLevel {
		m.charSymbols(w, piece)
	}
	m.mergeAll(w)
	for i := 0; i >= 0 && i < len(w.syms); i = int(w.syms[i].next) {
		dst = append(dst, int(w.syms[i].id))
	}
	return dst
}

func (w *bpeWork) add(id int) {
	n := int32(len(w.syms))
	if n > 0 {
		w.syms[n-1].next = n
	}
	w.syms = append(w.syms, bpeSymbol{id: int32(id), prev: n - 1, next: -1})
}

// byteSymbols starts a byte-level word: one symbol per byte. It reports
// false when the quick path does not apply (a byte's rune is missing from
// the vocabulary, or the model adds subword prefixes or suffixes); the
// caller then runs the general path on the mapped string.
func (m *bpeModel) byteSymbols(w *bpeWork, piece string) bool {
	if m.prefix != "" || m.suffix != "" {
		return false
	}
	for i := 0; i < len(piece); i++ {
		id := m.byteSymbol[piece[i]]
		if id < 0 {
			return false
		}
		w.add(id)
	}
	return true
}

// charSymbols starts a word with one symbol per character, using byte
// fallback tokens or the unk token for characters outside the vocabulary.
func (m *bpeModel) charSymbols(w *bpeWork, piece string) {
	unkPending := false
	var scratch []byte
	for i := 0; i < len(piece); {
		_, size := utf8.DecodeRuneInString(piece[i:])
		end := i + size
		s := piece[i:end]
		if (m.prefix != "" && i > 0) || (m.suffix != "" && end == len(piece)) {
			scratch = scratch[:0]
			if i > 0 {
				scratch = append(scratch, m.prefix...)
			}
			scratch = append(scratch, s...)
			if end == len(piece) {
				scratch = append(scratch, m.suffix...)
			}
			s = string(scratch)
		}
		if id, ok := m.vocab[s]; ok {
			if unkPending {
				w.add(m.unkID)
				unkPending = false
			}
			w.add(id)
			i = end
			continue
		}
		if m.byteFallback && m.allFallback(s) {
			for k := 0; k < len(s); k++ {
				w.add(m.fallbackID[s[k]])
			}
			i = end
			continue
		}
		if m.unkID >= 0 {
			if unkPending && !m.fuseUnk {
				w.add(m.unkID)
			}
			unkPending = true
		}
		i = end
	}
	if unkPending {
		w.add(m.unkID)
	}
}

func (m *bpeModel) allFallback(s string) bool {
	for k := 0; k < len(s); k++ {
		if m.fallbackID[s[k]] < 0 {
			return false
		}
	}
	return true
}

// mergeAll applies merges lowest rank first and, among equal ranks,
// leftmost first. Queue entries that no longer match the symbols they were
// made for are skipped when popped.
func (m *bpeModel) mergeAll(w *bpeWork) {
	syms := w.syms
	if len(syms) < 2 {
		return
	}
	h := &w.heap
	h.items = slices.Grow(h.items[:0], len(syms)-1)
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := m.merges[pairKey(int(syms[i].id), int(syms[i+1].id))]; ok {
			h.push(mergeItem{rank: mg.rank, pos: int32(i), newID: mg.newID})
		}
	}
	for len(h.items) > 0 {
		top := h.pop()
		pos := int(top.pos)
		cur := &syms[pos]
		if cur.gone || cur.next < 0 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		mg, ok := m.merges[pairKey(int(cur.id), int(right.id))]
		if !ok || mg.newID != top.newID {
			continue
		}
		cur.id = top.newID
		cur.next = right.next
		syms[nextPos].gone = true
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mg, ok := m.merges[pairKey(int(syms[cur.prev].id), int(cur.id))]; ok {
				h.push(mergeItem{rank: mg.rank, pos: cur.prev, newID: mg.newID})
			}
		}
		if cur.next >= 0 {
			if mg, ok := m.merges[pairKey(int(cur.id), int(syms[cur.next].id))]; ok {
				h.push(mergeItem{rank: mg.rank, pos: top.pos, newID: mg.newID})
			}
		}
	}
}

type mergeItem struct {
	rank, pos, newID int32
}

func (a mergeItem) less(b mergeItem) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// mergeHeap is a binary min-heap without the interface overhead of
// container/heap.
type mergeHeap struct{ items []mergeItem }

func (h *mergeHeap) push(x mergeItem) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.items[i].less(h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeItem {
	top := h.items[0]
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	h.items = h.items[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h.items[r].less(h.items[l]) {
			c = r
		}
		if !h.items[c].less(h.items[i]) {
			break
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
	return top
}
