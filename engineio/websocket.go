package engineio

import (
	"errors"
	"os"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
)

// serveWebSocket reads the session's WebSocket in goroutines of its own,
// so that the HTTP handler returns and net/http frees what it holds for
// the request (its buffers, the request, a deep stack).
//
// Where the connection can be watched without a goroutine (Linux, a plain
// socket), an idle connection has none: it waits in the transport's epoll
// set, and a goroutine is started when bytes come (wsReader.wake). A
// connection that gets traffic again within activeGap is active: it then
// waits in the runtime's poller, as any Go connection does, which costs a
// goroutine and nothing per burst, until it has been idle for activeIdle.
func (s *Session) serveWebSocket(ws *transport.WebSocket) {
	s.srv.active.Add()
	if ws.CanWait() {
		r := &wsReader{s: s, ws: ws}
		r.ready = r.wake
		if !ws.OnReadable(r.ready) {
			go s.waitWebSocket(ws)
		}
		return
	}
	go func() {
		defer s.srv.active.Done()
		s.readLoop(ws)
	}()
}

const (
	// activeGap: a watched connection whose watch fires again within it
	// becomes active.
	activeGap = time.Second
	// activeIdle: an active connection idle for this long goes back to
	// the watch (give or take activeRefresh).
	activeIdle = 2 * time.Second
	// activeRefresh: how often an active connection moves its read
	// deadline, rather than once per burst.
	activeRefresh = time.Second
)

// wsReader is the reading state of a watched WebSocket. One goroutine at
// a time has it: the one reading the connection at the moment.
type wsReader struct {
	s      *Session
	ws     *transport.WebSocket
	ready  func()    // r.wake, made once
	wokeAt time.Time // when the watch last fired
	idleBy time.Time // the read deadline while active; zero when none
}

// wake is started by the watch when bytes have come: it handles every
// packet that has arrived, hands the reading on (to the watch, or to an
// active reader), and then runs what the session's handler deferred
// during the burst (BurstHandler): the handlers of the events it read,
// with no hand-off to another goroutine.
func (r *wsReader) wake() {
	s := r.s
	now := time.Now()
	active := now.Sub(r.wokeAt) < activeGap
	r.wokeAt = now
	bh := s.startBurst()
	ok := s.readBurst(r.ws)
	after := s.endBurst(bh)
	switch {
	case !ok:
		s.srv.active.Done()
	case active:
		go r.active() // the count in s.srv.active goes with it
	default:
		r.ws.OnReadable(r.ready) // and with it
	}
	if after != nil {
		after()
	}
}

// active is the reader of an active connection: one goroutine that reads
// packet after packet, waiting in the runtime's poller between them (with
// no buffer: a read that finds nothing gives its pooled buffer back before
// it waits), and keeps the stack that handling them grew for the next
// ones; idle for activeIdle, the connection goes back to the watch and the
// goroutine ends.
func (r *wsReader) active() {
	s, ws := r.s, r.ws
	for {
		if now := time.Now(); now.After(r.idleBy.Add(-activeRefresh)) {
			r.idleBy = now.Add(activeIdle)
			_ = ws.SetReadDeadline(r.idleBy)
		}
		p, err := ws.ReadPacket()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			r.idleBy = time.Time{}
			_ = ws.SetReadDeadline(time.Time{})
			ws.OnReadable(r.ready) // the count in s.srv.active goes with it
			return
		}
		if err != nil {
			s.readFailed(ws, err)
			s.srv.active.Done()
			return
		}
		s.receive(p)
	}
}

// waitWebSocket is the reader of a WebSocket that can be waited on without
// a read where it cannot be watched (WaitReadable without OnReadable): a
// goroutine that has done nothing but wait for the connection to become
// readable, so that an idle connection costs the smallest stack there is
// and no buffer. When bytes come, it handles every packet that has
// arrived, then hands the waiting to a fresh goroutine and ends, taking
// with it the stack that handling the packets grew.
func (s *Session) waitWebSocket(ws *transport.WebSocket) {
	if err := ws.WaitReadable(); err != nil {
		s.readFailed(ws, err)
		s.srv.active.Done()
		return
	}
	if !s.readBurst(ws) {
		s.srv.active.Done()
		return
	}
	go s.waitWebSocket(ws) // the count in s.srv.active goes with it
}

// startBurst tells the session's handler, if it is a BurstHandler, that a
// burst of reads begins, and returns it.
func (s *Session) startBurst() BurstHandler {
	s.mu.Lock()
	bh, _ := s.handler.(BurstHandler)
	s.mu.Unlock()
	if bh != nil {
		s.readMu.Lock()
		bh.StartBurst()
		s.readMu.Unlock()
	}
	return bh
}

// endBurst ends the burst startBurst began, returning the handler's
// deferred work.
func (s *Session) endBurst(bh BurstHandler) func() {
	if bh == nil {
		return nil
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	return bh.EndBurst()
}

// readBurst handles every packet that has arrived on ws. It reports false
// when the read failed and the session has ended.
func (s *Session) readBurst(ws *transport.WebSocket) bool {
	for {
		p, err := ws.ReadPacketNow()
		if errors.Is(err, transport.ErrWouldBlock) {
			return true
		}
		if err != nil {
			s.readFailed(ws, err)
			return false
		}
		s.receive(p)
	}
}

// receive handles one packet read from the session's WebSocket, one reader
// at a time.
func (s *Session) receive(p parser.Packet) {
	s.readMu.Lock()
	_ = s.onPacket(p)
	s.readMu.Unlock()
}

// readLoop reads the packets of the session's WebSocket until it fails.
func (s *Session) readLoop(ws *transport.WebSocket) {
	for {
		p, err := ws.ReadPacket()
		if err != nil {
			s.readFailed(ws, err)
			return
		}
		s.receive(p)
	}
}

// readFailed ends the session whose WebSocket read failed, with the reason
// the reference gives for err.
func (s *Session) readFailed(ws *transport.WebSocket, err error) {
	reason := ReasonTransportClose
	switch {
	case errors.Is(err, parser.ErrInvalidPacket):
		reason = ReasonParseError
	case transport.IsProtocolError(err):
		reason = ReasonTransportError
	}
	// The session first, then the connection, with a close frame unless
	// it has one already (the answer to the client's, or the one of a
	// protocol error): a parse error, for one, is told to the client.
	s.close(reason, closeNow)
	ws.Shut()
}

// flush is the WebSocket writer: started when packets are queued, it
// writes until the queue is empty, then returns. When the session is
// closing, it ends with a close frame.
func (s *Session) flush(ws *transport.WebSocket) {
	defer s.srv.active.Done()
	for {
		s.mu.Lock()
		if s.state == stateClosed || s.ws != ws {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		size := s.queued + s.unsent
		batch := s.takeLocked()
		if len(batch) == 0 && s.unsent == 0 {
			s.flushing = false
			closing, reason := s.state == stateClosing, s.reason
			s.mu.Unlock()
			if closing {
				_ = ws.WriteClose()
				s.finish(reason)
			}
			return
		}
		s.sending = size
		s.unsent = 0 // written first by WritePackets
		s.batches++
		s.mu.Unlock()
		// No write deadline (gorilla would arm a timer for every frame):
		// the heartbeat closes a session whose write is stuck.
		err := ws.WritePackets(batch, time.Time{})
		s.recycle(batch)
		s.mu.Lock()
		s.sending = 0
		s.mu.Unlock()
		if err != nil {
			s.mu.Lock()
			s.flushing = false
			s.mu.Unlock()
			s.close(ReasonTransportError, closeNow)
			return
		}
	}
}
