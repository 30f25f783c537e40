package socketio

import (
	"context"
	"sync"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// task is a unit of work for a socket's handler goroutine: an event to
// dispatch, or, when ev is nil, the socket's disconnection.
type task struct {
	ev     *Event
	reason Reason
}

// onPacket handles a packet of the socket's namespace. It runs in the
// session's reading goroutine: acknowledgements are handled at once,
// events are queued for the socket's handlers.
func (s *Socket) onPacket(p *parser.SocketPacket) {
	switch p.Type {
	case parser.SocketPacketEvent, parser.SocketPacketBinaryEvent:
		ev := &Event{Name: p.Event, Args: Args(p.Args)}
		if p.HasID {
			ev.Ack = (&ackReply{s: s, id: p.ID}).send
		}
		s.schedule(task{ev: ev}, true)
	case parser.SocketPacketAck, parser.SocketPacketBinaryAck:
		if fn := s.takeAck(p.ID); fn != nil {
			fn(p.Args, nil)
		}
	case parser.SocketPacketDisconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	}
}

// dispatch runs the listeners, middlewares and handlers of an event.
func (s *Socket) dispatch(ev *Event) {
	s.mu.Lock()
	anyIn, mws, hs := s.anyIn, s.middlewares, s.handlers
	s.mu.Unlock()
	srv := s.nsp.server
	if obs := srv.observed(); obs != nil {
		srv.notifyEventReceived(obs, s, ev.Name, ev.Args)
	}
	for _, e := range anyIn {
		srv.callAny(e.fn, ev.Name, ev.Args)
	}
	if err := runMiddlewares(srv, mws, ev, "packet middleware"); err != nil {
		s.mu.Lock()
		onError := s.onError
		s.mu.Unlock()
		if len(onError) == 0 {
			srv.log.Warn("socketio: packet middleware refused an event", "event", ev.Name, "err", err)
		}
		for _, fn := range onError {
			srv.callError(fn, err)
		}
		return
	}
	if !s.Connected() {
		return
	}
	for _, e := range hs {
		if e.event == ev.Name {
			srv.callHandler(e.h, s.nsp.name, ev.Name, ev.Args, ev.Ack)
		}
	}
}

// schedule queues a task for the socket's handler goroutine, starting it
// when it is not running. With wait, it first waits while
// Options.MaxPendingEvents tasks are queued: the session's reader then
// stops reading this client until its handlers catch up.
//
// An event read in a burst (engineio.BurstHandler) does not start the
// handler goroutine: the socket's drain is deferred to the end of the
// burst, where the reader runs it itself once it has handed the reading
// on (client.EndBurst), which saves the hand-off.
func (s *Socket) schedule(t task, wait bool) {
	s.mu.Lock()
	for wait && s.connected && len(s.tasks) >= s.nsp.server.opts.MaxPendingEvents {
		if s.deferred {
			// Its drain waits for the end of this very burst: start it
			// (counted in work when it was deferred).
			s.deferred = false
			s.nsp.server.pool.Go(s.drainTask)
		}
		if s.space == nil {
			s.space = sync.NewCond(&s.mu)
		}
		s.space.Wait()
	}
	s.tasks = append(s.tasks, t)
	if s.running {
		s.mu.Unlock()
		return
	}
	s.running = true
	if wait && s.client.burst {
		s.deferred = true
		s.mu.Unlock()
		s.nsp.server.work.Add()
		s.client.deferred = append(s.client.deferred, s)
		return
	}
	s.mu.Unlock()
	s.startDrain()
}

// startDrain runs drain on a goroutine of the server's pool.
func (s *Socket) startDrain() {
	s.nsp.server.work.Add()
	s.nsp.server.pool.Go(s.drainTask)
}

// runDeferred runs the drain that schedule deferred to the end of a
// burst, in the caller's goroutine, unless it was started meanwhile.
func (s *Socket) runDeferred() {
	s.mu.Lock()
	if !s.deferred {
		s.mu.Unlock()
		return
	}
	s.deferred = false
	s.mu.Unlock()
	s.drainTask()
}

// drainTask is drain as a pool task.
func (s *Socket) drainTask() {
	defer s.nsp.server.work.Done()
	s.drain()
}

// drain runs the queued tasks until there are none.
func (s *Socket) drain() {
	for {
		s.mu.Lock()
		if len(s.tasks) == 0 {
			s.running = false
			s.tasks = nil
			s.mu.Unlock()
			return
		}
		t := s.tasks[0]
		s.tasks[0] = task{}
		s.tasks = s.tasks[1:]
		if s.space != nil {
			s.space.Signal()
		}
		s.mu.Unlock()
		if t.ev != nil {
			s.dispatch(t.ev)
		} else {
			s.cleanup(t.reason)
		}
	}
}

// onClose disconnects the socket. Pending acknowledgements fail at once;
// the disconnecting and disconnect handlers run after the handlers
// already queued.
func (s *Socket) onClose(reason Reason) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	acks := s.acks
	s.acks = nil
	if s.space != nil {
		s.space.Broadcast() // a reader waiting for room goes on
	}
	s.mu.Unlock()
	s.client.detach(s)
	for _, fn := range acks {
		fn(nil, ErrDisconnected)
	}
	s.schedule(task{reason: reason}, false)
}

// cleanup runs the disconnect handlers and forgets the socket.
func (s *Socket) cleanup(reason Reason) {
	srv := s.nsp.server
	s.mu.Lock()
	disconnecting, disconnect := s.onDisconnecting, s.onDisconnect
	s.mu.Unlock()
	for _, fn := range disconnecting {
		srv.callReason(fn, reason)
	}
	s.stopKeeping(recoverable[reason])
	if srv.opts.ConnectionStateRecovery != nil && recoverable[reason] {
		err := s.nsp.adapter.PersistSession(context.Background(), &adapter.Session{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data()})
		if err != nil {
			srv.log.Warn("socketio: cannot keep the session for recovery", "nsp", s.nsp.name, "sid", s.id, "err", err)
		}
	}
	s.leaveAll()
	s.nsp.remove(s)
	if obs := srv.observed(); obs != nil {
		srv.notifySocketDisconnected(obs, s, reason)
	}
	for _, fn := range disconnect {
		srv.callReason(fn, reason)
	}
	s.mu.Lock()
	s.handlers, s.anyIn, s.anyOut, s.middlewares = nil, nil, nil, nil
	s.onDisconnecting, s.onDisconnect, s.onError = nil, nil, nil
	s.mu.Unlock()
}
