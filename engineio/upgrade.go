package engineio

import (
	"net/http"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
)

// canUpgradeLocked reports whether a polling session may start an upgrade:
// it is open, on polling, and no other upgrade is under way.
func (s *Session) canUpgradeLocked() bool {
	return s.state != stateClosed && s.transport == TransportPolling && s.probe == nil &&
		!s.remoteUpgrade && !s.relayed && !s.srv.opts.DisableUpgrades
}

// serveUpgrade takes a WebSocket opened for an existing polling session and
// runs the upgrade: the client sends "2probe" and gets "3probe"; the pending
// poll is released with a noop; the client sends "5" and from then on the
// session's packets go over the WebSocket, starting with whatever was
// queued, so that nothing is lost or reordered. Anything else, or no "5"
// within UpgradeTimeout, drops the WebSocket and leaves the session on
// polling.
func (s *Session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	var header http.Header
	if s.srv.opts.Headers != nil {
		header = http.Header{}
		s.srv.responseHeaders(header, r, false)
	}
	ws, err := s.srv.upgrader.Upgrade(w, r, header, s.protocol)
	if err != nil {
		return // gorilla has answered the request
	}
	s.mu.Lock()
	if !s.canUpgradeLocked() {
		// As the reference does: the handshake completes, then the
		// connection is closed, with a close frame.
		s.mu.Unlock()
		ws.Shut()
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
			probing := s.probe == ws
			if probing {
				s.probed = true
				s.kickLocked() // release the pending poll
			}
			s.mu.Unlock()
			if probing {
				s.notify(&s.onUpgrading, TransportWebSocket)
			}
		case p.Type == parser.PacketUpgrade:
			if !timer.Stop() || !s.switchTo(ws) {
				s.abortProbe(ws)
				return
			}
			s.srv.log.Debug("engineio: upgraded", "sid", s.id)
			s.notify(&s.onUpgrade, TransportWebSocket)
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
	s.transport = TransportWebSocket
	s.ws = ws
	s.srv.counters.upgraded()
	// Release a poll that may still be pending.
	s.wakePollLocked()
	if len(s.queue) > 0 || s.state == stateClosing {
		s.kickLocked()
	}
	if s.closeTimer != nil {
		s.closeTimer.Stop() // the WebSocket writer carries the close now
	}
	return true
}

// abortProbe closes a WebSocket whose upgrade failed, with a close frame
// as the reference closes it (unless it has one already: the answer to
// the client's, or the one of a protocol error).
func (s *Session) abortProbe(ws *transport.WebSocket) {
	s.mu.Lock()
	if s.probe == ws {
		s.probe, s.probed = nil, false
	}
	s.mu.Unlock()
	ws.Shut()
}
