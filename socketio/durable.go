package socketio

import (
	"context"
	"errors"
	"time"

	"github.com/duplexio/duplex/adapter"
)

// Keeping sessions while sockets are connected (RecoveryOptions
// .KeepWhileConnected): a change to a socket's rooms or data marks it, and
// one goroutine per marked socket writes its session until it is
// unmarked; a timer marks it again every half MaxDisconnectionDuration, so
// that a kept session never expires while its socket lives.

// keeps reports whether the server keeps sessions of connected sockets:
// KeepWhileConnected, with an adapter that can drop them again
// (adapter.SessionForgetter).
func (s *Socket) keeps() bool {
	return s.pid != "" && s.nsp.keepsSessions()
}

func (n *Namespace) keepsSessions() bool {
	r := n.server.opts.ConnectionStateRecovery
	if r == nil || !r.KeepWhileConnected {
		return false
	}
	_, ok := n.adapter.(adapter.SessionForgetter)
	return ok
}

// keep marks the socket's session to be written.
func (s *Socket) keep() {
	if !s.keeps() {
		return
	}
	s.mu.Lock()
	if !s.connected || s.keepGone {
		s.mu.Unlock()
		return
	}
	s.keepDirty = true
	if s.keeping {
		s.mu.Unlock()
		return
	}
	s.keeping = true
	s.nsp.server.work.Add()
	s.mu.Unlock()
	go s.keepLoop()
}

// keepLoop writes the session while it is marked. Each write holds
// keepMu, which the disconnection takes before its own last write, so that
// no write of the connected socket's state lands after it.
func (s *Socket) keepLoop() {
	defer s.nsp.server.work.Done()
	srv := s.nsp.server
	for {
		s.keepMu.Lock()
		s.mu.Lock()
		if !s.keepDirty || !s.connected || s.keepGone {
			s.keeping = false
			s.mu.Unlock()
			s.keepMu.Unlock()
			return
		}
		s.keepDirty = false
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.nsp.adapter.PersistSession(ctx, &adapter.Session{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data()})
		cancel()
		s.keepMu.Unlock()
		if err != nil {
			srv.log.Warn("socketio: cannot keep the session of a connected socket", "nsp", s.nsp.name, "sid", s.id, "err", err)
		}
	}
}

// startKeeping writes the session of a socket that has just connected,
// and has it written again every half MaxDisconnectionDuration.
func (s *Socket) startKeeping() {
	if !s.keeps() {
		return
	}
	every := s.nsp.server.opts.ConnectionStateRecovery.MaxDisconnectionDuration / 2
	s.mu.Lock()
	s.keepTimer = time.AfterFunc(every, func() {
		s.keep()
		s.mu.Lock()
		if s.keepTimer != nil && !s.keepGone {
			s.keepTimer.Reset(every)
		}
		s.mu.Unlock()
	})
	s.mu.Unlock()
	s.keep()
}

// stopKeeping ends the keeping when the socket disconnects: its session is
// written one last time by cleanup when it may be recovered, and dropped
// otherwise.
func (s *Socket) stopKeeping(recoverableClose bool) {
	if !s.keeps() {
		return
	}
	s.keepMu.Lock() // a write in progress ends first
	defer s.keepMu.Unlock()
	s.mu.Lock()
	s.keepGone = true
	if s.keepTimer != nil {
		s.keepTimer.Stop()
		s.keepTimer = nil
	}
	s.mu.Unlock()
	if recoverableClose {
		return
	}
	if f, ok := s.nsp.adapter.(adapter.SessionForgetter); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.ForgetSession(ctx, s.pid); err != nil {
			s.nsp.server.log.Warn("socketio: cannot drop a kept session", "nsp", s.nsp.name, "sid", s.id, "err", err)
		}
	}
}

// Flush returns once every broadcast of the namespace made before it has
// left this node for the others, when its adapter queues them
// (adapter.Flusher: the Redis adapters); at once otherwise. A handler that
// acknowledges a message it broadcast only after Flush never acknowledges
// one that a node crash keeps from the cluster.
func (n *Namespace) Flush(ctx context.Context) error {
	var errs []error
	for _, t := range n.targets() {
		if f, ok := t.adapter.(adapter.Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Flush is the main namespace's Flush.
func (s *Server) Flush(ctx context.Context) error { return s.main.Flush(ctx) }
