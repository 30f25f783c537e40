package engineio

import (
	"errors"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
)

// serveWebSocket reads the session's WebSocket in a goroutine of its own,
// so that the HTTP handler returns and net/http frees what it holds for
// the request (its buffers, the request, a deep stack).
func (s *Session) serveWebSocket(ws *transport.WebSocket) {
	s.srv.active.Add()
	if ws.CanWait() {
		var ready func()
		ready = func() { s.readReady(ws, ready) }
		if !ws.OnReadable(ready) {
			go s.waitWebSocket(ws)
		}
		return
	}
	go func() {
		defer s.srv.active.Done()
		s.readLoop(ws)
	}()
}

// waitWebSocket is the reader of a WebSocket that can be waited on without
// a read: a goroutine that has done nothing but wait for the connection to
// become readable, so that an idle connection costs the smallest stack
// there is and no buffer. When bytes come, it handles every packet that
// has arrived, then hands the waiting to a fresh goroutine and ends,
// taking with it the stack that handling the packets grew.
func (s *Session) waitWebSocket(ws *transport.WebSocket) {
	if err := ws.WaitReadable(); err != nil {
		s.readFailed(ws, err)
		s.srv.active.Done()
		return
	}
	bh := s.startBurst()
	ok := s.readBurst(ws)
	after := s.endBurst(bh)
	if ok {
		go s.waitWebSocket(ws)
	} else {
		s.srv.active.Done()
	}
	if after != nil {
		after()
	} // the count in s.srv.active goes with it
}

// readReady is the reader of a watched WebSocket (OnReadable), started
// when bytes have come: it handles every packet that has arrived, arms the
// watch again, so that between bursts the connection costs no goroutine at
// all, and then runs what the handler deferred during the burst
// (BurstHandler). ready is the function it arms again: itself.
func (s *Session) readReady(ws *transport.WebSocket, ready func()) {
	bh := s.startBurst()
	ok := s.readBurst(ws)
	after := s.endBurst(bh)
	if ok {
		ws.OnReadable(ready) // the count in s.srv.active goes with it
	} else {
		s.srv.active.Done()
	}
	if after != nil {
		after()
	}
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
		s.readMu.Lock()
		_ = s.onPacket(p)
		s.readMu.Unlock()
	}
}

// readLoop reads the packets of the session's WebSocket until it fails.
func (s *Session) readLoop(ws *transport.WebSocket) {
	for {
		p, err := ws.ReadPacket()
		if err != nil {
			s.readFailed(ws, err)
			return
		}
		s.readMu.Lock()
		_ = s.onPacket(p)
		s.readMu.Unlock()
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
	// The session first, so that it can still send its close frame (parse
	// error), then the connection, if it was not the session's.
	s.close(reason, closeNow)
	ws.Close()
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
