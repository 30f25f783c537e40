package socketio

import (
	"sync"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/parser"
)

// Socket is one client's connection to one namespace. Its methods are
// safe for concurrent use. Handlers of one socket run one at a time, in
// the order the client sent the events, in a goroutine of the socket's
// that exists only while there is something to run; so a handler may wait
// (for an acknowledgement, say) without holding up the connection.
type Socket struct {
	// Set when the socket is made, then only read.
	id        string
	pid       string // private id, for connection state recovery
	nsp       *Namespace
	client    *client
	handshake adapter.Handshake
	recovered bool
	missed    [][]any // events missed while disconnected, sent with the CONNECT

	connectOnce sync.Once // the CONNECT acknowledgement (acknowledgeConnect)

	// mu guards the fields below it.
	mu        sync.Mutex
	connected bool
	// holding: the CONNECT acknowledgement has not gone out yet, and what
	// is written to the socket waits in held (see acknowledgeConnect).
	holding bool
	// Keeping the session while connected (keep.go); guarded by mu, and
	// each write by keepMu.
	keepDirty, keeping, keepGone bool
	keepTimer                    *time.Timer
	keepMu                       sync.Mutex

	// early: a restored socket not connected yet, which deliveries reach
	// (held until its CONNECT goes out); see Namespace.restoring.
	early   bool
	held    []heldPacket
	data    any
	dataSet bool
	// Listeners (listeners.go).
	handlers        []handlerEntry
	anyIn           []*anyEntry
	anyOut          []*outEntry
	middlewares     []PacketMiddleware
	onDisconnecting []func(Reason)
	onDisconnect    []func(Reason)
	onError         []func(error)
	// Acknowledgements the client owes (ack.go), by packet id.
	acks map[uint64]ack
	// The handler goroutine's work (dispatch.go).
	tasks   []task
	running bool
	// deferred: running, with the drain left to the end of the reader's
	// burst (schedule).
	deferred bool
	space    *sync.Cond // signalled when tasks shrink (MaxPendingEvents)

	// roomMu makes a join's check of MaxRoomsPerSocket and the join one
	// step (rooms.go).
	roomMu sync.Mutex
	nrooms int // the socket's rooms, its own included; guarded by roomMu
}

func newSocket(n *Namespace, c *client, auth any, session *adapter.Session) *Socket {
	s := &Socket{nsp: n, client: c, handshake: c.hs, running: true, holding: true}
	s.handshake.Auth = auth
	switch {
	case session != nil:
		s.id, s.pid = session.SID, session.PID
		s.data, s.dataSet = session.Data, true
		s.missed = session.MissedPackets
		s.recovered = true
		s.addRooms(session.Rooms)
	case c.conn.Protocol() == parser.ProtocolV3:
		s.id = c.conn.ID()
		if n.name != "/" {
			s.id = n.name + "#" + s.id
		}
	default:
		s.id = randid.New()
	}
	if s.pid == "" && n.server.opts.ConnectionStateRecovery != nil {
		s.pid = randid.New()
	}
	return s
}

// ID is the socket's id, also the name of a room it is alone in.
func (s *Socket) ID() string { return s.id }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake describes the connection: headers, query, address and the
// auth payload of the client's CONNECT.
func (s *Socket) Handshake() *adapter.Handshake { return &s.handshake }

// Conn is the Engine.IO session carrying the socket, shared by the
// client's sockets of other namespaces: its transport, its request, and
// Close to drop the whole connection.
func (s *Socket) Conn() engineio.Conn { return s.client.conn }

// Recovered reports whether the socket got its state back through
// connection state recovery.
func (s *Socket) Recovered() bool { return s.recovered }

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Data returns the value stored with SetData (restored with the socket
// by connection state recovery, and shown by FetchSockets).
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData stores a value with the socket. Multi-node adapters send it to
// other nodes as JSON or msgpack, so keep it to plain data.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data, s.dataSet = v, true
	s.mu.Unlock()
	s.keep()
	if obs := s.nsp.server.observed(); obs != nil {
		s.nsp.server.notifySocketDataSet(obs, s)
	}
}

// describe is the socket as FetchSockets shows it. Data that was never
// set shows as an empty object, as the reference's socket.data does.
func (s *Socket) describe() adapter.SocketInfo {
	s.mu.Lock()
	data := s.data
	if !s.dataSet {
		data = map[string]any{}
	}
	s.mu.Unlock()
	return adapter.SocketInfo{ID: s.id, Handshake: s.handshake, Rooms: s.Rooms(), Data: data}
}

// Disconnect disconnects the socket from its namespace
// (ReasonServerNamespaceDisconnect); with close, it closes the whole
// connection, disconnecting the client's sockets of every namespace.
func (s *Socket) Disconnect(close bool) {
	if !s.Connected() {
		return
	}
	if close {
		s.client.disconnectAll()
		return
	}
	s.writePacket(&parser.SocketPacket{Type: parser.SocketPacketDisconnect, Namespace: s.nsp.name})
	s.onClose(ReasonServerNamespaceDisconnect)
}
