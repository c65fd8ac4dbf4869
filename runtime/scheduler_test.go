package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbc/symbc/symb"
)

func newTestScheduler(t testing.TB, m *Model, opts ...SchedulerOption) *Scheduler {
	t.Helper()
	s, err := NewScheduler(m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// prompts derives n different prompts of different lengths from ids.
func prompts(ids []int, n, vocab int) [][]int {
	out := make([][]int, n)
	for i := range out {
		p := append([]int(nil), ids[:max(1, len(ids)-3*i)]...)
		p[len(p)-1] = (p[len(p)-1] + 7*i) % vocab
		out[i] = p
	}
	return out
}

// waitQueued waits until n requests wait in the queue of s.
func waitQueued(s *Scheduler, n int) {
	for queued := 0; queued < n; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		queued = len(s.queue)
		s.mu.Unlock()
	}
}

// runConcurrently queues a generation of every prompt, then starts the
// scheduler of a paused test scheduler (see newTestScheduler) so that they
// really run together, and waits for them.
func runConcurrently(t *testing.T, s *Scheduler, ps [][]int, opts ...GenOption) []*Result {
	t.Helper()
	res := make([]*Result, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { res[i], errs[i] = s.GenerateIDs(context.Background(), p, opts...) })
	}
	waitQueued(s, len(ps))
	s.start()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return res
}

// TestSchedulerMatchesSession checks that sequences decoded together, with
// prompts read in chunks between decode steps, give the tokens each gives
// alone, on every family (MoE and latent attention included), and that the
// reference prompt still gives transformers' greedy tokens.
func TestSchedulerMatchesSession(t *testing.T) {
	for _, name := range referenceCases {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, name, WithThreads(2))
			ref := loadReference(t, modelDir(t, name))
			s := newTestScheduler(t, m, WithSlots(3), WithKVType(symb.F32), WithStepTokens(5), withPaused())
			ps := prompts(ref.promptIDs, 4, m.mc.VocabSize)
			n := len(ref.greedyIDs)
			res := runConcurrently(t, s, ps, WithMaxTokens(n), WithIgnoreEOS())
			if !equalInts(res[0].IDs, ref.greedyIDs) {
				t.Errorf("reference prompt: ids\n got %v\nwant %v", res[0].IDs, ref.greedyIDs)
			}
			for i, p := range ps {
				want, err := m.GenerateIDs(context.Background(), p, WithMaxTokens(n), WithIgnoreEOS())
				if err != nil {
					t.Fatal(err)
				}
				if !equalInts(res[i].IDs, want.IDs) {
					t.Errorf("prompt %d: batched ids\n got %v\nwant %v", i, res[i].IDs, want.IDs)
				}
			}
			if s.shared == 0 {
				t.Error("no step ran more than one sequence")
			}
			if got := s.cache.available(); got != s.cache.blocks {
				t.Errorf("%d of %d blocks available after every request ended", got, s.cache.blocks)
			}
		})
	}
}

// TestSchedulerF16 checks the default half-precision KV cache against the
// trained model's greedy reference.
func TestSchedulerF16(t *testing.T) {
	m := storiesModel(t)
	ref := loadReference(t, modelDir(t, "stories260k"))
	s := newTestScheduler(t, m, WithSlots(2), withPaused())
	res := runConcurrently(t, s, [][]int{ref.promptIDs, ref.promptIDs}, WithMaxTokens(len(ref.greedyIDs)), WithIgnoreEOS())
	for i, r := range res {
		if !equalInts(r.IDs, ref.greedyIDs) {
			t.Errorf("request %d: ids\n got %v\nwant %v", i, r.IDs, ref.greedyIDs)
		}
	}
}

