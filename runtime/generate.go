package runtime

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/symbc/symbc/runtime/tokenizer"
)

// StopReason says why generation ended.
type StopReason string

// Stop reasons.
const (
	StopEOS     StopReason = "eos"     // the model produced an end-of-sequence id
	StopString  StopReason = "stop"    // the output reached a stop string
	StopLength  StopReason = "length"  // the token budget (WithMaxTokens) was used up
	StopContext StopReason = "context" // the session's context is full
)

// Result is the outcome of one generation. Its JSON form is what
// `symbc run --json` prints.
type Result struct {
	Text string `json:"text"` // the completion (up to, not including, a stop string)
	// IDs are the generated tokens, prompt and end-of-sequence id excluded.
	// After a stop string they include the tokens that formed it.
	IDs              []int      `json:"ids"`
	PromptTokens     int        `json:"prompt_tokens"`
	CachedTokens     int        `json:"cached_tokens,omitempty"` // prompt tokens a Scheduler's prefix cache held and the request never ran (after a preemption too)
	CompletionTokens int        `json:"completion_tokens"`       // len(IDs)
	StopReason       StopReason `json:"stop_reason"`
	Seed             uint64     `json:"seed"` // the sampling seed, given or drawn

	PrefillDuration        time.Duration `json:"-"`
	DecodeDuration         time.Duration `json:"-"`
	PrefillTokensPerSecond float64       `json:"prefill_tokens_per_second"` // prompt tokens / prefill time
	DecodeTokensPerSecond  float64       `json:"decode_tokens_per_second"`  // decode steps / decode time (0 when there were none)
}

// pieceDecoder turns generated ids into text incrementally: add returns the
// text that became final with id, flush what is left at the end.
type pieceDecoder interface {
	add(id int) string
	flush() string
}

// noText is the decoder of a model without a tokenizer.
type noText struct{}

func (noText) add(int) string { return "" }
func (noText) flush() string  { return "" }

// ErrNoTokenizer means a text API was used on a model loaded without one.
var ErrNoTokenizer = errors.New("model has no tokenizer")

// Generate encodes prompt (adding BOS and the like as the tokenizer's
// post-processor says) and generates a completion.
func (m *Model) Generate(ctx context.Context, prompt string, opts ...GenOption) (*Result, error) {
	ids, err := m.Encode(prompt)
	if err != nil {
		return nil, err
	}
	return m.GenerateIDs(ctx, ids, opts...)
}

// GenerateIDs generates a completion of prompt token ids. Result.Text is
// empty when the model has no tokenizer.
func (m *Model) GenerateIDs(ctx context.Context, prompt []int, opts ...GenOption) (*Result, error) {
	o, err := applyGenOptions(opts)
	if err != nil {
		return nil, err
	}
	return m.generate(ctx, prompt, o, m.textDecoder(prompt), soloSeq{m.NewSession()})
}

// textDecoder turns the ids generated after prompt into text, or into
// nothing without a tokenizer.
func (m *Model) textDecoder(prompt []int) pieceDecoder {
	if m.tok == nil {
		return noText{}
	}
	return streamText{m.tok.NewStreamDecoder(true, prompt...)}
}

// sequence is what generate drives: a Session of its own, or a slot of a
// Scheduler.
type sequence interface {
	// prefill runs the prompt.
	prefill(ctx context.Context, prompt []int) error
	// cached is how many of the prompt's first tokens the sequence took
	// from a prefix cache and never ran itself; preemption can lower it.
	cached() int
	decode(ctx context.Context, id int) error
	logits() []float32 // of the last token run
	pos() int          // tokens held
}

// soloSeq runs a sequence in a Session.
type soloSeq struct{ s *Session }

func (q soloSeq) prefill(ctx context.Context, prompt []int) error {
	return q.s.Prefill(ctx, prompt)
}

func (soloSeq) cached() int { return 0 }

func (q soloSeq) decode(ctx context.Context, id int) error {
	_, err := q.s.forward(ctx, []int{id}, false)
	return err
}

