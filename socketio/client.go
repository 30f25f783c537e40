package socketio

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/netaddr"
	"github.com/duplexio/duplex/parser"
)

// client is the Socket.IO side of one Engine.IO session: it decodes the
// session's packets and hands them to the session's sockets, one per
// namespace. It is the session's engineio.SessionHandler.
type client struct {
	srv  *Server
	conn engineio.Conn
	dec  parser.Decoder // used by the session's reading goroutine only
	hs   adapter.Handshake

	mu           sync.Mutex
	sockets      []*Socket       // one per namespace; a slice, since most clients have one
	connecting   map[string]bool // namespaces whose middlewares run
	closed       bool
	connectTimer *time.Timer

	// burst is set while the session reads a burst of messages, and
	// deferred lists the sockets whose drain waits for its end
	// (engineio.BurstHandler). Both belong to the session's reader, which
	// reads them one goroutine at a time.
	burst    bool
	deferred []*Socket

	// rooms counts the rooms of all the connection's sockets, against
	// Options.MaxRoomsPerConnection (rooms.go).
	rooms atomic.Int64
}

func newClient(srv *Server, conn engineio.Conn) *client {
	c := &client{
		srv:  srv,
		conn: conn,
		dec:  srv.parser.NewDecoder(),
		hs:   newHandshake(conn),
	}
	// Under the lock: the timer's goroutine reads the field under it.
	c.mu.Lock()
	c.connectTimer = time.AfterFunc(srv.opts.ConnectTimeout, c.onConnectTimeout)
	c.mu.Unlock()
	return c
}

// newHandshake describes the session's handshake request.
func newHandshake(conn engineio.Conn) adapter.Handshake {
	r := conn.Request()
	uri := r.RequestURI // as received, without a copy
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	return adapter.Handshake{
		Headers: adapter.HeaderOf(r.Header),
		Address: netaddr.Host(r.RemoteAddr),
		XDomain: r.Header.Get("Origin") != "",
		Secure:  r.TLS != nil,
		Issued:  time.Now().UnixMilli(),
		URL:     uri,
	}
}

// onConnectTimeout closes a connection that joined no namespace in time.
func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := !c.closed && len(c.sockets) == 0
	c.mu.Unlock()
	if idle {
		c.srv.log.Debug("socketio: no namespace joined in time", "sid", c.conn.ID())
		c.close(ReasonForcedServerClose)
	}
}

// StartBurst implements engineio.BurstHandler: until EndBurst, the drains
// of the sockets that get events are deferred.
func (c *client) StartBurst() { c.burst = true }

// EndBurst implements engineio.BurstHandler: it returns the deferred
// drains, to run once the reader has handed reading on. The first runs
// in that goroutine; any other socket's runs on a goroutine of its own,
// so that a slow handler of one namespace never holds up another's.
func (c *client) EndBurst() func() {
	c.burst = false
	switch len(c.deferred) {
	case 0:
		return nil
	case 1:
		s := c.deferred[0]
		c.deferred[0] = nil
		c.deferred = c.deferred[:0]
		return s.runDeferred
	}
	list := c.deferred
	c.deferred = nil // the next burst may fill a new one while these run
	return func() {
		for _, s := range list[1:] {
			s.nsp.server.pool.Go(s.runDeferred)
		}
		list[0].runDeferred()
	}
}

// OnMessage implements engineio.SessionHandler: it handles one Engine.IO
// message. The session calls it from one goroutine at a time.
func (c *client) OnMessage(data []byte, binary bool) {
	p, err := c.dec.Add(data, binary)
	if err != nil {
		c.srv.log.Debug("socketio: invalid packet", "sid", c.conn.ID(), "err", err)
		c.close(ReasonParseError)
		return
	}
	if p == nil {
		return // more attachments to come
	}
	name := p.Namespace
	if name == "" {
		name = "/"
	}
	var query url.Values
	if c.conn.Protocol() == parser.ProtocolV3 {
		// socket.io 2.x clients put their query in the namespace name.
		if i := strings.IndexByte(name, '?'); i >= 0 {
			query, _ = url.ParseQuery(name[i+1:])
			name = name[:i]
		}
	}
	c.mu.Lock()
	s := c.socketOf(name)
	c.mu.Unlock()
	if p.Type == parser.SocketPacketConnect && s == nil {
		// The auth payload is an object, {} when the client sent none.
		auth := map[string]any{}
		if p.Payload != nil {
			_ = p.Payload.Decode(&auth)
		}
		for k := range query {
			auth[k] = query.Get(k)
		}
		c.connect(name, auth)
		return
	}
	if s == nil || p.Type == parser.SocketPacketConnect || p.Type == parser.SocketPacketConnectError {
		if c.srv.shuttingDown() {
			// Shutdown has disconnected the socket this packet was for
			// and closes the session next: its other sockets go with
			// "server shutting down", not for this late packet.
			return
		}
		// A packet for a namespace the client has not joined, a CONNECT
		// for one it has, or a packet only servers send: the reference
		// closes the connection.
		c.close(ReasonForcedServerClose)
		return
	}
	s.onPacket(p)
}

