package engineio

import (
	"net/http"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
)

// Handler is the layer above the engine (package socketio, or an
// application speaking raw Engine.IO). The server calls OnOpen once per
// session, after the handshake and before any message of the session is
// read; the SessionHandler it returns receives that session's messages and
// its close.
type Handler interface {
	// OnOpen is told of a new session. It returns the handler of the
	// session's messages and close; nil ignores them.
	OnOpen(c Conn) SessionHandler
}

// SessionHandler receives the events of one session. OnMessage calls are
// made one at a time, in the order the client sent the messages; OnClose is
// called exactly once, last. OnClose can run while an OnMessage call is
// still in progress on another goroutine (when a heartbeat times out, for
// instance).
type SessionHandler interface {
	// OnMessage is called for each message; binary says data is raw bytes
	// rather than UTF-8 text. data belongs to the handler.
	OnMessage(data []byte, binary bool)
	// OnClose is called once when the session closes.
	OnClose(reason Reason)
}

// BurstHandler is a SessionHandler that defers work while a burst of
// messages is read. A WebSocket session whose connection is watched
// without a goroutine (Linux) is read in bursts: when bytes come, one
// goroutine reads every message that has arrived, hands the reading on
// (the next burst gets a goroutine of its own), and then runs the function
// EndBurst returned, in the same goroutine. Work run there cannot delay
// the session's reads, its heartbeat or its later messages, and needs no
// hand-off to another goroutine.
type BurstHandler interface {
	SessionHandler
	// StartBurst is called before the burst's first OnMessage, and
	// EndBurst after its last, one at a time with OnMessage. The function
	// EndBurst returns, when not nil, is called once the reading has been
	// handed on (or the session has ended), exactly once.
	StartBurst()
	EndBurst() func()
}

// HandlerFunc is a Handler made of its OnOpen function.
type HandlerFunc func(c Conn) SessionHandler

// OnOpen calls f.
func (f HandlerFunc) OnOpen(c Conn) SessionHandler { return f(c) }

// SessionFuncs is a SessionHandler made of functions; nil ones are
// skipped.
type SessionFuncs struct {
	Message func(data []byte, binary bool)
	Close   func(reason Reason)
}

// OnMessage calls f.Message.
func (f SessionFuncs) OnMessage(data []byte, binary bool) {
	if f.Message != nil {
		f.Message(data, binary)
	}
}

// OnClose calls f.Close.
func (f SessionFuncs) OnClose(reason Reason) {
	if f.Close != nil {
		f.Close(reason)
	}
}

// Conn is a session as the layer above sees it. Session implements it; a
// test of the layer above can use a fake. Its methods are safe for
// concurrent use.
type Conn interface {
	// ID is the session id (the handshake's sid).
	ID() string
	// Protocol is the Engine.IO protocol revision of the client: 4, or 3
	// for socket.io 2.x clients.
	Protocol() int
	// Request is the handshake request, during OnOpen only (nil after);
	// see Session.Request.
	Request() *http.Request
	// Transport is the transport in use now.
	Transport() Transport
	// Done is closed when the session has closed.
	Done() <-chan struct{}
	// Send sends the messages of one packet, together and in order; see
	// Session.Send.
	Send(msgs []parser.Message, opts SendOptions) error
	// Close closes the session (ReasonForcedClose) once what is queued is
	// sent.
	Close()
	// OnUpgrading registers fn to be told that the client has started to
	// move the session to transport t; see Session.OnUpgrading.
	OnUpgrading(fn func(t Transport))
	// OnUpgrade registers fn to be told that the session has moved to
	// transport t; see Session.OnUpgrade.
	OnUpgrade(fn func(t Transport))
}

// SendOptions modify one packet sent with Send.
type SendOptions struct {
	// Volatile drops the packet, whole, when the client cannot take it at
	// once: over WebSocket, when it is more than a few packets behind
	// (64 KiB queued or being written, or half of Options.MaxQueueBytes
	// when that is less); over polling, when no GET is pending. Stats
	// counts it in VolatileDropped, and Send returns ErrDropped.
	Volatile bool
	// NoCompress sends the packet uncompressed even when compression is
	// on: as WebSocket frames without permessage-deflate, and, over
	// polling, in a response left uncompressed unless another message of
	// it may be compressed (as the reference decides).
	NoCompress bool
}

// Transport is an Engine.IO transport.
type Transport uint8

// The transports.
const (
	// TransportPolling is HTTP long-polling.
	TransportPolling Transport = iota + 1
	// TransportWebSocket is WebSocket, opened directly or upgraded to from
	// polling.
	TransportWebSocket
)

// String is the transport's name in the protocol: "polling" or
// "websocket".
func (t Transport) String() string {
	switch t {
	case TransportPolling:
		return transport.NamePolling
	case TransportWebSocket:
		return transport.NameWebSocket
	}
	return "unknown"
}

// transportNamed is the transport of a "transport" query parameter; 0 for
// an unknown name.
func transportNamed(name string) Transport {
	switch name {
	case transport.NamePolling:
		return TransportPolling
	case transport.NameWebSocket:
		return TransportWebSocket
	}
	return 0
}
