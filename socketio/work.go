package socketio

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// workGroup counts the goroutines that run handlers, so that Shutdown can
// wait for them.
type workGroup struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero while someone waits
}

func (w *workGroup) add() {
	w.mu.Lock()
	w.n++
	w.mu.Unlock()
}

func (w *workGroup) done() {
	w.mu.Lock()
	w.n--
	if w.n == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
	w.mu.Unlock()
}

// wait returns when no goroutine runs, or ctx is done.
func (w *workGroup) wait(ctx context.Context) error {
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return nil
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// safeCall runs user code, turning a panic into an error so that one
// handler cannot bring the server down.
func (s *Server) safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("socketio: panic in handler: %v", r)
			s.log.Error("socketio: handler panicked", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	return fn()
}

// ackContext bounds ctx by the timeout d, or else by the server's
// AckTimeout.
func (s *Server) ackContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if d <= 0 {
		d = s.opts.AckTimeout
	}
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}