func (q soloSeq) logits() []float32 { return q.s.LastLogits() }
func (q soloSeq) pos() int          { return q.s.Pos() }

// Stream is Generate yielding the completion's text piece by piece. A
// failure is yielded as the last pair, with empty text. Breaking out of the
// loop stops generation.
func (m *Model) Stream(ctx context.Context, prompt string, opts ...GenOption) iter.Seq2[string, error] {
	return m.stream(func(opts []GenOption) error {
		_, err := m.Generate(ctx, prompt, opts...)
		return err
	}, opts)
}

// StreamIDs is GenerateIDs yielding text pieces like Stream.
func (m *Model) StreamIDs(ctx context.Context, prompt []int, opts ...GenOption) iter.Seq2[string, error] {
	return m.stream(func(opts []GenOption) error {
		_, err := m.GenerateIDs(ctx, prompt, opts...)
		return err
	}, opts)
}

func (m *Model) stream(run func([]GenOption) error, opts []GenOption) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		stopped := false
		onText := WithOnText(func(piece string) error {
			if !yield(piece, nil) {
				stopped = true
				return errStopped
			}
			return nil
		})
		err := run(append(opts[:len(opts):len(opts)], onText))
		if err != nil && !stopped {
			yield("", err)
		}
	}
}

// Chat renders messages with the tokenizer's chat template (ending with the
// header of an assistant turn) and generates the reply. ctx cancels the
// render as well as the generation.
func (m *Model) Chat(ctx context.Context, messages []tokenizer.Message, opts ...GenOption) (*Result, error) {
	ids, err := m.EncodeChat(ctx, messages)
	if err != nil {
		return nil, err
	}
	return m.GenerateIDs(ctx, ids, opts...)
}

// EncodeChat renders messages with the chat template and encodes the result
// (the template writes BOS and other special tokens itself). The render
// gives up when ctx is done.
func (m *Model) EncodeChat(ctx context.Context, messages []tokenizer.Message, opts ...tokenizer.ChatOption) ([]int, error) {
	if m.tok == nil {
		return nil, ErrNoTokenizer
	}
	opts = append([]tokenizer.ChatOption{tokenizer.WithContext(ctx)}, opts...)
	ids, err := m.tok.EncodeChat(messages, opts...)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("chat template renders no tokens")
	}
	return ids, nil
}

// Encode turns text into prompt ids with the model's tokenizer, adding the
// special tokens its post-processor adds (usually BOS).
func (m *Model) Encode(text string) ([]int, error) {
	if m.tok == nil {
		return nil, ErrNoTokenizer
	}
	ids := m.tok.Encode(text, true)
	if len(ids) == 0 {
		return nil, errors.New("prompt encodes to no tokens")
	}
	return ids, nil
}

// streamText adapts the tokenizer's stream decoder; special tokens give no text.
type streamText struct{ d *tokenizer.StreamDecoder }

func (s streamText) add(id int) string { return s.d.Next(id) }
func (s streamText) flush() string     { return s.d.Flush() }

// errStopped ends generation when a stream consumer stops reading.
var errStopped = errors.New("generation stopped by the consumer")

