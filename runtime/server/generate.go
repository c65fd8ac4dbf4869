package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/symbc/symbc/runtime"
	"github.com/symbc/symbc/runtime/tokenizer"
)

func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	res, e := s.reserve(w)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	defer res.Release()
	var req chatRequest
	if e = s.decodeBody(w, r, &req); e != nil {
		s.fail(w, r, e)
		return
	}
	msgs, e := req.messages()
	if e != nil {
		s.fail(w, r, e)
		return
	}
	opts, e := req.options(s.m.Config().Model.VocabSize, s.cfg.defaults)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	lp, e := s.logprobRender(req.logprobs())
	if e != nil {
		s.fail(w, r, e)
		return
	}
	ts, chatOpts, e := s.chatTemplateOptions(&req)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	c, e := s.constraint(&req, ts)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	if c != nil {
		opts = append(opts, runtime.WithConstraint(c))
	}
	ids, err := s.m.EncodeChat(r.Context(), msgs, chatOpts...)
	// While it waits and runs, the request holds its tokens, not its text.
	req.Messages = nil
	if err != nil && r.Context().Err() != nil {
		// The client left while the template rendered; the render stopped.
		infoOf(r).canceled = true
		return
	}
	if err != nil {
		e := badRequest("messages", "invalid_prompt", "Cannot apply the chat template: %v", err)
		switch {
		case errors.Is(err, runtime.ErrNoTokenizer):
			e = noTokenizer()
		case errors.Is(err, tokenizer.ErrNoChatTemplate):
			e = badRequest("messages", "no_chat_template", "The model has no chat template; use /v1/completions with a plain prompt")
		}
		s.fail(w, r, e)
		return
	}
	s.generate(w, r, &job{
		res: res, ids: ids, opts: opts, params: &req.sampling, promptParam: "messages", lp: lp,
		f: &chatFormat{meta: s.meta("chatcmpl-"), lp: lp, tools: ts, think: s.reasoningSplitFor(&req, ids)},
	})
}

func (s *server) completions(w http.ResponseWriter, r *http.Request) {
	res, e := s.reserve(w)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	defer res.Release()
	var req completionRequest
	if e = s.decodeBody(w, r, &req); e != nil {
		s.fail(w, r, e)
		return
	}
	if req.Prompt == nil {
		s.fail(w, r, badRequest("prompt", "missing_required_parameter", "Missing required parameter: 'prompt'"))
		return
	}
	opts, e := req.options(s.m.Config().Model.VocabSize, s.cfg.defaults)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	lp, e := s.logprobRender(req.logprobs())
	if e != nil {
		s.fail(w, r, e)
		return
	}
	ids, err := s.m.Encode(string(*req.Prompt))
	req.Prompt = nil // while it waits and runs, the request holds its tokens, not its text
	if err != nil {
		e := badRequest("prompt", "invalid_prompt", "Cannot encode the prompt: %v", err)
		if errors.Is(err, runtime.ErrNoTokenizer) {
			e = noTokenizer()
		}
		s.fail(w, r, e)
		return
	}
	s.generate(w, r, &job{
		res: res, ids: ids, opts: opts, params: &req.sampling, promptParam: "prompt", lp: lp,
		f: &completionFormat{meta: s.meta("cmpl-"), lp: lp},
	})
}

// fail writes an error response and notes it for the request log.
func (s *server) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	infoOf(r).err = e.Message
	writeError(w, e)
}

func noTokenizer() *apiError {
	return &apiError{Message: "The model has no tokenizer", Type: errServer, status: http.StatusInternalServerError}
}

// job is one validated generation request.
type job struct {
	res         *runtime.Reservation // the place in the scheduler's queue (nil without one)
	ids         []int
	opts        []runtime.GenOption
	params      *sampling
	promptParam string // the parameter to blame when the prompt is too long
	f           format
	lp          *logprobRender // nil: no log-probabilities asked for
}