// TestPrefixCache checks that a second chat turn reuses the first turn's
// keys and values (and still gives the tokens of a fresh session), and that
// the reused blocks come back when the cache needs room.
func TestPrefixCache(t *testing.T) {
	ctx := context.Background()
	m := storiesModel(t)
	s := newTestScheduler(t, m, WithSlots(2), WithKVType(symb.F32))
	first, err := m.Encode("Once upon a time, there was a little girl named Lily. She loved to play outside")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := s.GenerateIDs(ctx, first, WithMaxTokens(45), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	if r1.CachedTokens != 0 {
		t.Errorf("first turn: %d cached tokens, want 0", r1.CachedTokens)
	}
	second := append(append(append([]int(nil), first...), r1.IDs...), first[1:8]...)
	r2, err := s.GenerateIDs(ctx, second, WithMaxTokens(20), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	// Everything the first turn stored (its last sampled token was not run),
	// the last, partly filled block included.
	stored := len(first) + len(r1.IDs) - 1
	if stored%kvBlockTokens < 4 {
		t.Fatalf("the first turn stored %d tokens, want a tail of at least 4 in its last block", stored)
	}
	if r2.CachedTokens != stored {
		t.Errorf("second turn: %d cached tokens, want all %d the first stored", r2.CachedTokens, stored)
	}
	alone, err := m.GenerateIDs(ctx, second, WithMaxTokens(20), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(r2.IDs, alone.IDs) {
		t.Errorf("with cached prefix: ids\n got %v\nwant %v", r2.IDs, alone.IDs)
	}
	// A turn that leaves the first inside its last block copies the shared
	// rows and writes its own into a block of its own: the first turn's
	// tail is unchanged for a third turn that takes all of it.
	branch := append(append([]int(nil), second[:stored-3]...), first[2:9]...)
	rb, err := s.GenerateIDs(ctx, branch, WithMaxTokens(20), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	if rb.CachedTokens != stored-3 {
		t.Errorf("branching turn: %d cached tokens, want %d", rb.CachedTokens, stored-3)
	}
	third := append(append([]int(nil), second[:stored]...), first[3:11]...)
	r3, err := s.GenerateIDs(ctx, third, WithMaxTokens(20), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	if r3.CachedTokens != stored {
		t.Errorf("third turn: %d cached tokens, want %d", r3.CachedTokens, stored)
	}
	for _, c := range []struct {
		name   string
		prompt []int
		got    *Result
	}{{"branching turn", branch, rb}, {"third turn", third, r3}} {
		alone, err := m.GenerateIDs(ctx, c.prompt, WithMaxTokens(20), WithIgnoreEOS())
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(c.got.IDs, alone.IDs) {
			t.Errorf("%s: ids\n got %v\nwant %v", c.name, c.got.IDs, alone.IDs)
		}
	}
	if s.cache.cached == 0 || s.cache.available() != s.cache.blocks {
		t.Errorf("%d cached and %d of %d blocks available, want some cached and all available", s.cache.cached, s.cache.available(), s.cache.blocks)
	}
	// Fill the whole cache with other work: cached blocks are evicted.
	for j := range 3 {
		other := make([]int, s.KVCacheTokens()/2-2)
		for i := range other {
			other[i] = 1 + (i*31+j)%(m.mc.VocabSize-1)
		}
		if _, err := s.GenerateIDs(ctx, other, WithMaxTokens(2), WithIgnoreEOS()); err != nil {
			t.Fatal(err)
		}
	}
	r4, err := s.GenerateIDs(ctx, second, WithMaxTokens(1))
	if err != nil {
		t.Fatal(err)
	}
	if r4.CachedTokens != 0 {
		t.Errorf("after eviction: %d cached tokens, want 0", r4.CachedTokens)
	}
}

// TestSchedulerCancel checks that a cancelled request frees its slot for a
// waiting one and returns its blocks.
func TestSchedulerCancel(t *testing.T) {
	m := storiesModel(t)
	s := newTestScheduler(t, m, WithSlots(1))
	ids, _ := m.Encode("Once upon a time")
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		var once sync.Once
		_, err := s.GenerateIDs(ctx, ids, WithMaxTokens(100000), WithIgnoreEOS(), WithOnText(func(string) error {
			once.Do(func() { close(started) })
			return nil
		}))
		errc <- err
	}()
	<-started
	second := make(chan error, 1)
	go func() {
		_, err := s.GenerateIDs(context.Background(), ids, WithMaxTokens(3))
		second <- err
	}()
	time.Sleep(20 * time.Millisecond) // the second request waits for the only slot
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v, want context.Canceled", err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Errorf("waiting request: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting request did not get the freed slot")
	}
	s.mu.Lock()
	avail, active := s.cache.available(), len(s.active)
	s.mu.Unlock()
	if avail != s.cache.blocks || active != 0 {
		t.Errorf("%d of %d blocks available, %d active, want all and none", avail, s.cache.blocks, active)
	}
}

// TestSchedulerLimits checks the answers to more work than fits: a full
// queue is ErrBusy, a prompt larger than the budget ErrKVCacheFull, and a
// sequence that outgrows the budget stops with StopContext.
func TestSchedulerLimits(t *testing.T) {
	m := storiesModel(t)
	ctx := context.Background()
	tokens := 4 * kvBlockTokens
	perToken := kvBytesPerToken(m, symb.F16)
	s := newTestScheduler(t, m, WithSlots(1), WithMaxQueue(1), WithKVCacheBytes(int64(tokens)*perToken))
	if got := s.KVCacheTokens(); got != tokens {
		t.Fatalf("KV cache of %d tokens, want %d", got, tokens)
	}
	long := make([]int, tokens+1)
	for i := range long {
		long[i] = 1 + i%100
	}
	if _, err := s.GenerateIDs(ctx, long); !errors.Is(err, ErrKVCacheFull) {
		t.Errorf("prompt larger than the budget: %v, want ErrKVCacheFull", err)
	}
	res, err := s.GenerateIDs(ctx, long[:10], WithMaxTokens(1000), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopContext || 10+res.CompletionTokens != tokens+1 {
		t.Errorf("outgrowing the budget: stop %q after %d tokens, want %q after %d", res.StopReason, res.CompletionTokens, StopContext, tokens+1-10)
	}

	// One running, one waiting: the third is refused at once.
	block := make(chan struct{})
	running := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var once sync.Once
		s.GenerateIDs(ctx, long[:5], WithMaxTokens(20), WithIgnoreEOS(), WithOnText(func(string) error {
			once.Do(func() { close(running) })
			<-block
			return nil
		}))
	})
	<-running
	wg.Go(func() { s.GenerateIDs(ctx, long[:5], WithMaxTokens(1)) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		queued := len(s.queue)
		s.mu.Unlock()
		if queued == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := s.GenerateIDs(ctx, long[:5]); !errors.Is(err, ErrBusy) {
		t.Errorf("full queue: %v, want ErrBusy", err)
	}
	close(block)
	wg.Wait()
}

// TestSchedulerClose checks that Close ends waiting requests.
func TestSchedulerClose(t *testing.T) {
	m := storiesModel(t)
	s, err := NewScheduler(m, WithSlots(1))
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := m.Encode("Once upon a time")
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.GenerateIDs(context.Background(), ids, WithMaxTokens(100000), WithIgnoreEOS())
			errc <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	s.Close()
	for range 2 {
		if err := <-errc; !errors.Is(err, ErrSchedulerClosed) {
			t.Errorf("after Close: %v, want ErrSchedulerClosed", err)
		}
	}
	if _, err := s.GenerateIDs(context.Background(), ids); !errors.Is(err, ErrSchedulerClosed) {
		t.Errorf("after Close: %v, want ErrSchedulerClosed", err)
	}
}

func TestSchedulerOptions(t *testing.T) {
	m := storiesModel(t)
	for i, opts := range [][]SchedulerOption{
		{WithSlots(0)}, {WithSlots(-2)}, {WithStepTokens(0)}, {WithKVType(symb.INT4)}, {WithKVCacheBytes(-1)},
		{WithKVCacheBytes(0)}, {WithKVCacheBytes(100)}, {WithMaxQueue(0)}, {WithMaxQueue(-1)},
		{WithSlots(4), WithKVCacheBytes(3 * kvBlockTokens * kvBytesPerToken(m, symb.F16))}, // fewer blocks than slots
	} {
		s, err := NewScheduler(m, opts...)
		if err == nil {
			s.Close()
			t.Errorf("options %d: no error", i)
		} else if !strings.HasPrefix(err.Error(), "scheduler: ") {
			t.Errorf("options %d: error %q does not say where it comes from", i, err)
		}
	}
	_, err := NewScheduler(storiesModel(t, WithEngine(EngineSymbiotic)))
	if err == nil || !strings.Contains(err.Error(), "symbiotic engine") || !strings.Contains(err.Error(), "exact engine") {
		t.Errorf("symbiotic engine: %v, want an error naming it and the exact engine", err)
	}
}

// TestSchedulerPreemption runs three sequences that together need more
// blocks than the budget (each alone fits): the latest admitted ones are
// preempted and resumed, and every request still gives the tokens and the
// streamed text of a session of its own, with no piece repeated or lost.
func TestSchedulerPreemption(t *testing.T) {
	m := storiesModel(t)
	ctx := context.Background()
	const gen = 60
	blocks := 8 // 128 positions; each sequence needs about 75
	s := newTestScheduler(t, m, WithSlots(3), WithKVType(symb.F32), WithStepTokens(8),
		WithKVCacheBytes(int64(blocks*kvBlockTokens)*kvBytesPerToken(m, symb.F32)), withPaused())
	var ps [][]int
	for _, text := range []string{"Once upon a time", "The little dog ran to the park and", "Tom and Sue"} {
		ids, err := m.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, ids)
	}
	res := make([]*Result, len(ps))
	streamed := make([]strings.Builder, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			res[i], errs[i] = s.GenerateIDs(ctx, p, WithMaxTokens(gen), WithIgnoreEOS(), WithOnText(func(piece string) error {
				streamed[i].WriteString(piece)
				return nil
			}))
		})
	}
	waitQueued(s, len(ps))
	s.start()
	wg.Wait()
	for i, p := range ps {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		want, err := m.GenerateIDs(ctx, p, WithMaxTokens(gen), WithIgnoreEOS())
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(res[i].IDs, want.IDs) || res[i].StopReason != StopLength {
			t.Errorf("request %d: stop %q, ids\n got %v\nwant %v", i, res[i].StopReason, res[i].IDs, want.IDs)
		}
		if got := streamed[i].String(); got != res[i].Text || got != want.Text {
			t.Errorf("request %d: streamed %q, result %q, alone %q", i, got, res[i].Text, want.Text)
		}
	}
	if s.preempted == 0 {
		t.Error("no sequence was preempted")
	}
	if got := s.cache.available(); got != s.cache.blocks {
		t.Errorf("%d of %d blocks available after every request ended", got, s.cache.blocks)
	}
	t.Logf("%d preemptions", s.preempted)
}

// TestSchedulerPreemptIdle preempts a sequence while its caller is not
// waiting for it (busy with a streamed piece): the tokens it had are read
// again without the caller noticing, and its generation matches a session's.
func TestSchedulerPreemptIdle(t *testing.T) {
	m := storiesModel(t)
	ctx := context.Background()
	s := newTestScheduler(t, m, WithSlots(2), WithKVType(symb.F32),
		WithKVCacheBytes(5*kvBlockTokens*kvBytesPerToken(m, symb.F32)), withPaused())
	long, _ := m.Encode("Once upon a time")
	short, _ := m.Encode("Tom and Sue")
	n := 5*kvBlockTokens - len(long) // the long one alone fills the budget
	var wg sync.WaitGroup
	var first *Result
	var firstErr error
	// Both wait in the queue, the long one first, before the loop starts:
	// the short one is admitted last, so it is the one preempted, and the
	// long one cannot finish before the short one runs.
	wg.Go(func() { first, firstErr = s.GenerateIDs(ctx, long, WithMaxTokens(n), WithIgnoreEOS()) })
	waitQueued(s, 1)
	go func() { waitQueued(s, 2); s.start() }()
	var once sync.Once
	var streamed strings.Builder
	second, err := s.GenerateIDs(ctx, short, WithMaxTokens(20), WithIgnoreEOS(), WithOnText(func(piece string) error {
		once.Do(func() { // hold the caller until the long sequence has preempted this one
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				s.mu.Lock()
				p := s.preempted
				s.mu.Unlock()
				if p > 0 {
					return
				}
			}
		})
		streamed.WriteString(piece)
		return nil
	}))
	wg.Wait()
	if err != nil || firstErr != nil {
		t.Fatal(err, firstErr)
	}
	if s.preempted == 0 {
		t.Fatal("no sequence was preempted")
	}
	for i, c := range []struct {
		prompt []int
		n      int
		got    *Result
	}{{long, n, first}, {short, 20, second}} {
		want, err := m.GenerateIDs(ctx, c.prompt, WithMaxTokens(c.n), WithIgnoreEOS())
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(c.got.IDs, want.IDs) {
			t.Errorf("request %d: ids\n got %v\nwant %v", i, c.got.IDs, want.IDs)
		}
	}
	if streamed.String() != second.Text {
		t.Errorf("streamed %q, result %q", streamed.String(), second.Text)
	}
}

