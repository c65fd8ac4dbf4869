package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/symbc/symbc/runtime/tokenizer"
	"github.com/symbc/symbc/symb"
)

// Errors of the Scheduler callers branch on.
var (
	// ErrBusy means every slot is taken and the queue of waiting requests is
	// full; retry later.
	ErrBusy = errors.New("scheduler busy")
	// ErrSchedulerClosed means the Scheduler was closed.
	ErrSchedulerClosed = errors.New("scheduler closed")
)

// Defaults of the Scheduler's options.
const (
	DefaultSlots      = 4
	DefaultStepTokens = 128
	// DefaultKVCacheBytes caps the KV budget when WithKVCacheBytes is not
	// given (otherwise slots × context positions).
	DefaultKVCacheBytes = 1 << 30
)

// DefaultSchedulerKVCache is how a Scheduler's KV cache stores keys and
// values unless WithKVType says otherwise.
const DefaultSchedulerKVCache = symb.F16

// preemptQuantum is how many tokens a preempted sequence, readmitted,
// stores before it can be preempted again; its readmission reserves their
// blocks.
const preemptQuantum = 4 * kvBlockTokens

// gatherWindow is how long a step waits, at most, for the streams served by
// the previous step to sample their next token, so that they decode together
// instead of one step apart.
const gatherWindow = 5 * time.Millisecond

// SchedulerOption configures NewScheduler; an option given a value it
// cannot use makes NewScheduler fail.
type SchedulerOption func(*schedConfig) error

type schedConfig struct {
	slots      int
	kvBytes    int64 // 0: the default
	kvType     symb.DType
	stepTokens int
	maxQueue   int  // 0: the default
	paused     bool // the loop starts when start is called (benchmarks and tests queue requests first)
}

func withPaused() SchedulerOption { return func(c *schedConfig) error { c.paused = true; return nil } }

// WithSlots sets how many sequences run at once (default DefaultSlots).
func WithSlots(n int) SchedulerOption {
	return func(c *schedConfig) error {
		if n < 1 {
			return fmt.Errorf("%d slots, want at least 1", n)
		}
		c.slots = n
		return nil
	}
}

// WithKVCacheBytes sets the memory budget of the KV cache, shared by all
// slots and the prefix cache (default: room for every slot's full context,
// at most DefaultKVCacheBytes). It must hold at least one block per slot.
func WithKVCacheBytes(n int64) SchedulerOption {
	return func(c *schedConfig) error {
		if n < 1 {
			return fmt.Errorf("KV cache of %d bytes, want a positive size", n)
		}
		c.kvBytes = n
		return nil
	}
}

// WithKVType sets how keys and values are stored: symb.F16 (the default,
// half the memory), symb.F32 (a Session's default numbers) or symb.INT8
// (about a quarter; see WithKVCache).
func WithKVType(t symb.DType) SchedulerOption {
	return func(c *schedConfig) error {
		c.kvType = t
		return checkKVType(t)
	}
}

// WithStepTokens bounds the tokens of one step (default DefaultStepTokens):
// every decoding sequence's next token, then prompt chunks up to the bound.
// Smaller steps keep streams flowing while a long prompt is read; larger
// ones read prompts faster.
func WithStepTokens(n int) SchedulerOption {
	return func(c *schedConfig) error {
		if n < 1 {
			return fmt.Errorf("%d step tokens, want at least 1", n)
		}
		c.stepTokens = n
		return nil
	}
}

// WithMaxQueue bounds the requests waiting for a slot (default 4 × slots);
// further ones fail at once with ErrBusy.
func WithMaxQueue(n int) SchedulerOption {
	return func(c *schedConfig) error {
		if n < 1 {
			return fmt.Errorf("queue of %d requests, want at least 1", n)
		}
		c.maxQueue = n
		return nil
	}
}

