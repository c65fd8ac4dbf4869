package tokenizer

import "sync"

// wordCacheEntries bounds the per-tokenizer cache of tokenized words.
const wordCacheEntries = 1 << 16

// wordCacheMaxLen keeps long pieces (which rarely repeat) out of the cache.
const wordCacheMaxLen = 64

// wordCache remembers the ids of recently tokenized pieces. Natural text
// repeats words a lot, and a map lookup is much cheaper than BPE merging.
// It stops growing when full rather than evicting, which keeps it simple
// and still serves the common words seen first.
type wordCache struct {
	mu    sync.RWMutex
	max   int
	words map[string][]int
}

func newWordCache(max int) *wordCache {
	return &wordCache{max: max, words: make(map[string][]int)}
}

func (c *wordCache) get(word string) ([]int, bool) {
	if len(word) > wordCacheMaxLen {
		return nil, false
	}
	c.mu.RLock()
	ids, ok := c.words[word]
	c.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(word string, ids []int) {
	if len(word) > wordCacheMaxLen {
		return
	}
	c.mu.Lock()
	if len(c.words) < c.max {
		// The key is cloned so that the cache does not pin the caller's
		// (possibly large) input string.
		c.words[string([]byte(word))] = append([]int(nil), ids...)
	}
	c.mu.Unlock()
}
