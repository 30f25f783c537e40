// Package waitgroup counts the goroutines working for a server so that its
// Shutdown can wait for them: a sync.WaitGroup whose Wait takes a context,
// and which, once closed, refuses new work (TryAdd) while the work already
// counted may still start goroutines of its own (Add).
//
// The count is one atomic integer: Add, TryAdd and Done take no lock, so
// they can be called for every request or every write. A lock is taken
// only when the count drops to zero while a Wait is in progress.
package waitgroup

import (
	"context"
	"sync"
	"sync/atomic"
)

// Group counts goroutines. Its zero value is an empty, open group. Its
// methods are safe for concurrent use; a Group must not be copied after
// first use.
type Group struct {
	n       atomic.Int64
	closed  atomic.Bool
	waiting atomic.Int64 // Wait calls in progress

	mu   sync.Mutex
	idle chan struct{} // closed when the count drops to zero; guarded by mu
}

// Add counts a goroutine, even once the group is closed: it is for work
// started on behalf of work already counted, which Wait waits for anyway.
func (g *Group) Add() { g.n.Add(1) }

// TryAdd counts a goroutine unless the group is closed, and reports
// whether it did. Once Wait has seen the count at zero after Close, no
// TryAdd succeeds.
func (g *Group) TryAdd() bool {
	// Count first, then check: a Wait that sees the count at zero after
	// Close is then sure that no TryAdd can still succeed.
	g.n.Add(1)
	if g.closed.Load() {
		g.Done()
		return false
	}
	return true
}

// Done ends a goroutine counted by Add or a successful TryAdd. It panics
// if the count goes below zero.
func (g *Group) Done() {
	n := g.n.Add(-1)
	if n < 0 {
		panic("waitgroup: negative count")
	}
	// Wait counts itself in waiting before it reads the count: either it
	// sees this zero, or this load sees it waiting.
	if n == 0 && g.waiting.Load() > 0 {
		g.mu.Lock()
		if g.idle != nil {
			close(g.idle)
			g.idle = nil
		}
		g.mu.Unlock()
	}
}

// Close makes TryAdd refuse from now on. Add still counts. Closing twice
// is harmless.
func (g *Group) Close() { g.closed.Store(true) }

// Wait returns nil once it sees the count at zero, or ctx's error if ctx
// is done first. Without Close, new goroutines may be counted as soon as
// it returns.
func (g *Group) Wait(ctx context.Context) error {
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	for {
		g.mu.Lock()
		if g.n.Load() == 0 {
			g.mu.Unlock()
			return nil
		}
		if g.idle == nil {
			g.idle = make(chan struct{})
		}
		idle := g.idle
		g.mu.Unlock()
		select {
		case <-idle:
			// The count was zero; it may have grown since: look again.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