// Scheduler runs the generations of many callers on one model together
// (continuous batching). It has a number of slots; every step decodes the
// next token of each running sequence in one batched pass, so the weights
// are read once for all of them, and fills the rest of the step with chunks
// of prompts being read, so a long prompt does not stall the streams.
// Requests join and leave between steps; a cancelled request frees its slot
// at the next step boundary.
//
// Keys and values live in a paged KV cache of a fixed budget
// (WithKVCacheBytes). A request whose prompt shares a prefix with an
// earlier one (a system prompt, the previous turns of a chat) reuses its
// cached blocks and reads only the rest (Result.CachedTokens). A request
// waits for a slot and for the blocks of its prompt.
//
// When a running sequence finds no free block for its next position, the
// most recently admitted running sequence is preempted, as vLLM's
// recompute preemption does: its blocks are released into the prefix cache
// (the last, partly filled one too), it goes back to the front of the
// queue with every token it had, and when readmitted it reads them again
// (mostly from the prefix cache) before it goes on. Its readmission
// reserves the blocks of preemptQuantum more tokens, and it is not
// preempted again before it has stored them, so it cannot thrash. Its
// caller sees nothing but a delay: the tokens and the stream are those of
// an unpreempted run. Only a sequence that alone outgrows the whole budget
// ends with StopContext.
//
// Use GenerateIDs from any number of goroutines; Close ends it.
type Scheduler struct {
	m     *Model
	cfg   schedConfig
	cache *kvCache
	bt    *batcher

	mu        sync.Mutex
	queue     []*slot // waiting for admission
	reserved  int     // places reserved by requests whose prompts are not known yet (Reserve)
	active    []*slot // admitted
	closed    bool
	shared    int64 // steps that ran more than one sequence (for tests)
	preempted int64 // sequences preempted (for tests)
	rerun     int64 // tokens run again after preemptions (for tests)
	minGap    int   // fewest tokens a sequence stored between two of its preemptions (for tests; 0: none preempted twice)

	wake   chan struct{} // a request changed something the loop waits for
	start  func()        // starts the loop (tests queue requests first)
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has returned
}

// NewScheduler starts a scheduler over m, which must stay open until Close.
// It needs the exact engine (the symbiotic state is not paged).
func NewScheduler(m *Model, opts ...SchedulerOption) (*Scheduler, error) {
	c := schedConfig{slots: DefaultSlots, kvType: DefaultSchedulerKVCache, stepTokens: DefaultStepTokens}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, fmt.Errorf("scheduler: %w", err)
		}
	}
	if m.engine != EngineExact {
		return nil, fmt.Errorf("scheduler: the %s engine keeps one fixed-size state per sequence, not a KV cache in blocks, so it cannot be batched; load the model with the exact engine", m.engine)
	}
	c.stepTokens = max(c.stepTokens, c.slots)
	if c.maxQueue == 0 {
		c.maxQueue = 4 * c.slots
	}
	perBlock := kvBytesPerToken(m, c.kvType) * kvBlockTokens
	if c.kvBytes == 0 {
		ctxBlocks := int64(m.maxCtx+kvBlockTokens-1) / kvBlockTokens
		c.kvBytes = min(int64(c.slots)*ctxBlocks*perBlock, DefaultKVCacheBytes)
	}
	blocks := c.kvBytes / perBlock
	if blocks < int64(c.slots) {
		return nil, fmt.Errorf("scheduler: a KV cache of %d bytes holds %d blocks of %d tokens (%d bytes each), fewer than the %d slots",
			c.kvBytes, blocks, kvBlockTokens, perBlock, c.slots)
	}
	if blocks > 1<<24 {
		return nil, fmt.Errorf("scheduler: a KV cache of %d bytes is %d blocks, more than %d", c.kvBytes, blocks, 1<<24)
	}
	s := &Scheduler{m: m, cfg: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.cache = newKVCache(m, c.kvType, int(blocks))
	s.bt = newBatcher(m, s.cache)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.start = func() { go s.loop(ctx) }
	if !c.paused {
		s.start()
	}
	return s, nil
}

