package engineio

import (
	"iter"
	"sync/atomic"

	"github.com/duplexio/duplex/parser"
)

// Stats is a snapshot of a server's figures, returned by Server.Stats.
// Sessions are counted from their handshake until they close; the other
// figures are counters that start at zero with the server and only grow.
//
// Packets and bytes count Engine.IO packets after the handshake, whatever
// the transport: messages, pings, pongs, noops, close packets and the
// upgrade's probes. The handshake's open packet is left out (Handshakes
// counts those). A packet's size is one byte for its type plus its data,
// as in the text encoding, binary data counted raw: the size before base64,
// compression, HTTP and WebSocket framing, the polling payload's separators
// and the Socket.IO layer's encoding (which is inside the data). It is the
// size Options.MaxQueueBytes counts.
type Stats struct {
	// Sessions is the number of open sessions, PollingSessions plus
	// WebSocketSessions.
	Sessions int
	// PollingSessions is the number of open sessions on long-polling.
	PollingSessions int
	// WebSocketSessions is the number of open sessions on WebSocket,
	// whether opened over it or upgraded to it.
	WebSocketSessions int

	// Handshakes counts the sessions opened.
	Handshakes uint64
	// Upgrades counts the sessions moved from polling to WebSocket.
	Upgrades uint64
	// PacketsIn counts the packets read from clients.
	PacketsIn uint64
	// PacketsOut counts the packets written to clients (or handed to a
	// transport whose write then failed).
	PacketsOut uint64
	// BytesIn is the size of the packets read from clients.
	BytesIn uint64
	// BytesOut is the size of the packets written to clients.
	BytesOut uint64
	// VolatileDropped counts the volatile packets dropped because the
	// client could not take them at once (SendOptions.Volatile), a packet
	// counted once however many messages it was made of.
	VolatileDropped uint64
	// Closes counts the closed sessions by reason; Closes.SlowConsumer is
	// the number of clients disconnected for falling behind.
	Closes Closes
}

// Closes counts closed sessions by close reason, one field per Reason.
type Closes struct {
	TransportClose uint64 // ReasonTransportClose
	TransportError uint64 // ReasonTransportError
	PingTimeout    uint64 // ReasonPingTimeout
	ParseError     uint64 // ReasonParseError
	ForcedClose    uint64 // ReasonForcedClose
	ServerShutdown uint64 // ReasonServerShutdown
	SlowConsumer   uint64 // ReasonSlowConsumer
}

// reasons lists the close reasons in the order of Closes' fields.
var reasons = [...]Reason{
	ReasonTransportClose,
	ReasonTransportError,
	ReasonPingTimeout,
	ReasonParseError,
	ReasonForcedClose,
	ReasonServerShutdown,
	ReasonSlowConsumer,
}

func (c *Closes) fields() [len(reasons)]*uint64 {
	return [...]*uint64{
		&c.TransportClose,
		&c.TransportError,
		&c.PingTimeout,
		&c.ParseError,
		&c.ForcedClose,
		&c.ServerShutdown,
		&c.SlowConsumer,
	}
}

// Count is the number of sessions closed with reason r; 0 for a reason
// the server does not use.
func (c Closes) Count(r Reason) uint64 {
	if i := reasonIndex(r); i >= 0 {
		return *c.fields()[i]
	}
	return 0
}

// Total is the number of closed sessions.
func (c Closes) Total() uint64 {
	var n uint64
	for _, f := range c.fields() {
		n += *f
	}
	return n
}

// All yields every close reason with its count, zeros included, in a
// fixed order.
func (c Closes) All() iter.Seq2[Reason, uint64] {
	return func(yield func(Reason, uint64) bool) {
		for i, f := range c.fields() {
			if !yield(reasons[i], *f) {
				return
			}
		}
	}
}

func reasonIndex(r Reason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return -1
}

// Stats returns a snapshot of the server's figures. It takes no lock and
// allocates nothing: each figure is read atomically on its own, so a
// snapshot taken while sessions come and go may be off by the events in
// flight (a session counted in Handshakes but not yet in Sessions, say).
func (s *Server) Stats() Stats {
	c := &s.counters
	polling := int(c.polling.Load())
	ws := int(c.websocket.Load())
	st := Stats{
		Sessions:          polling + ws,
		PollingSessions:   polling,
		WebSocketSessions: ws,
		Handshakes:        c.handshakes.Load(),
		Upgrades:          c.upgrades.Load(),
		PacketsIn:         c.packetsIn.Load(),
		PacketsOut:        c.packetsOut.Load(),
		BytesIn:           c.bytesIn.Load(),
		BytesOut:          c.bytesOut.Load(),
		VolatileDropped:   c.dropped.Load(),
	}
	for i, f := range st.Closes.fields() {
		*f = c.closes[i].Load()
	}
	return st
}

// counters are the server's figures. The counters written for each packet
// are kept apart from the others, reading's from writing's, so that the
// goroutines reading and those writing do not contend for one cache line.
type counters struct {
	packetsIn atomic.Uint64
	bytesIn   atomic.Uint64
	_         [48]byte

	packetsOut atomic.Uint64
	bytesOut   atomic.Uint64
	_          [48]byte

	polling    atomic.Int64
	websocket  atomic.Int64
	handshakes atomic.Uint64
	upgrades   atomic.Uint64
	dropped    atomic.Uint64
	closes     [len(reasons)]atomic.Uint64
}

// packetSize is the size a packet is counted for.
func packetSize(p *parser.Packet) uint64 { return uint64(len(p.Data)) + 1 }

// received counts a packet read from a client.
func (c *counters) received(p *parser.Packet) {
	c.packetsIn.Add(1)
	c.bytesIn.Add(packetSize(p))
}

// sent counts the packets of a batch written to a client, the open packet
// of a handshake excepted.
func (c *counters) sent(batch []parser.Packet) {
	var n, size uint64
	for i := range batch {
		if batch[i].Type == parser.PacketOpen {
			continue
		}
		n++
		size += packetSize(&batch[i])
	}
	if n > 0 {
		c.packetsOut.Add(n)
		c.bytesOut.Add(size)
	}
}

// sentOne counts one packet written to a client, unless it is the open
// packet of a handshake.
func (c *counters) sentOne(p *parser.Packet) {
	if p.Type == parser.PacketOpen {
		return
	}
	c.packetsOut.Add(1)
	c.bytesOut.Add(packetSize(p))
}

// sessionGauge is the gauge of the sessions on a transport.
func (c *counters) sessionGauge(kind Transport) *atomic.Int64 {
	if kind == TransportWebSocket {
		return &c.websocket
	}
	return &c.polling
}

// opened counts a session that passed its handshake.
func (c *counters) opened(kind Transport) {
	c.handshakes.Add(1)
	c.sessionGauge(kind).Add(1)
}

// upgraded counts a session moved from polling to WebSocket.
func (c *counters) upgraded() {
	c.upgrades.Add(1)
	c.polling.Add(-1)
	c.websocket.Add(1)
}

// closed counts a session that closed on transport kind with reason.
func (c *counters) closed(kind Transport, reason Reason) {
	c.sessionGauge(kind).Add(-1)
	if i := reasonIndex(reason); i >= 0 {
		c.closes[i].Add(1)
	}
}
