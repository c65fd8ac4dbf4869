package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/symbc/symbc/runtime"
)

// WithScheduler runs generations in the slots of sch (continuous batching
// and the prompt-prefix cache) instead of one session each under
// WithMaxConcurrent. sch must run the served model and stay open while the
// handler is in use.
func WithScheduler(sch *runtime.Scheduler) Option {
	return func(c *config) error { c.sched = sch; return nil }
}

// retryAfter is the Retry-After (seconds) of a busy answer.
const retryAfter = "1"

// generator runs one admitted generation.
type generator func(ctx context.Context, opts ...runtime.GenOption) (*runtime.Result, error)

// reserve takes a place among the requests waiting for a generation slot
// before the request is read and its prompt tokenized (nil without a
// scheduler), or returns the busy answer: a request the server must refuse
// costs no tokenization, and requests being read count against the queue.
func (s *server) reserve(w http.ResponseWriter) (*runtime.Reservation, *apiError) {
	if s.cfg.sched == nil {
		return nil, nil
	}
	res, err := s.cfg.sched.Reserve()
	if err != nil {
		return nil, busy(w, err)
	}
	return res, nil
}

// busy is the answer to a request the scheduler cannot queue.
func busy(w http.ResponseWriter, err error) *apiError {
	w.Header().Set("Retry-After", retryAfter)
	return &apiError{status: http.StatusServiceUnavailable, Type: errServer, Code: "server_busy",
		Message: fmt.Sprintf("The server is busy (%v); retry after %s s", err, retryAfter)}
}

// admit waits for a generation slot for ids, in the place res reserved.
// It returns the generation to run and the function that gives the slot
// back, or the error to answer (nil with a nil generator when the client
// went away while waiting).
func (s *server) admit(ctx context.Context, w http.ResponseWriter, res *runtime.Reservation, ids []int) (generator, func(), *apiError) {
	if s.cfg.sched == nil {
		release, err := s.acquire(ctx)
		if err != nil {
			return nil, nil, nil
		}
		return func(ctx context.Context, opts ...runtime.GenOption) (*runtime.Result, error) {
			return s.m.GenerateIDs(ctx, ids, opts...)
		}, release, nil
	}
	a, err := res.Admit(ctx, ids)
	switch {
	case err == nil:
		return a.GenerateIDs, a.Release, nil
	case ctx.Err() != nil:
		return nil, nil, nil
	case errors.Is(err, runtime.ErrBusy), errors.Is(err, runtime.ErrSchedulerClosed):
		return nil, nil, busy(w, err)
	case errors.Is(err, runtime.ErrKVCacheFull), errors.Is(err, runtime.ErrContextFull):
		return nil, nil, badRequest("", "context_length_exceeded", "%v", err)
	}
	return nil, nil, &apiError{status: http.StatusInternalServerError, Type: errServer, Message: err.Error()}
}
