package server

import (
	"encoding/json"
	"strings"

	"github.com/symbc/symbc/runtime/tokenizer"
)

// Thinking models (Qwen3, DeepSeek-R1 and their kin) write their reasoning
// between <think> and </think> before the answer. Like vLLM's reasoning
// parsers, the server returns it as the message's reasoning_content (a
// delta's, when streaming) and the rest as content.
const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
)

type reasoningState int

const (
	// replyStart: the reply may open with <think> (after blanks).
	replyStart reasoningState = iota
	// thinking: text is reasoning until </think>.
	thinking
	// answering: text is content.
	answering
)

// reasoningSplit splits a reply, piece by piece, into reasoning and
// content. It holds back text that may be the beginning of <think> (at the
// start) or of </think> (while thinking) until the next piece decides.
type reasoningSplit struct {
	state   reasoningState
	pending string
}

// newReasoningSplit returns a splitter for a reply to a prompt that ends
// with promptTail, or nil when the model does not think (enabled false, or
// its vocabulary has no <think> and </think>). A prompt that ends inside
// <think> (DeepSeek-R1's template opens it) starts the reply in thinking.
func newReasoningSplit(enabled bool, promptTail string) *reasoningSplit {
	if !enabled {
		return nil
	}
	r := &reasoningSplit{}
	tail := strings.TrimRight(promptTail, " \t\r\n")
	if strings.HasSuffix(tail, thinkOpen) {
		r.state = thinking
	}
	return r
}

// push adds a piece of the reply and returns the reasoning and the content
// that can be sent now.
func (r *reasoningSplit) push(piece string) (reasoning, content string) {
	buf := r.pending + piece
	r.pending = ""
	var think, answer strings.Builder
	for buf != "" {
		switch r.state {
		case replyStart:
			t := strings.TrimLeft(buf, " \t\r\n")
			switch {
			case strings.HasPrefix(t, thinkOpen):
				r.state, buf = thinking, t[len(thinkOpen):]
			case strings.HasPrefix(thinkOpen, t):
				r.pending, buf = buf, "" // blanks or a part of <think>: wait
			default:
				r.state = answering
			}
		case thinking:
			if i := strings.Index(buf, thinkClose); i >= 0 {
				think.WriteString(buf[:i])
				r.state, buf = answering, buf[i+len(thinkClose):]
				continue
			}
			keep := partialSuffix(buf, thinkClose)
			think.WriteString(buf[:len(buf)-keep])
			r.pending, buf = buf[len(buf)-keep:], ""
		case answering:
			answer.WriteString(buf)
			buf = ""
		}
	}
	return think.String(), answer.String()
}

// flush returns what was held back at the end of the reply.
func (r *reasoningSplit) flush() (reasoning, content string) {
	rest := r.pending
	r.pending = ""
	if r.state == thinking {
		return rest, ""
	}
	return "", rest
}

// split splits a whole reply.
func (r *reasoningSplit) split(text string) (reasoning, content string) {
	think, answer := r.push(text)
	t, a := r.flush()
	return think + t, answer + a
}

// partialSuffix is the length of the longest suffix of s that is a proper
// prefix of tag.
func partialSuffix(s, tag string) int {
	for n := min(len(tag)-1, len(s)); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}

// reasoningSplitFor returns the splitter for a chat reply to ids.
func (s *server) reasoningSplitFor(req *chatRequest, ids []int) *reasoningSplit {
	return reasoningSplitOf(s.m.Tokenizer(), req.ChatTemplateKwargs, s.cfg.templateKwargs, ids)
}

// reasoningSplitOf returns the splitter for a reply to the prompt ids, or
// nil when the vocabulary has no <think> and </think> tokens or
// enable_thinking is false in the request's chat_template_kwargs (or, when
// the request does not say, in the server's).
func reasoningSplitOf(tok *tokenizer.Tokenizer, kwargs, defaults map[string]json.RawMessage, ids []int) *reasoningSplit {
	if tok == nil {
		return nil
	}
	if _, ok := tok.ID(thinkOpen); !ok {
		return nil
	}
	if _, ok := tok.ID(thinkClose); !ok {
		return nil
	}
	v, ok := kwargs["enable_thinking"]
	if !ok {
		v, ok = defaults["enable_thinking"]
	}
	var on bool
	enabled := !ok || json.Unmarshal(v, &on) != nil || on
	tail := ids[max(len(ids)-4, 0):]
	return newReasoningSplit(enabled, tok.Decode(tail, false))
}
