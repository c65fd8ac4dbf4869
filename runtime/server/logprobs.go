package server

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
)

// logprobRender turns the runtime's per-token log-probabilities into
// OpenAI's shapes: chat's {"content": [{token, logprob, bytes,
// top_logprobs}]} and the legacy completions' parallel lists.
type logprobRender struct {
	tok    *tokenizer.Tokenizer
	top    int
	eos    map[int]bool
	offset int // bytes of completion text before the next entry (completions' text_offset)

	pending []runtime.TokenLogprob // collected but not yet sent
}

// logprobRender takes what a request's logprobs method returned: nil
// when top is -1 (none asked for).
func (s *server) logprobRender(top int, e *apiError) (*logprobRender, *apiError) {
	if e != nil || top < 0 {
		return nil, e
	}
	eos := map[int]bool{}
	for _, id := range s.m.EOS() {
		eos[id] = true
	}
	return &logprobRender{tok: s.m.Tokenizer(), top: top, eos: eos}, nil
}

// add is the runtime.WithLogprobs callback. End-of-sequence ids have no
// text and are not reported, as in OpenAI's answers.
func (r *logprobRender) add(t runtime.TokenLogprob) {
	if !r.eos[t.ID] {
		r.pending = append(r.pending, t)
	}
}

// take returns the pending entries and forgets them (nil when r is nil).
func (r *logprobRender) take() []runtime.TokenLogprob {
	if r == nil {
		return nil
	}
	p := r.pending
	r.pending = nil
	return p
}

// takeWithin returns the pending entries that begin within the first n
// bytes of completion text: a stop string cuts the text, and the tokens
// past the cut are not part of the answer.
func (r *logprobRender) takeWithin(n int) []runtime.TokenLogprob {
	var kept []runtime.TokenLogprob
	off := 0
	for _, t := range r.take() {
		if off >= n {
			break
		}
		kept = append(kept, t)
		off += len(r.tok.TokenBytes(t.ID))
	}
	return kept
}

// tokenText is the token field: the token's text, or "bytes:\xNN..." when
// its bytes are not complete UTF-8 (part of a character), as OpenAI writes it.
func (r *logprobRender) tokenText(id int) (string, []int) {
	b := r.tok.TokenBytes(id)
	ints := make([]int, len(b))
	for i, c := range b {
		ints[i] = int(c)
	}
	if utf8.Valid(b) {
		return string(b), ints
	}
	var sb strings.Builder
	sb.WriteString("bytes:")
	for _, c := range b {
		fmt.Fprintf(&sb, "\\x%02x", c)
	}
	return sb.String(), ints
}

type chatLogprobs struct {
	Content []chatTokenLogprob `json:"content"`
	Refusal []chatTokenLogprob `json:"refusal"`
}

type chatTokenLogprob struct {
	chatTopLogprob
	TopLogprobs []chatTopLogprob `json:"top_logprobs"`
}

type chatTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float32 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// chat renders entries for a chat choice (nil when logprobs are off).
func (r *logprobRender) chat(entries []runtime.TokenLogprob) *chatLogprobs {
	if r == nil {
		return nil
	}
	out := &chatLogprobs{Content: []chatTokenLogprob{}}
	for _, t := range entries {
		e := chatTokenLogprob{chatTopLogprob: r.entry(t.ID, t.Logprob), TopLogprobs: []chatTopLogprob{}}
		for _, a := range t.Top {
			e.TopLogprobs = append(e.TopLogprobs, r.entry(a.ID, a.Logprob))
		}
		out.Content = append(out.Content, e)
	}
	return out
}

func (r *logprobRender) entry(id int, lp float32) chatTopLogprob {
	text, b := r.tokenText(id)
	return chatTopLogprob{Token: text, Logprob: lp, Bytes: b}
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float32            `json:"token_logprobs"`
	TopLogprobs   []map[string]float32 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// completion renders entries for a legacy completion choice.
func (r *logprobRender) completion(entries []runtime.TokenLogprob) *completionLogprobs {
	if r == nil {
		return nil
	}
	out := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float32{}, TopLogprobs: []map[string]float32{}, TextOffset: []int{}}
	for _, t := range entries {
		text, b := r.tokenText(t.ID)
		out.Tokens = append(out.Tokens, text)
		out.TokenLogprobs = append(out.TokenLogprobs, t.Logprob)
		out.TextOffset = append(out.TextOffset, r.offset)
		r.offset += len(b)
		top := make(map[string]float32, len(t.Top))
		for _, a := range t.Top {
			s, _ := r.tokenText(a.ID)
			if _, dup := top[s]; !dup {
				top[s] = a.Logprob
			}
		}
		out.TopLogprobs = append(out.TopLogprobs, top)
	}
	return out
}