// TestPrefixCachePartialBlock checks sub-block reuse: a prompt that shares
// 24 tokens with earlier work takes the first full block and copies the 8
// shared rows of the second, with every KV cache type, and still gives the
// tokens of a session of its own.
func TestPrefixCachePartialBlock(t *testing.T) {
	ctx := context.Background()
	for _, kv := range []symb.DType{symb.F32, symb.F16, symb.INT8} {
		t.Run(kv.String(), func(t *testing.T) {
			m := storiesModel(t, WithKVCache(kv))
			s := newTestScheduler(t, m, WithSlots(1), WithKVType(kv))
			first, err := m.Encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her dog")
			if err != nil {
				t.Fatal(err)
			}
			if len(first) < 2*kvBlockTokens+1 {
				t.Fatalf("prompt of %d tokens, want more than %d", len(first), 2*kvBlockTokens)
			}
			if _, err := s.GenerateIDs(ctx, first, WithMaxTokens(2)); err != nil {
				t.Fatal(err)
			}
			tail, err := m.Encode("Tom had a red ball")
			if err != nil {
				t.Fatal(err)
			}
			shared := kvBlockTokens + kvBlockTokens/2
			second := append(append([]int(nil), first[:shared]...), tail[1:]...)
			if second[shared] == first[shared] {
				t.Fatalf("the prompts share more than %d tokens", shared)
			}
			r, err := s.GenerateIDs(ctx, second, WithMaxTokens(20), WithIgnoreEOS())
			if err != nil {
				t.Fatal(err)
			}
			if r.CachedTokens != shared {
				t.Errorf("%d cached tokens, want %d", r.CachedTokens, shared)
			}
			alone, err := m.GenerateIDs(ctx, second, WithMaxTokens(20), WithIgnoreEOS())
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(r.IDs, alone.IDs) {
				t.Errorf("with a copied part block: ids\n got %v\nwant %v", r.IDs, alone.IDs)
			}
			if got := s.cache.available(); got != s.cache.blocks {
				t.Errorf("%d of %d blocks available after every request ended", got, s.cache.blocks)
			}
		})
	}
}