// generate runs a job and answers with one JSON object or, when the request
// asks for a stream, with Server-Sent Events.
func (s *server) generate(w http.ResponseWriter, r *http.Request, j *job) {
	ctx := r.Context()
	info := infoOf(r)
	info.prompt = len(j.ids)
	info.stream = j.params.streaming()
	if n, limit := len(j.ids), s.m.MaxContext(); n >= limit {
		s.fail(w, r, badRequest(j.promptParam, "context_length_exceeded",
			"This model's maximum context length is %d tokens, but the prompt from '%s' has %d tokens; shorten it so that at least one token can be generated",
			limit, j.promptParam, n))
		return
	}
	opts := j.opts
	if !j.params.explicitMaxTokens() {
		// OpenAI's default is no limit but the context; the runtime's own
		// default is a small budget meant for the command line.
		opts = append(opts[:len(opts):len(opts)], runtime.WithMaxTokens(s.m.MaxContext()))
	}
	if j.lp != nil {
		opts = append(opts[:len(opts):len(opts)], runtime.WithLogprobs(j.lp.top, j.lp.add))
	}
	gen, release, e := s.admitMeasured(ctx, w, j.res, j.ids, info.start)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	if gen == nil {
		info.canceled = true
		return
	}
	defer release()

	if !j.params.streaming() {
		res, err := gen(ctx, opts...)
		if err != nil {
			s.generationFailed(w, r, err)
			return
		}
		info.completion, info.finish = res.CompletionTokens, finishReason(res.StopReason)
		writeJSON(w, http.StatusOK, j.f.full(res.Text, info.finish, j.lp.takeWithin(len(res.Text)), usageOf(res)))
		return
	}
	s.stream(ctx, w, r, j, gen, opts)
}

// stream writes the generation as Server-Sent Events: data lines with one
// chunk each, ending with "data: [DONE]".
func (s *server) stream(ctx context.Context, w http.ResponseWriter, r *http.Request, j *job, gen generator, opts []runtime.GenOption) {
	info := infoOf(r)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	withUsage := j.params.includeUsage()
	send := func(chunk any) error {
		var buf bytes.Buffer
		buf.WriteString("data: ")
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(chunk); err != nil {
			return err
		}
		buf.WriteString("\n") // Encode ended the line; an empty line ends the event
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	}
	// nullUsage marks every chunk but the last with "usage": null when the
	// client asked for usage, as OpenAI does.
	var nullUsage any
	if withUsage {
		nullUsage = json.RawMessage("null")
	}
	if first := j.f.first(nullUsage); first != nil {
		if err := send(first); err != nil {
			info.canceled = true
			return
		}
	}
	opts = append(opts[:len(opts):len(opts)], runtime.WithOnText(func(piece string) error {
		chunk := j.f.piece(piece, j.lp.take(), nullUsage)
		if chunk == nil {
			return nil
		}
		if err := send(chunk); err != nil {
			return writeFailed{err}
		}
		return nil
	}))
	res, err := gen(ctx, opts...)
	if err != nil {
		if errors.Is(context.Cause(ctx), errShutdown) {
			info.shutdown = true
			send(struct {
				Error *apiError `json:"error"`
			}{&apiError{Message: "The server is shutting down; the generation was stopped", Type: errServer, Code: "server_shutdown"}})
			return
		}
		if ctx.Err() != nil || !isRuntimeError(err) {
			// The client went away (context canceled or a failed write).
			info.canceled = true
			return
		}
		info.err = err.Error()
		send(struct {
			Error *apiError `json:"error"`
		}{&apiError{Message: "Generation failed: " + err.Error(), Type: errServer}})
		return
	}
	info.completion, info.finish = res.CompletionTokens, finishReason(res.StopReason)
	// Tokens held back and then cut by a stop string were never sent.
	if res.StopReason == runtime.StopString {
		j.lp.take()
	}
	for _, chunk := range j.f.last(info.finish, j.lp.take(), nullUsage) {
		if err := send(chunk); err != nil {
			info.canceled = true
			return
		}
	}
	if withUsage {
		if err := send(j.f.usage(usageOf(res))); err != nil {
			info.canceled = true
			return
		}
	}
	if _, err := w.Write([]byte("data: [DONE]\n\n")); err == nil {
		rc.Flush()
	}
}

// writeFailed marks errors from writing to the client, which end a stream
// without an error event (nobody would read it).
type writeFailed struct{ err error }

func (e writeFailed) Error() string { return e.err.Error() }

