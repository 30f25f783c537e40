package engineio

import (
	"time"

	"github.com/duplexio/duplex/parser"
)

// startHeartbeat arms the heartbeat: in v4 the server pings every
// PingInterval; in v3 the client must ping within PingInterval+PingTimeout.
func (s *Session) startHeartbeat() {
	d := s.srv.opts.PingInterval
	if s.protocol == parser.ProtocolV3 {
		d += s.srv.opts.PingTimeout
	}
	s.mu.Lock()
	if s.state != stateClosed {
		s.due = time.Now().Add(d)
		s.heartbeat = time.AfterFunc(d, s.onHeartbeat)
	}
	s.mu.Unlock()
}

// resetHeartbeatLocked sets the heartbeat to fall due in d. Caller holds
// s.mu.
func (s *Session) resetHeartbeatLocked(d time.Duration) {
	if s.heartbeat == nil {
		return
	}
	s.due = time.Now().Add(d)
	s.heartbeat.Reset(d)
}

// onHeartbeat runs when the heartbeat timer fires. It closes a session
// whose write is stuck (ReasonTransportError) or whose client did not ping
// (v3) or answer the last ping (v4) in time (ReasonPingTimeout); otherwise
// it pings the v4 client and gives it PingTimeout to answer.
//
// A closing session keeps its heartbeat, pinging no more: a polling client
// that never comes back for its close packet is gone when an open
// session's would be (PingInterval+PingTimeout after its last sign of
// life, as with the reference), not after the poll close delay on top.
// It keeps the reason it is closing for.
func (s *Session) onHeartbeat() {
	s.mu.Lock()
	if s.state == stateClosed || time.Now().Before(s.due) {
		s.mu.Unlock() // closed, or the timer was reset meanwhile
		return
	}
	if s.writeStuckLocked() {
		s.mu.Unlock()
		s.close(ReasonTransportError, closeNow)
		return
	}
	if s.protocol == parser.ProtocolV4 && !s.awaitingPong {
		s.awaitingPong, s.refreshed = true, false
		if s.state == stateOpen {
			s.enqueueLocked(parser.Packet{Type: parser.PacketPing})
		}
		s.resetHeartbeatLocked(s.srv.opts.PingTimeout)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.close(ReasonPingTimeout, closeNow)
}

// writeStuckLocked reports whether the WebSocket writer has been writing
// the same batch since the previous heartbeat: a client that stopped
// reading, whose connection would otherwise hold the writer forever. It is
// what bounds a write, at one to two heartbeat periods.
func (s *Session) writeStuckLocked() bool {
	if s.sending == 0 {
		s.seen = 0
		return false
	}
	if s.seen == s.batches {
		return true
	}
	s.seen = s.batches
	return false
}

// lifeWindow is how long a client may go without a sign of life before
// its session ends: PingInterval+PingTimeout. It also bounds how long one
// polling request may take to arrive or to be answered.
func (s *Server) lifeWindow() time.Duration {
	return s.opts.PingInterval + s.opts.PingTimeout
}
