package tokenizer

import "strings"

// Encode returns the token ids of text. With addSpecial, the special
// tokens of the post-processor (usually BOS) are added, as transformers'
// encode(text) does; without it, the result is
// encode(text, add_special_tokens=False). Added and special tokens written
// in the text are always recognized.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	ids := make([]int, 0, len(text)/3+2)
	var subs []segment
	tokenize := func(piece string) { ids = t.model.tokenize(ids, piece) }
	for _, seg := range t.rawTrie.split(nil, text) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		norm := seg.text
		if t.normalizer != nil {
			norm = t.normalizer.normalize(norm)
		}
		subs = t.normTrie.split(subs[:0], norm)
		for _, sub := range subs {
			if sub.id >= 0 {
				ids = append(ids, sub.id)
				continue
			}
			if t.preTok == nil {
				ids = t.model.tokenize(ids, sub.text)
				continue
			}
			t.preTok.each(sub.text, seg.start == 0 && sub.start == 0, tokenize)
		}
	}
	if addSpecial && t.post != nil {
		ids = t.post.process(ids)
	}
	return ids
}

// Decode returns the text of ids. Ids outside the vocabulary are ignored.
// With skipSpecial, special tokens are left out.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(t.idToToken) || !t.known[id] {
			continue
		}
		if skipSpecial && t.special[id] {
			continue
		}
		tokens = append(tokens, t.idToToken[id])
	}
	var s string
	if t.decoder == nil {
		s = strings.Join(tokens, " ")
	} else {
		s = strings.Join(t.decoder.decodeChain(tokens), "")
	}
	if t.cleanUp {
		s = cleanUpTokenization(s)
	}
	return s
}