// Slots is the number of sequences that run at once.
func (s *Scheduler) Slots() int { return s.cfg.slots }

// KVCacheBytes is the memory of the KV cache.
func (s *Scheduler) KVCacheBytes() int64 {
	return int64(s.cache.blocks) * kvBytesPerToken(s.m, s.cfg.kvType) * kvBlockTokens
}

// KVCacheTokens is the number of positions the KV cache holds.
func (s *Scheduler) KVCacheTokens() int { return s.cache.blocks * kvBlockTokens }

// Load is the number of sequences running and of requests waiting for a slot.
func (s *Scheduler) Load() (running, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active), len(s.queue)
}

// Close stops the scheduler: waiting and running requests fail with
// ErrSchedulerClosed. It returns once the loop has stopped.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	return nil
}

// GenerateIDs is Model.GenerateIDs run in one of the scheduler's slots: Admit,
// then Admission.GenerateIDs.
func (s *Scheduler) GenerateIDs(ctx context.Context, prompt []int, opts ...GenOption) (*Result, error) {
	a, err := s.Admit(ctx, prompt)
	if err != nil {
		return nil, err
	}
	return a.GenerateIDs(ctx, opts...)
}

// Reservation is a place among the requests waiting for a slot, taken
// before the prompt is known (Reserve).
type Reservation struct {
	s    *Scheduler
	held bool
}

// Reserve takes a place among the requests waiting for a slot before the
// prompt is known, failing at once with ErrBusy when the free slots and the
// queue are taken (by waiting requests and other reservations) and with
// ErrSchedulerClosed after Close. A server reserves before it reads and
// tokenizes a request, so a request it must refuse costs neither, and the
// prompts being tokenized count against the queue's bound. The caller must
// call Reservation.Admit or Release.
func (s *Scheduler) Reserve() (*Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.busy(); err != nil {
		return nil, err
	}
	s.reserved++
	return &Reservation{s: s, held: true}, nil
}

// Admit is Scheduler.Admit in the reserved place: it does not fail with
// ErrBusy. The reservation is used up, whatever the outcome.
func (r *Reservation) Admit(ctx context.Context, prompt []int) (*Admission, error) {
	r.s.mu.Lock()
	held := r.held
	r.held = false // the place passes to the queue in admit
	r.s.mu.Unlock()
	if !held {
		return nil, errors.New("scheduler: reservation used twice")
	}
	return r.s.admitPrompt(ctx, prompt, true)
}

// Release gives the place back unless Admit used it; it may be called more
// than once, and on nil.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.held {
		r.held = false
		r.s.reserved--
	}
}

// busy says why a request cannot join the queue now: the scheduler is
// closed, or the requests waiting and reserved fill the free slots and the
// queue. Called with the lock held.
func (s *Scheduler) busy() error {
	if s.closed {
		return ErrSchedulerClosed
	}
	if free := s.cfg.slots - len(s.active); len(s.queue)+s.reserved >= s.cfg.maxQueue+max(free, 0) {
		return fmt.Errorf("%w: %d slots running, %d requests waiting and %d being read", ErrBusy, len(s.active), len(s.queue), s.reserved)
	}
	return nil
}

// Admission is a slot held for one prompt, with the KV cache blocks it needs.
type Admission struct {
	q    *slot
	used bool
}

// Admit waits until prompt holds a slot and the KV cache blocks of its
// prompt, or fails at once with ErrBusy when the free slots and the queue
// are taken (see Reserve) and with ErrKVCacheFull when the prompt is larger
// than the whole budget. A server admits before it answers, so that these become status
// codes rather than errors in the middle of a stream. The caller must call
// GenerateIDs or Release.
func (s *Scheduler) Admit(ctx context.Context, prompt []int) (*Admission, error) {
	return s.admitPrompt(ctx, prompt, false)
}

