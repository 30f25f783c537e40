package engineio

import (
	"errors"
	"net/http"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
)

// canUpgradeLocked reports whether a polling session may start an upgrade:
// it is open, on polling, and no other upgrade is under way.
func (s *Session) canUpgradeLocked() bool {
	return s.state != stateClosed && s.transport == transport.NamePolling && s.probe == nil &&
		!s.srv.opts.DisableUpgrades
}

// serveUpgrade takes a WebSocket opened for an existing polling session and
// runs the upgrade: the client sends "2probe" and gets "3probe"; the pending
// poll is released with a noop; the client sends "5" and from then on the
// session's packets go over the WebSocket, starting with whatever was
// queued, so that nothing is lost or reordered. Anything else, or no "5"
// within UpgradeTimeout, drops the WebSocket and leaves the session on
// polling.
func (s *Session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	ws, err := s.srv.upgrader.Upgrade(w, r, nil, s.protocol)
	if err != nil {
		return // gorilla has answered the request
	}
	s.mu.Lock()
	if !s.canUpgradeLocked() {
		// As the reference does: the handshake completes, then the
		// connection is closed.
		s.mu.Unlock()
		ws.Close()
		return
	}
	s.probe = ws
	s.mu.Unlock()
	// On timeout the probe slot is freed before the connection closes, as
	// the reference does, so that a client that sees the close may try
	// again at once.
	timer := time.AfterFunc(s.srv.opts.UpgradeTimeout, func() { s.abortProbe(ws) })
	defer timer.Stop()

	for {
		p, err := ws.ReadPacket()
		if err != nil {
			s.abortProbe(ws)
			return
		}
		s.srv.counters.received(&p)
		switch {
		case p.Type == parser.PacketPing && string(p.Data) == "probe":
			pong := []parser.Packet{{Type: parser.PacketPong, Data: p.Data}}
			err := ws.WritePackets(pong, time.Now().Add(s.srv.opts.UpgradeTimeout))
			s.srv.counters.sent(pong)
			if err != nil {
				s.abortProbe(ws)
				return
			}
			s.mu.Lock()
			if s.probe == ws {
				s.probed = true
				s.kickLocked() // release the pending poll
			}
			s.mu.Unlock()
		case p.Type == parser.PacketUpgrade:
			if !timer.Stop() || !s.switchTo(ws) {
				s.abortProbe(ws)
				return
			}
			s.srv.log.Debug("engineio: upgraded", "sid", s.id)
			s.serveWebSocket(ws)
			return
		default:
			s.abortProbe(ws)
			return
		}
	}
}

// switchTo makes ws the session's transport.
func (s *Session) switchTo(ws *transport.WebSocket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probe != ws || s.state == stateClosed {
		return false
	}
	s.probe, s.probed = nil, false
	s.transport = transport.NameWebSocket
	s.ws = ws
	s.srv.counters.upgraded()
	// Release a poll that may still be pending.
	select {
	case s.pollWake <- struct{}{}:
	default:
	}
	if len(s.queue) > 0 || s.state == stateClosing {
		s.kickLocked()
	}
	if s.closeTimer != nil {
		s.closeTimer.Stop() // the WebSocket writer carries the close now
	}
	return true
}

// abortProbe drops a WebSocket whose upgrade failed.
func (s *Session) abortProbe(ws *transport.WebSocket) {
	s.mu.Lock()
	if s.probe == ws {
		s.probe, s.probed = nil, false
	}
	s.mu.Unlock()
	ws.Close()
}

// serveWebSocket reads the session's WebSocket in a goroutine of its own,
// so that the HTTP handler returns and net/http frees what it holds for
// the request (its buffers, the request, a deep stack): an idle connection
// keeps only a small reader goroutine and the WebSocket's read buffer.
func (s *Session) serveWebSocket(ws *transport.WebSocket) {
	s.srv.active.spawn()
	go func() {
		defer s.srv.active.leave()
		s.readLoop(ws)
	}()
}

// readLoop reads the packets of the session's WebSocket until it fails.
func (s *Session) readLoop(ws *transport.WebSocket) {
	for {
		p, err := ws.ReadPacket()
		if err != nil {
			reason := ReasonTransportClose
			switch {
			case errors.Is(err, parser.ErrInvalidPacket):
				reason = ReasonParseError
			case transport.IsProtocolError(err):
				reason = ReasonTransportError
			}
			// The session first, so that it can still send its close frame
			// (parse error), then the connection, if it was not the
			// session's.
			s.close(reason, closeNow)
			ws.Close()
			return
		}
		s.readMu.Lock()
		_ = s.onPacket(p)
		s.readMu.Unlock()
	}
}

// flush is the WebSocket writer: started when packets are queued, it
// writes until the queue is empty, then returns. When the session is
// closing, it ends with a close frame.
func (s *Session) flush(ws *transport.WebSocket) {
	defer s.srv.active.leave()
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