// isRuntimeError reports whether err came from the model rather than from
// the connection to the client.
func isRuntimeError(err error) bool {
	var wf writeFailed
	return !errors.As(err, &wf)
}

// generationFailed answers a non-streaming generation that returned err.
func (s *server) generationFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(context.Cause(r.Context()), errShutdown) {
		infoOf(r).shutdown = true
		writeError(w, &apiError{status: http.StatusServiceUnavailable, Type: errServer, Code: "server_shutdown",
			Message: "The server is shutting down; the generation was stopped"})
		return
	}
	if r.Context().Err() != nil {
		infoOf(r).canceled = true
		return
	}
	e := &apiError{Message: "Generation failed: " + err.Error(), Type: errServer, status: http.StatusInternalServerError}
	if errors.Is(err, runtime.ErrContextFull) {
		e = badRequest("", "context_length_exceeded", "%v", err)
	}
	s.fail(w, r, e)
}

// finishReason maps the runtime's stop reasons to OpenAI's.
func finishReason(r runtime.StopReason) string {
	switch r {
	case runtime.StopLength, runtime.StopContext:
		return "length"
	}
	return "stop"
}

type usage struct {
	PromptTokens        int                `json:"prompt_tokens"`
	CompletionTokens    int                `json:"completion_tokens"`
	TotalTokens         int                `json:"total_tokens"`
	PromptTokensDetails promptTokenDetails `json:"prompt_tokens_details"`
}

// promptTokenDetails is OpenAI's breakdown of the prompt tokens: those whose
// keys and values came from the prefix cache.
type promptTokenDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

func usageOf(res *runtime.Result) *usage {
	return &usage{res.PromptTokens, res.CompletionTokens, res.PromptTokens + res.CompletionTokens,
		promptTokenDetails{res.CachedTokens}}
}

// meta is what every response object of one request shares.
type meta struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
}

func (s *server) meta(prefix string) meta {
	return meta{ID: prefix + rand.Text(), Created: s.cfg.now().Unix(), Model: s.cfg.modelName}
}

// format builds the response objects of one endpoint. usage is either nil
// (left out) or JSON null, see stream. piece may hold text back (returning
// nil); last then returns it before the final chunk.
type format interface {
	full(text, finish string, lp []runtime.TokenLogprob, u *usage) any
	first(usage any) any
	piece(text string, lp []runtime.TokenLogprob, usage any) any
	last(finish string, lp []runtime.TokenLogprob, usage any) []any
	usage(u *usage) any
}

// chatFormat builds chat.completion and chat.completion.chunk objects.
type chatFormat struct {
	meta
	lp    *logprobRender
	tools *toolSet        // nil: no tools
	think *reasoningSplit // nil: the reply is all content
	hold  toolHold
	held  []runtime.TokenLogprob // log-probabilities of held-back text
}

type chatChoice struct {
	Index        int           `json:"index"`
	Message      *chatReply    `json:"message,omitempty"`
	Delta        *chatContent  `json:"delta,omitempty"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type chatContent struct {
	Role             string        `json:"role,omitempty"`
	Content          *string       `json:"content,omitempty"`
	ReasoningContent *string       `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallOut `json:"tool_calls,omitempty"`
}

