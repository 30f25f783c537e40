package engineio

import (
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/vmihailenco/msgpack/v5"
)

// The node that holds a session (its owner) answers the other nodes'
// requests for it.

// remotePoll is a GET that another node holds for a session of this one:
// its answer goes to that node over the bus (a DRAIN message). A relay is
// the WebSocket another node accepted for the session: it stays pending,
// and every batch goes to it.
type remotePoll struct {
	c     *cluster
	sid   string
	node  string
	relay bool
}

func (p *remotePoll) answer(batch []parser.Packet, _ time.Time) error {
	return p.c.publish(p.node, msgDrain, 0, &drainData{SID: p.sid, Packets: toBusPackets(batch)})
}

func (p *remotePoll) drop() {}

func (p *remotePoll) isRelay() bool { return p.relay }

// sessionFor decodes a message's data into d and returns the session of
// this node that *sid (a field of d) names, or nil.
func (c *cluster) sessionFor(m *busMessage, d any, sid *string) *Session {
	if msgpack.Unmarshal(m.Data, d) != nil || *sid == "" {
		return nil
	}
	return c.srv.Session(*sid)
}

// onLock answers another node asking for a session of this one, as the
// Node implementation decides: a POST while the session is on polling; a
// GET while no other GET is pending; a WebSocket while the session is on
// polling with no upgrade under way. A node that does not hold the
// session stays silent.
func (c *cluster) onLock(m *busMessage) {
	var d lockData
	s := c.sessionFor(m, &d, &d.SID)
	if s == nil {
		return
	}
	s.mu.Lock()
	open := s.state == stateOpen && s.transport == TransportPolling
	var ok bool
	switch {
	case d.TransportName == "polling" && d.Type == "write":
		ok = open
	case d.TransportName == "polling":
		ok = open && !s.polling
		if ok {
			// The GET is pending from now on, before the answer goes: a
			// packet sent meanwhile waits for it.
			s.polling = true
		}
	case d.TransportName == "websocket":
		ok = open && s.canUpgradeLocked() && !s.remoteUpgrade && !s.relayed
		if ok {
			s.remoteUpgrade = true
		}
	}
	s.mu.Unlock()
	if err := c.publish(m.SenderID, msgLockResponse, m.RequestID, &successData{Success: ok}); err != nil {
		c.srv.log.Debug("engineio: cluster publish failed", "err", err)
	}
	if !ok {
		return
	}
	switch d.TransportName {
	case "polling":
		if d.Type != "write" {
			s.mu.Lock()
			s.held = &remotePoll{c: c, sid: d.SID, node: m.SenderID}
			s.mu.Unlock()
			s.answerHeld()
		}
	case "websocket":
		// The client's pending poll is released with a noop after a while,
		// so that it pauses polling and finishes the upgrade on the other
		// node; an upgrade that node never reports on ends after
		// UpgradeTimeout.
		time.AfterFunc(c.opts.NoopUpgradeInterval, func() {
			s.mu.Lock()
			if s.remoteUpgrade {
				s.probed = true
				s.kickLocked()
			}
			s.mu.Unlock()
		})
		time.AfterFunc(c.srv.opts.UpgradeTimeout+c.opts.ResponseTimeout, func() {
			s.mu.Lock()
			if s.remoteUpgrade {
				s.remoteUpgrade, s.probed = false, false
			}
			s.mu.Unlock()
		})
	}
}

// onPacket takes in a packet another node received for a session of this
// one (from a POST or a relayed WebSocket).
func (c *cluster) onPacket(m *busMessage) {
	var d packetData
	s := c.sessionFor(m, &d, &d.SID)
	if s == nil {
		return
	}
	p, ok := fromBus(d.Packet)
	if !ok {
		return
	}
	s.readMu.Lock()
	_ = s.onPacket(p)
	s.readMu.Unlock()
}

// onClose ends a session of this one whose GET or WebSocket another node
// lost.
func (c *cluster) onClose(m *busMessage) {
	var d closeData
	s := c.sessionFor(m, &d, &d.SID)
	if s == nil {
		return
	}
	reason := closeReason(d.Reason)
	s.mu.Lock()
	h := s.held
	s.mu.Unlock()
	if rp, ok := h.(*remotePoll); ok && rp.node == m.SenderID {
		s.heldGone(h, reason)
		return
	}
	s.close(reason, closeNow)
}

// onUpgrade hears from the node that accepted a WebSocket for a session
// of this one: the session's packets go to that node from now on, for
// good (the session does not move: its sockets are here).
func (c *cluster) onUpgrade(m *busMessage) {
	var d successData
	s := c.sessionFor(m, &d, &d.SID)
	if s == nil {
		return
	}
	s.mu.Lock()
	granted := s.remoteUpgrade
	s.remoteUpgrade, s.probed = false, false
	ok := granted && d.Success && s.state == stateOpen
	if ok {
		s.relayed = true
		s.srv.counters.upgraded()
	}
	s.mu.Unlock()
	if err := c.publish(m.SenderID, msgUpgradeResponse, m.RequestID, &upgradeResponseData{Packets: []busPacket{}}); err != nil {
		c.srv.log.Debug("engineio: cluster publish failed", "err", err)
	}
	if !ok {
		return
	}
	s.mu.Lock()
	if s.held != nil {
		// A GET still pending somewhere: it ends with the relay's first
		// answer.
		old := s.held
		s.held = nil
		s.mu.Unlock()
		old.drop()
		s.mu.Lock()
	}
	s.held = &remotePoll{c: c, sid: d.SID, node: m.SenderID, relay: true}
	s.polling = true
	s.mu.Unlock()
	s.answerHeld()
}