// admitPrompt is Admit; reserved, it takes a place Reserve counted.
func (s *Scheduler) admitPrompt(ctx context.Context, prompt []int, reserved bool) (*Admission, error) {
	var err error
	if len(prompt) == 0 {
		err = errors.New("generate: empty prompt")
	} else if len(prompt) >= s.m.maxCtx {
		err = fmt.Errorf("%w: prompt of %d tokens leaves no room in the context of %d", ErrContextFull, len(prompt), s.m.maxCtx)
	}
	if err != nil {
		if reserved {
			s.mu.Lock()
			s.reserved--
			s.mu.Unlock()
		}
		return nil, err
	}
	q, err := s.admit(ctx, prompt, reserved)
	if err != nil {
		return nil, err
	}
	return &Admission{q: q}, nil
}

// GenerateIDs generates a completion of the admitted prompt and releases
// the slot. It may be called once.
func (a *Admission) GenerateIDs(ctx context.Context, opts ...GenOption) (*Result, error) {
	defer a.Release()
	if a.used {
		return nil, errors.New("scheduler: admission used twice")
	}
	a.used = true
	o, err := applyGenOptions(opts)
	if err != nil {
		return nil, err
	}
	m := a.q.s.m
	return m.generate(ctx, a.q.prompt, o, m.textDecoder(a.q.prompt), a.q)
}

// Release gives the slot back; it may be called more than once.
func (a *Admission) Release() { a.q.cancel() }

// Chat is Model.Chat run in one of the scheduler's slots. It reserves its
// place before it tokenizes the messages (Reserve).
func (s *Scheduler) Chat(ctx context.Context, messages []tokenizer.Message, opts ...GenOption) (*Result, error) {
	r, err := s.Reserve()
	if err != nil {
		return nil, err
	}
	defer r.Release()
	ids, err := s.m.EncodeChat(ctx, messages)
	if err != nil {
		return nil, err
	}
	a, err := r.Admit(ctx, ids)
	if err != nil {
		return nil, err
	}
	return a.GenerateIDs(ctx, opts...)
}

// slot is one admitted (or waiting) sequence. The fields below mu are the
// scheduler's, guarded by its lock; the request's goroutine reads logits
// only after done reported the step that wrote them.
type slot struct {
	s      *Scheduler
	prompt []int

	table     []int  // KV cache blocks, in position order
	toks      []int  // tokens whose keys and values are stored
	hash      uint64 // prefix hash of the published blocks
	published int    // leading blocks that are in the prefix index
	reused    int    // prompt tokens taken from the prefix cache and never run (see admitWaiting)
	pending   []int  // tokens to run
	silent    bool   // pending holds only tokens re-run after a preemption: no logits wanted
	last      []float32
	admitted  bool // once admitted; readmission after a preemption is silent to the caller
	preempts  int  // times preempted
	pinned    int  // not a victim before it holds this many tokens (after a preemption)
	heldAt    int  // tokens held when last preempted
	inStep    bool
	gone      bool
	done      chan error // admission, then each submission's completion
}