// chatReply is a complete assistant message; content is null when the
// reply is only tool calls.
type chatReply struct {
	Role             string        `json:"role"`
	Content          *string       `json:"content"`
	ReasoningContent *string       `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallOut `json:"tool_calls,omitempty"`
}

type chatObject struct {
	meta
	Choices []chatChoice `json:"choices"`
	Usage   any          `json:"usage,omitempty"`
}

func (f *chatFormat) object(kind string, choices []chatChoice, u any) *chatObject {
	m := f.meta
	m.Object = kind
	return &chatObject{meta: m, Choices: choices, Usage: u}
}

func (f *chatFormat) full(text, finish string, lp []runtime.TokenLogprob, u *usage) any {
	var reasoning *string
	if f.think != nil {
		var r string
		if r, text = f.think.split(text); r != "" {
			reasoning = &r
		}
	}
	text, calls := f.tools.parse(text)
	content := &text
	if (len(calls) > 0 || reasoning != nil) && text == "" {
		content = nil
	}
	if len(calls) > 0 {
		finish = "tool_calls"
	}
	return f.object("chat.completion", []chatChoice{{
		Message:      &chatReply{Role: "assistant", Content: content, ReasoningContent: reasoning, ToolCalls: calls},
		FinishReason: &finish, Logprobs: f.lp.chat(lp),
	}}, u)
}

func (f *chatFormat) first(u any) any {
	empty := ""
	return f.object("chat.completion.chunk", []chatChoice{{Delta: &chatContent{Role: "assistant", Content: &empty}}}, u)
}

// delta is a chunk with reasoning and content, either possibly empty.
func (f *chatFormat) delta(reasoning, text string, lp []runtime.TokenLogprob, u any) any {
	d := &chatContent{}
	if reasoning != "" {
		d.ReasoningContent = &reasoning
	}
	if text != "" || reasoning == "" {
		d.Content = &text
	}
	return f.object("chat.completion.chunk", []chatChoice{{Delta: d, Logprobs: f.lp.chat(lp)}}, u)
}

func (f *chatFormat) piece(text string, lp []runtime.TokenLogprob, u any) any {
	if f.think == nil && f.tools == nil {
		return f.delta("", text, lp, u)
	}
	var reasoning string
	if f.think != nil {
		reasoning, text = f.think.push(text)
	}
	f.held = append(f.held, lp...)
	if f.tools != nil && text != "" {
		text = f.hold.push(text)
	}
	if reasoning == "" && text == "" {
		return nil
	}
	lp, f.held = f.held, nil
	return f.delta(reasoning, text, lp, u)
}

func (f *chatFormat) last(finish string, lp []runtime.TokenLogprob, u any) []any {
	var out []any
	lp = append(f.held, lp...)
	f.held = nil
	var reasoning, text string
	if f.think != nil {
		reasoning, text = f.think.flush()
		if f.tools != nil && text != "" {
			text = f.hold.push(text)
		}
	}
	var calls []toolCallOut
	if f.tools != nil {
		var rest string
		rest, calls = f.tools.parse(f.hold.rest())
		text += rest
	}
	if reasoning != "" || text != "" {
		out = append(out, f.delta(reasoning, text, lp, u))
		lp = nil
	}
	if len(calls) > 0 {
		for i := range calls {
			calls[i].Index = &i
		}
		out = append(out, f.object("chat.completion.chunk", []chatChoice{{Delta: &chatContent{ToolCalls: calls}}}, u))
		finish = "tool_calls"
	}
	var l *chatLogprobs
	if len(lp) > 0 {
		l = f.lp.chat(lp)
	}
	return append(out, f.object("chat.completion.chunk", []chatChoice{{Delta: &chatContent{}, FinishReason: &finish, Logprobs: l}}, u))
}

func (f *chatFormat) usage(u *usage) any {
	return f.object("chat.completion.chunk", []chatChoice{}, u)
}

// completionFormat builds text_completion objects (streamed chunks have the
// same object type).
type completionFormat struct {
	meta
	lp *logprobRender
}

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completionObject struct {
	meta
	Choices []completionChoice `json:"choices"`
	Usage   any                `json:"usage,omitempty"`
}

func (f *completionFormat) object(choices []completionChoice, u any) *completionObject {
	m := f.meta
	m.Object = "text_completion"
	return &completionObject{meta: m, Choices: choices, Usage: u}
}

func (f *completionFormat) full(text, finish string, lp []runtime.TokenLogprob, u *usage) any {
	return f.object([]completionChoice{{Text: text, FinishReason: &finish, Logprobs: f.lp.completion(lp)}}, u)
}

func (f *completionFormat) first(any) any { return nil }

func (f *completionFormat) piece(text string, lp []runtime.TokenLogprob, u any) any {
	return f.object([]completionChoice{{Text: text, Logprobs: f.lp.completion(lp)}}, u)
}

func (f *completionFormat) last(finish string, lp []runtime.TokenLogprob, u any) []any {
	var l *completionLogprobs
	if len(lp) > 0 {
		l = f.lp.completion(lp)
	}
	return []any{f.object([]completionChoice{{FinishReason: &finish, Logprobs: l}}, u)}
}

func (f *completionFormat) usage(u *usage) any {
	return f.object([]completionChoice{}, u)
}