// TestSchedulerPreemptedCachedTokens checks what a preempted request
// reports as cached: the prompt tokens it took from the prefix cache and
// never ran. Preempted after its first token, it reads everything again;
// when its blocks stayed cached it still reports only what it reused at
// admission, and when they were evicted meanwhile it reports 0, since it
// ran every prompt token itself. Its tokens are a session's either way.
func TestSchedulerPreemptedCachedTokens(t *testing.T) {
	ctx := context.Background()
	m := storiesModel(t)
	earlier, err := m.Encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her dog")
	if err != nil {
		t.Fatal(err)
	}
	tail, err := m.Encode("Tom had a red ball")
	if err != nil {
		t.Fatal(err)
	}
	prompt := append(append([]int(nil), earlier...), tail[1:]...)
	want, err := m.GenerateIDs(ctx, prompt, WithMaxTokens(20), WithIgnoreEOS())
	if err != nil {
		t.Fatal(err)
	}
	for _, evict := range []bool{false, true} {
		s := newTestScheduler(t, m, WithSlots(1), WithKVType(symb.F32))
		if _, err := s.GenerateIDs(ctx, earlier, WithMaxTokens(1)); err != nil {
			t.Fatal(err)
		}
		atAdmission := -1
		var once sync.Once
		res, err := s.GenerateIDs(ctx, prompt, WithMaxTokens(20), WithIgnoreEOS(), WithOnText(func(string) error {
			once.Do(func() { // the caller is here, not in a step: preempt its sequence
				s.mu.Lock()
				defer s.mu.Unlock()
				q := s.active[0]
				atAdmission = q.reused
				s.preempt(q)
				if evict {
					var all []int
					for range s.cache.available() {
						all = append(all, s.cache.alloc())
					}
					s.cache.release(all)
				}
			})
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		if atAdmission != len(earlier) {
			t.Fatalf("evict %v: %d prompt tokens reused at admission, want %d", evict, atAdmission, len(earlier))
		}
		wantCached := len(earlier)
		if evict {
			wantCached = 0
		}
		if s.preempted != 1 || res.CachedTokens != wantCached {
			t.Errorf("evict %v: %d preemptions, %d cached tokens; want 1 and %d", evict, s.preempted, res.CachedTokens, wantCached)
		}
		if !equalInts(res.IDs, want.IDs) {
			t.Errorf("evict %v: ids\n got %v\nwant %v", evict, res.IDs, want.IDs)
		}
	}
}

// TestSchedulerPreemptionBounded runs 24 requests of different lengths
// through 8 slots and a budget of 24 blocks, about a fifth of what they
// need together. Before preempted sequences were pinned, this workload
// preempted some sequences again after 2 or 3 new tokens (53 to 58
// preemptions): now a sequence stores preemptQuantum tokens between two
// preemptions, and every request still gives a session's tokens.
func TestSchedulerPreemptionBounded(t *testing.T) {
	m := storiesModel(t)
	ctx := context.Background()
	const n, gen = 24, 300
	s := newTestScheduler(t, m, WithSlots(8), WithKVType(symb.F32), WithStepTokens(8),
		WithKVCacheBytes(24*kvBlockTokens*kvBytesPerToken(m, symb.F32)), withPaused())
	type outcome struct {
		prompt   []int
		gen      int
		res      *Result
		preempts int
		err      error
	}
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range out {
		o := &out[i]
		o.prompt, o.err = m.Encode(fmt.Sprintf("Once upon a time %d", i))
		o.gen = gen / (1 + i%3)
		if o.err != nil {
			t.Fatal(o.err)
		}
		wg.Go(func() {
			a, err := s.Admit(ctx, o.prompt)
			if err != nil {
				o.err = err
				return
			}
			o.res, o.err = a.GenerateIDs(ctx, WithMaxTokens(o.gen), WithIgnoreEOS())
			s.mu.Lock()
			o.preempts = a.q.preempts
			s.mu.Unlock()
		})
	}
	waitQueued(s, n)
	s.start()
	wg.Wait()
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("request %d: %v", i, o.err)
		}
		want, err := m.GenerateIDs(ctx, o.prompt, WithMaxTokens(o.gen), WithIgnoreEOS())
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(o.res.IDs, want.IDs) {
			t.Errorf("request %d: ids\n got %v\nwant %v", i, o.res.IDs, want.IDs)
		}
		if bound := 1 + (len(o.prompt)+o.gen)/preemptQuantum; o.preempts > bound {
			t.Errorf("request %d: preempted %d times, more than %d", i, o.preempts, bound)
		}
	}
	if s.preempted == 0 {
		t.Fatal("no sequence was preempted")
	}
	if s.minGap != 0 && s.minGap < preemptQuantum {
		t.Errorf("a sequence was preempted again after %d new tokens, want at least %d", s.minGap, preemptQuantum)
	}
	if got := s.cache.available(); got != s.cache.blocks {
		t.Errorf("%d of %d blocks available after every request ended", got, s.cache.blocks)
	}
	t.Logf("%d preemptions, %d tokens run again, fewest tokens between two preemptions of a sequence %d", s.preempted, s.rerun, s.minGap)
}

// TestSchedulerReserve checks that places reserved before a prompt is known
// count against the queue's bound (the free slots and WithMaxQueue), that
// Release gives one back, and that Admit in a reserved place does not fail
// with ErrBusy.
func TestSchedulerReserve(t *testing.T) {
	m := storiesModel(t)
	ctx := context.Background()
	s := newTestScheduler(t, m, WithSlots(1), WithMaxQueue(1), withPaused())
	ids, _ := m.Encode("Once upon a time")
	r1, err := s.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(); !errors.Is(err, ErrBusy) {
		t.Errorf("third reservation with one slot and a queue of one: %v, want ErrBusy", err)
	}
	if _, err := s.Admit(ctx, ids); !errors.Is(err, ErrBusy) {
		t.Errorf("admission with every place reserved: %v, want ErrBusy", err)
	}
	r1.Release()
	r1.Release()
	r3, err := s.Reserve()
	if err != nil {
		t.Fatalf("reservation after a release: %v", err)
	}
	results := make(chan error, 2)
	for _, r := range []*Reservation{r2, r3} {
		go func() {
			a, err := r.Admit(ctx, ids)
			if err == nil {
				_, err = a.GenerateIDs(ctx, WithMaxTokens(3))
			}
			results <- err
		}()
	}
	waitQueued(s, 2)
	if _, err := r2.Admit(ctx, ids); err == nil {
		t.Error("a reservation admitted twice")
	}
	s.start()
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("admission in a reserved place: %v", err)
		}
	}
	if s.reserved != 0 {
		t.Errorf("%d places still reserved", s.reserved)
	}
}