// admit queues a sequence and waits until it holds a slot and the KV cache
// blocks of its prompt. Reserved, it had its place (Reserve).
func (s *Scheduler) admit(ctx context.Context, prompt []int, reserved bool) (*slot, error) {
	q := &slot{s: s, prompt: prompt, done: make(chan error, 1)}
	s.mu.Lock()
	if reserved {
		s.reserved-- // its place passes to the queue
	}
	need := (len(prompt) + kvBlockTokens) / kvBlockTokens // the prompt and the first generated token
	var busy error
	if !reserved {
		busy = s.busy()
	}
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, ErrSchedulerClosed
	case need > s.cache.blocks:
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: a prompt of %d tokens needs %d blocks of %d, the budget has %d",
			ErrKVCacheFull, len(prompt), need, kvBlockTokens, s.cache.blocks)
	case busy != nil:
		s.mu.Unlock()
		return nil, busy
	}
	s.queue = append(s.queue, q)
	s.mu.Unlock()
	s.poke()
	if err := q.wait(ctx); err != nil {
		q.cancel()
		return nil, err
	}
	return q, nil
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wait returns the outcome of the last submission, or ctx's error.
func (q *slot) wait(ctx context.Context) error {
	select {
	case err := <-q.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// submit hands ids to the loop and waits until they are run.
func (q *slot) submit(ctx context.Context, ids []int) error {
	s := q.s
	s.mu.Lock()
	if q.gone || s.closed {
		s.mu.Unlock()
		return ErrSchedulerClosed
	}
	if q.silent {
		// After a preemption: run ids once the tokens being re-read are.
		q.pending = append(q.pending, ids...)
		q.silent = false
	} else {
		q.pending = ids
	}
	s.mu.Unlock()
	s.poke()
	return q.wait(ctx)
}

// cancel gives the slot back: at once, or after the step running it.
func (q *slot) cancel() {
	s := q.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.gone {
		return
	}
	q.gone = true
	if !q.inStep {
		s.drop(q)
	}
}

// drop removes q from the queue or its slot and releases its blocks.
// Called with the lock held.
func (s *Scheduler) drop(q *slot) {
	s.queue = slices.DeleteFunc(s.queue, func(x *slot) bool { return x == q })
	s.active = slices.DeleteFunc(s.active, func(x *slot) bool { return x == q })
	s.releaseBlocks(q)
	q.table, q.pending = nil, nil
	s.poke()
}

// releaseBlocks gives q's blocks back. The full ones are in the prefix
// index already; the last, partly filled one joins them (publishTail), so
// a later request that starts with every token q stored (the next turn of
// a chat, q itself after a preemption) reuses them all. Called with the
// lock held, never for a sequence in the running step.
func (s *Scheduler) releaseBlocks(q *slot) {
	if p := q.published; p < len(q.table) && len(q.toks) > p*kvBlockTokens {
		s.cache.publishTail(q.table[p], q.hash, q.toks[p*kvBlockTokens:])
	}
	s.cache.release(q.table)
}

// The sequence interface, for generate.

// prefill submits the prompt tokens the slot does not hold. A preemption
// before the submission keeps the held ones (pos) as tokens to read again.
func (q *slot) prefill(ctx context.Context, prompt []int) error {
	return q.submit(ctx, prompt[q.pos():])
}

func (q *slot) cached() int {
	q.s.mu.Lock()
	defer q.s.mu.Unlock()
	return q.reused
}

func (q *slot) decode(ctx context.Context, id int) error { return q.submit(ctx, []int{id}) }

func (q *slot) logits() []float32 { return q.last }

// pos counts the tokens a preempted sequence is to re-read as held: they are
// the caller's.
func (q *slot) pos() int {
	q.s.mu.Lock()
	defer q.s.mu.Unlock()
	return len(q.toks) + len(q.pending)
}

// loop runs steps until ctx ends.
func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	var segs []batchSeg
	var in []*slot
	for {
		s.mu.Lock()
		running := len(s.active)
		s.admitWaiting()
		if len(s.active) > running {
			// Let the requests just admitted hand in their prompts, so
			// that requests arriving together are read in one step: else
			// the first to submit ran alone, and the rest one step later.
			s.mu.Unlock()
			s.gather(ctx)
			s.mu.Lock()
		}
		segs, in = s.plan(segs[:0], in[:0])
		s.mu.Unlock()
		if len(segs) == 0 {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				s.shutdown()
				return
			}
		}
		logits, err := s.bt.step(ctx, segs)
		if err != nil && ctx.Err() != nil {
			err = ErrSchedulerClosed
		}
		s.mu.Lock()
		if len(segs) > 1 {
			s.shared++
		}
		s.commit(segs, in, logits, err)
		s.mu.Unlock()
		if ctx.Err() != nil {
			s.shutdown()
			return
		}
		s.gather(ctx)
	}
}

