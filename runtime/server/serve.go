package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// errShutdown is the cause of the requests' contexts when Serve stops
// them: handlers tell it from a client that went away, end streams with an
// error event and log the request as stopped by the shutdown.
var errShutdown = errors.New("the server is shutting down")

// finalWrite is how long stopped handlers get to write their last event
// before the connections are closed.
const finalWrite = 2 * time.Second

// Serve serves h on l until ctx ends, then shuts down gracefully: it stops
// accepting connections, gives running requests up to grace to finish, and
// then cancels the generations still going (streams end with an error
// event). It returns only after every handler has returned, so the caller
// may close the model right after.
func Serve(ctx context.Context, l net.Listener, h http.Handler, grace time.Duration) error {
	// Requests get a context that outlives ctx by the grace period.
	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelBase(nil)
	var running sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			running.Add(1)
			defer running.Done()
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()

	select {
	case err := <-done:
		running.Wait()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		cancelBase(errShutdown)
		finished := make(chan struct{})
		go func() { running.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(finalWrite):
		}
		err = srv.Close()
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	running.Wait()
	return err
}