// generate runs prefill over prompt and then samples and decodes one token at
// a time until a stop condition.
func (m *Model) generate(ctx context.Context, prompt []int, o genOptions, dec pieceDecoder, s sequence) (*Result, error) {
	if len(prompt) == 0 {
		return nil, errors.New("generate: empty prompt")
	}
	if len(prompt) >= m.maxCtx {
		return nil, fmt.Errorf("%w: prompt of %d tokens leaves no room in the context of %d", ErrContextFull, len(prompt), m.maxCtx)
	}
	if !o.seeded {
		// Only the seed comes from the global source; 53 bits keep it exact
		// in JSON readers that use float64 numbers.
		o.seed = rand.Uint64() >> 11
	}
	res := &Result{IDs: []int{}, PromptTokens: len(prompt), Seed: o.seed}
	smp := newSampler(&o)
	stops := newStopper(o.stop, o.onText)
	eos := map[int]bool{}
	if !o.ignoreEOS {
		for _, id := range m.eos {
			eos[id] = true
		}
	}

	start := time.Now()
	if err := s.prefill(ctx, prompt); err != nil {
		return nil, err
	}
	prefilled := len(prompt) - s.cached()
	res.PrefillDuration = time.Since(start)
	start = time.Now()
	history := append([]int(nil), prompt...)
	steps := 0
	for {
		if len(res.IDs) >= o.maxTokens {
			res.StopReason = StopLength
			break
		}
		id := smp.sample(s.logits(), history)
		if eos[id] {
			res.StopReason = StopEOS
			break
		}
		res.IDs = append(res.IDs, id)
		history = append(history, id)
		done, err := stops.push(dec.add(id))
		if err != nil {
			return nil, err
		}
		if done {
			res.StopReason = StopString
			break
		}
		if len(res.IDs) >= o.maxTokens {
			res.StopReason = StopLength
			break
		}
		if s.pos() >= m.maxCtx {
			res.StopReason = StopContext
			break
		}
		if err := s.decode(ctx, id); err != nil {
			if errors.Is(err, ErrKVCacheFull) {
				res.StopReason = StopContext
				break
			}
			return nil, err
		}
		steps++
	}
	res.DecodeDuration = time.Since(start)
	if res.StopReason != StopString {
		if _, err := stops.push(dec.flush()); err != nil {
			return nil, err
		}
	}
	if err := stops.finish(); err != nil {
		return nil, err
	}
	res.Text = stops.text()
	res.CompletionTokens = len(res.IDs)
	res.CachedTokens = s.cached() // after any preemption
	res.PrefillTokensPerSecond = rate(prefilled, res.PrefillDuration)
	res.DecodeTokensPerSecond = rate(steps, res.DecodeDuration)
	return res, nil
}

func rate(n int, d time.Duration) float64 {
	if n == 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// stopper accumulates the completion text, cuts it at the first stop string
// and passes on only text that can no longer become part of one.
type stopper struct {
	stops   []string
	emit    func(string) error
	buf     strings.Builder
	emitted int  // bytes of buf already passed to emit
	cut     int  // length of the final text once a stop string is found, else -1
	full    bool // a stop string was found
}

func newStopper(stops []string, emit func(string) error) *stopper {
	return &stopper{stops: stops, emit: emit, cut: -1}
}

// push adds a piece of text; done reports that a stop string was reached.
func (s *stopper) push(piece string) (done bool, err error) {
	if s.full || piece == "" {
		return s.full, nil
	}
	s.buf.WriteString(piece)
	text := s.buf.String()
	pending := text[s.emitted:]
	// A stop string cannot begin inside emitted text: any suffix that could
	// start one was held back.
	first := -1
	for _, st := range s.stops {
		if i := strings.Index(pending, st); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		s.full = true
		s.cut = s.emitted + first
		return true, s.send(s.cut)
	}
	return false, s.send(len(text) - s.holdBack(pending))
}

// holdBack is the length of the longest suffix of p that is a proper prefix
// of a stop string.
func (s *stopper) holdBack(p string) int {
	hold := 0
	for _, st := range s.stops {
		for n := min(len(st)-1, len(p)); n > hold; n-- {
			if strings.HasSuffix(p, st[:n]) {
				hold = n
				break
			}
		}
	}
	return hold
}

// send emits text up to byte end.
func (s *stopper) send(end int) error {
	if end <= s.emitted {
		return nil
	}
	piece := s.buf.String()[s.emitted:end]
	s.emitted = end
	if s.emit != nil {
		return s.emit(piece)
	}
	return nil
}

// finish emits what was held back when generation ended without a stop string.
func (s *stopper) finish() error {
	if s.full {
		return nil
	}
	return s.send(s.buf.Len())
}

func (s *stopper) text() string {
	if s.full {
		return s.buf.String()[:s.cut]
	}
	return s.buf.String()
}