// admitWaiting moves queued sequences into free slots, first come first
// served (preempted ones are at the front), while the cache has the blocks
// of their prompts, or of everything a preempted one had.
func (s *Scheduler) admitWaiting() {
	for len(s.queue) > 0 && len(s.active) < s.cfg.slots {
		q := s.queue[0]
		known := q.prompt
		if q.admitted {
			known = q.pending
		}
		// Keep at least one token to run: its logits go on decoding.
		blocks, hash := s.cache.match(known[:len(known)-1])
		// The start of the next block may be cached too, in a block that
		// goes on differently: its rows are copied into a fresh block.
		part, n := s.cache.matchPart(hash, known[len(blocks)*kvBlockTokens:len(known)-1])
		held := 0
		if part >= 0 {
			s.cache.hold(part) // not evicted by the allocations below
			held = 1
		}
		total := (len(known) + kvBlockTokens) / kvBlockTokens // and the next token
		if q.admitted {
			// And the blocks of preemptQuantum more: it is pinned until it
			// has stored them (see victim).
			q.pinned = min(len(known)+preemptQuantum, s.m.maxCtx)
			total = (q.pinned + kvBlockTokens - 1) / kvBlockTokens
		}
		// Never more than the blocks that can be free at once: the part
		// block is held while the others are allocated. A table short of
		// its tokens gets the rest when it runs them (plan).
		total = min(total, s.cache.blocks-held)
		need := max(total-len(blocks), 0)
		if s.cache.available() < need {
			s.cache.release(blocks)
			if part >= 0 {
				s.cache.release([]int{part})
			}
			return
		}
		for range need {
			blocks = append(blocks, s.cache.alloc())
		}
		q.table, q.hash, q.published = blocks, hash, len(blocks)-need
		q.pinned = min(q.pinned, len(blocks)*kvBlockTokens)
		if part >= 0 {
			if need > 0 {
				s.cache.copyPart(blocks[q.published], part, n)
			} else {
				n = 0
			}
			s.cache.release([]int{part})
		}
		reused := q.published*kvBlockTokens + n
		s.queue = s.queue[1:]
		s.active = append(s.active, q)
		if q.admitted {
			// Prompt tokens past reused are run again: the request reused
			// only the prompt tokens it never ran.
			q.reused = min(q.reused, reused)
			s.rerun += int64(len(known) - reused)
			q.toks = append(q.toks[:0], known[:reused]...)
			q.pending = known[reused:]
			continue
		}
		q.reused = reused
		q.toks = append(make([]int, 0, len(q.prompt)+16), q.prompt[:reused]...)
		q.admitted = true
		q.done <- nil
	}
}

// preempt takes running sequence q out of its slot and puts it at the front
// of the queue with every token it had, to be read again: its blocks are
// released into the prefix cache (releaseBlocks). Called with the lock
// held, never for a sequence in the running step.
func (s *Scheduler) preempt(q *slot) {
	s.active = slices.DeleteFunc(s.active, func(x *slot) bool { return x == q })
	s.releaseBlocks(q)
	q.silent = q.silent || len(q.pending) == 0 // the caller is not waiting for logits
	q.pending = append(slices.Clip(q.toks), q.pending...)
	q.toks, q.table, q.hash, q.published = q.toks[:0], nil, 0, 0
	s.queue = slices.Insert(s.queue, 0, q)
	s.preempted++
	if q.preempts > 0 {
		gap := len(q.pending) - q.heldAt
		if s.minGap == 0 || gap < s.minGap {
			s.minGap = gap
		}
	}
	q.preempts++
	q.heldAt = len(q.pending)
}