// shuttingDown reports whether Shutdown has begun.
func (s *Server) shuttingDown() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// connect joins the client to namespace name, running its middlewares in
// a goroutine of their own.
func (c *client) connect(name string, auth any) {
	c.mu.Lock()
	full := len(c.sockets)+len(c.connecting) >= c.srv.opts.MaxNamespacesPerConnection
	c.mu.Unlock()
	if full {
		c.srv.log.Debug("socketio: namespace refused", "sid", c.conn.ID(), "name", name, "err", "too many namespaces")
		c.writePacket(&parser.SocketPacket{Type: parser.SocketPacketConnectError, Namespace: name, Data: c.connectErrorData("Too many namespaces", nil)})
		return
	}
	n := c.srv.namespaceFor(name, auth)
	if n == nil {
		// An object whatever the protocol revision, as the reference does.
		c.writePacket(&parser.SocketPacket{Type: parser.SocketPacketConnectError, Namespace: name, Data: connectError{Message: "Invalid namespace"}})
		return
	}
	c.mu.Lock()
	if c.closed || c.socketOf(name) != nil || c.connecting[name] {
		c.mu.Unlock()
		n.pending.Add(-1)
		return
	}
	if c.connecting == nil {
		c.connecting = make(map[string]bool, 1)
	}
	c.connecting[name] = true
	c.mu.Unlock()
	c.srv.work.Add()
	go func() {
		defer c.srv.work.Done()
		n.add(c, auth)
	}()
}

// connectErrorData is a CONNECT_ERROR payload as the client's protocol
// revision expects it.
func (c *client) connectErrorData(message string, data any) any {
	if c.conn.Protocol() == parser.ProtocolV3 {
		if data != nil {
			return data
		}
		return message
	}
	return connectError{Message: message, Data: data}
}

type connectError struct {
	Message string `json:"message" msgpack:"message"`
	Data    any    `json:"data,omitempty" msgpack:"data,omitempty"`
}

// attach records the socket of a namespace once its middlewares passed;
// false when the client closed meanwhile.
func (c *client) attach(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.connecting, s.nsp.name)
	if c.closed {
		return false
	}
	c.sockets = append(c.sockets, s)
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	return true
}

// refused forgets a namespace whose middlewares refused the client.
func (c *client) refused(name string) {
	c.mu.Lock()
	delete(c.connecting, name)
	c.mu.Unlock()
}

// detach forgets a socket that left its namespace.
func (c *client) detach(s *Socket) {
	c.mu.Lock()
	if i := slices.Index(c.sockets, s); i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
	}
	c.mu.Unlock()
}

// socketOf returns the client's socket of namespace name, or nil. Caller
// holds c.mu.
func (c *client) socketOf(name string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == name {
			return s
		}
	}
	return nil
}

// writePacket encodes and sends one packet of the client's own (a
// CONNECT_ERROR, say), outside any socket.
func (c *client) writePacket(p *parser.SocketPacket) {
	msgs, err := c.srv.parser.Encode(p)
	if err != nil {
		c.srv.log.Error("socketio: cannot encode packet", "type", p.Type, "err", err)
		return
	}
	_ = c.conn.Send(msgs, engineio.SendOptions{})
}

// takeSockets marks the client closed and returns its sockets.
func (c *client) takeSockets() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	out := c.sockets
	c.sockets = nil
	return out
}

// close disconnects every socket of the client with reason and closes the
// Engine.IO session.
func (c *client) close(reason Reason) {
	for _, s := range c.takeSockets() {
		s.onClose(reason)
	}
	c.conn.Close()
}

// disconnectAll sends every socket a DISCONNECT packet, then closes the
// session (Socket.Disconnect(true)).
func (c *client) disconnectAll() {
	c.mu.Lock()
	socks := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, s := range socks {
		s.Disconnect(false)
	}
	c.close(ReasonForcedServerClose)
}

// OnClose implements engineio.SessionHandler: the Engine.IO session
// closed.
func (c *client) OnClose(reason engineio.Reason) {
	for _, s := range c.takeSockets() {
		s.onClose(Reason(reason))
	}
	if obs := c.srv.observed(); obs != nil {
		c.srv.notifyConnectionClosed(obs, c.conn, Reason(reason))
	}
}