// victim is the running sequence to preempt: the most recently admitted one
// that is not pinned by a recent preemption, is not in the step being
// planned and holds tokens (one that holds none is about to submit its
// prompt). Called with the lock held.
//
// A sequence preempted before is not a victim until it has stored
// preemptQuantum tokens past those it had, for which its readmission
// reserved the blocks (admitWaiting): it cannot thrash, going back and
// forth between its slot and the queue without progress while older
// sequences grow. (Only a budget too small for that reservation, when
// every other sequence is pinned too, makes a pinned one the victim.)
func (s *Scheduler) victim() *slot {
	for _, pin := range []bool{true, false} {
		for _, q := range slices.Backward(s.active) {
			if !q.inStep && (!pin || len(q.toks) >= q.pinned) && len(q.toks)+len(q.pending) > 0 {
				return q
			}
		}
	}
	return nil
}

// plan picks the work of the next step: the next token of every decoding
// sequence, then prompt chunks up to the step's token budget. A sequence
// that needs a block when none is free preempts a victim (see victim),
// which may be itself: a sequence that needs a block is past any
// reservation, so it is never pinned. Called with the lock held.
func (s *Scheduler) plan(segs []batchSeg, in []*slot) ([]batchSeg, []*slot) {
	budget := s.cfg.stepTokens
	add := func(q *slot, n int) {
		pos := len(q.toks)
		for len(q.table)*kvBlockTokens < pos+n {
			if b := s.cache.alloc(); b >= 0 {
				q.table = append(q.table, b)
				continue
			}
			v := s.victim()
			if v == nil || v == q && len(s.active) == 1 {
				// Alone, it outgrows the whole budget.
				q.pending, q.silent = nil, false
				q.done <- fmt.Errorf("%w: no free block for position %d", ErrKVCacheFull, pos)
				return
			}
			s.preempt(v)
			if v == q {
				return
			}
		}
		q.inStep = true
		segs = append(segs, batchSeg{ids: q.pending[:n], pos: pos, table: q.table, logits: n == len(q.pending) && !q.silent})
		in = append(in, q)
		budget -= n
	}
	// Over a copy: add may preempt (a preempted sequence has no table).
	run := slices.Clone(s.active)
	for _, q := range run {
		if len(q.pending) == 1 && q.table != nil {
			add(q, 1)
		}
	}
	for _, q := range run {
		if len(q.pending) > 1 && q.table != nil && budget > 0 {
			add(q, min(len(q.pending), budget))
		}
	}
	return segs, in
}

// commit records a finished step: positions advance, full blocks enter the
// prefix index, and sequences whose submissions are done are told. Called
// with the lock held.
func (s *Scheduler) commit(segs []batchSeg, in []*slot, logits []float32, err error) {
	vocab := s.m.mc.VocabSize
	k := 0
	for i, q := range in {
		g := segs[i]
		q.inStep = false
		if err != nil {
			q.pending = nil
			q.done <- err
		} else {
			q.toks = append(q.toks, g.ids...)
			q.pending = q.pending[len(g.ids):]
			for (q.published+1)*kvBlockTokens <= len(q.toks) {
				p := q.published
				q.hash = s.cache.publish(q.table[p], q.hash, q.toks[p*kvBlockTokens:(p+1)*kvBlockTokens])
				q.published++
			}
			if g.logits {
				q.last = append(q.last[:0], logits[k*vocab:(k+1)*vocab]...)
				k++
				q.done <- nil
			}
		}
		if q.gone {
			s.drop(q)
		}
	}
}

// gather waits, up to gatherWindow, until every running sequence has
// submitted its next token.
func (s *Scheduler) gather(ctx context.Context) {
	timer := time.NewTimer(gatherWindow)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ready := true
		for _, q := range s.active {
			ready = ready && len(q.pending) > 0
		}
		waiting := len(s.queue) > 0 && len(s.active) < s.cfg.slots
		s.mu.Unlock()
		if ready || waiting {
			return
		}
		select {
		case <-s.wake:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// shutdown fails every waiting and running sequence.
func (s *Scheduler) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, q := range append(s.queue, s.active...) {
		select {
		case q.done <- ErrSchedulerClosed:
		default:
		}
	}
}
