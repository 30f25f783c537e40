package socketio

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// Middleware runs when a client connects to a namespace, before the
// connection handlers, in a goroutine of the connection's own: it may
// block (to ask a database, say). It returns nil to let the client in, or
// an error to refuse it; the client's connect_error handler gets the
// error's message (and a ConnectError's Data). The socket's Handshake
// holds the auth payload, headers, query and address.
type Middleware func(s *Socket) error

// Namespace is a communication channel of the server (like "/" or
// "/chat") with its own sockets, rooms, middlewares and handlers. A
// namespace returned by OfFunc or OfRegexp is the template of the dynamic
// namespaces it creates: what is set on it is copied to each when it is
// created, and its broadcasts reach all of them.
type Namespace struct {
	server  *Server
	name    string
	adapter adapter.Adapter // nil for a template
	ids     atomic.Uint64

	mu      sync.RWMutex
	sockets map[string]*Socket
	// restoring holds the sockets being restored (connection state
	// recovery) from the moment their adapter attached them until they
	// connect or are refused: deliveries reach them meanwhile, and wait
	// with their CONNECT.
	restoring map[string]*Socket
	// pids holds the connected sockets by private id, when recovery is on.
	pids        map[string]*Socket
	middlewares []Middleware
	onConn      []func(*Socket)
	serverSide  map[string][]*handler
	children    []*Namespace // of a template
	parent      *Namespace   // the template of a dynamic namespace
	pinned      bool         // a dynamic namespace made by Of: never reclaimed (guarded by the server's mu)
	pending     atomic.Int32 // clients running its middlewares
}

// dropChild forgets a child namespace that was removed.
func (n *Namespace) dropChild(c *Namespace) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, x := range n.children {
		if x == c {
			n.children = append(n.children[:i], n.children[i+1:]...)
			return
		}
	}
}

func newNamespace(s *Server, name string) *Namespace {
	n := &Namespace{server: s, name: name, sockets: make(map[string]*Socket)}
	if name != "" {
		n.adapter = s.opts.Adapter(adapterView{n})
	}
	return n
}

// inherit copies a template's middlewares and handlers.
func (n *Namespace) inherit(t *Namespace) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n.middlewares = append([]Middleware(nil), t.middlewares...)
	n.onConn = append([](func(*Socket))(nil), t.onConn...)
	for ev, hs := range t.serverSide {
		if n.serverSide == nil {
			n.serverSide = make(map[string][]*handler)
		}
		n.serverSide[ev] = append([]*handler(nil), hs...)
	}
	t.children = append(t.children, n)
}

// Name is the namespace's name, like "/" or "/chat".
func (n *Namespace) Name() string { return n.name }

// Server is the server of the namespace.
func (n *Namespace) Server() *Server { return n.server }

// Adapter is the namespace's adapter; nil for a dynamic namespaces'
// template.
func (n *Namespace) Adapter() adapter.Adapter { return n.adapter }

// Use adds a middleware, run in the order added.
func (n *Namespace) Use(fn Middleware) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, fn)
	n.mu.Unlock()
}

// OnConnection adds a handler called with each socket that connects,
// after the middlewares let it in. The client is told it is connected
// once the connection handlers have returned, as the Node server tells it
// in the same tick as its synchronous handlers: whatever they did (rooms
// joined, listeners added, data set) is in place before the client can
// act on its connection, and the client's events wait for them. So a
// handler that blocks delays its own client's connection: run slow work
// in a goroutine of its own. (EmitWithAck to the socket itself, whose
// answer could not come otherwise, tells the client at once.)
func (n *Namespace) OnConnection(fn func(*Socket)) {
	n.mu.Lock()
	n.onConn = append(n.onConn, fn)
	n.mu.Unlock()
}

// On adds a handler for an event that another node of the cluster sent
// with ServerSideEmit. The handler's signature follows Socket.On; an Ack
// parameter answers a ServerSideEmitWithAck. It panics when handler is not
// a valid handler.
func (n *Namespace) On(event string, fn any) {
	h := mustHandler(fn)
	n.mu.Lock()
	if n.serverSide == nil {
		n.serverSide = make(map[string][]*handler)
	}
	n.serverSide[event] = append(n.serverSide[event], h)
	n.mu.Unlock()
}

// Sockets returns the sockets connected to the namespace on this node.
func (n *Namespace) Sockets() []*Socket { return n.localSockets() }

// SocketCount is the number of sockets connected on this node.
func (n *Namespace) SocketCount() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) localSockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

// LocalSocket returns the socket with the given id connected to this node,
// or nil.
func (n *Namespace) LocalSocket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// Broadcasting, from the namespace.

func (n *Namespace) operator() BroadcastOperator { return BroadcastOperator{nsp: n} }

// To selects the sockets in any of rooms.
func (n *Namespace) To(rooms ...string) BroadcastOperator { return n.operator().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) BroadcastOperator { return n.To(rooms...) }

// Except selects the sockets in none of rooms.
func (n *Namespace) Except(rooms ...string) BroadcastOperator {
	return n.operator().Except(rooms...)
}

// Volatile selects the sockets that can take the packet at once.
func (n *Namespace) Volatile() BroadcastOperator { return n.operator().Volatile() }

// Local keeps a broadcast on this node.
func (n *Namespace) Local() BroadcastOperator { return n.operator().Local() }

// Compress sets whether the packet may be compressed.
func (n *Namespace) Compress(compress bool) BroadcastOperator {
	return n.operator().Compress(compress)
}

// Timeout bounds the wait for acknowledgements of EmitWithAck.
func (n *Namespace) Timeout(d time.Duration) BroadcastOperator { return n.operator().Timeout(d) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.operator().Emit(event, args...) }

// EmitWithAck sends an event to every socket of the namespace and waits
// for each one's acknowledgement; see BroadcastOperator.EmitWithAck.
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.operator().EmitWithAck(ctx, event, args...)
}

// FetchSockets describes the sockets of the namespace on every node.
func (n *Namespace) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return n.operator().FetchSockets(ctx)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(rooms ...string) error { return n.operator().SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(rooms ...string) error { return n.operator().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the namespace; with close,
// their whole connections are closed.
func (n *Namespace) DisconnectSockets(close bool) error {
	return n.operator().DisconnectSockets(close)
}

// ServerSideEmit sends an event to the same namespace of the other nodes
// of the cluster, whose handlers set with On receive it. ctx bounds the
// time the adapter may take to send it.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if parser.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	for _, t := range n.targets() {
		if _, err := t.adapter.ServerSideEmit(ctx, event, args, nil); err != nil {
			return err
		}
	}
	return nil
}

// DefaultServerSideAckTimeout bounds ServerSideEmitWithAck when neither
// its context nor the server's AckTimeout does.
const DefaultServerSideAckTimeout = 5 * time.Second

// ServerSideEmitWithAck is ServerSideEmit waiting for one answer from each
// other node, until ctx is done or the server's AckTimeout (else
// DefaultServerSideAckTimeout) passes. It returns the answers received,
// and ErrAckTimeout when some were missing.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if parser.IsReservedEvent(event) {
		return nil, ErrReservedEvent
	}
	if n.adapter == nil {
		return nil, errors.New("socketio: ServerSideEmitWithAck on a namespace template")
	}
	ctx, cancel := n.server.ackContext(ctx, 0)
	defer cancel()
	if _, ok := ctx.Deadline(); !ok {
		// A node may die before it answers: wait no longer than the
		// reference's adapters do.
		var cancelDefault context.CancelFunc
		ctx, cancelDefault = context.WithTimeout(ctx, DefaultServerSideAckTimeout)
		defer cancelDefault()
	}
	col := newAckCollector()
	col.expect(1)
	expected, err := n.adapter.ServerSideEmit(ctx, event, args, col.onAck)
	if err != nil {
		return nil, err
	}
	col.onCount(expected)
	col.seal()
	return col.wait(ctx)
}

// targets are the namespaces a broadcast from n reaches: n, or a
// template's children.
func (n *Namespace) targets() []*Namespace {
	if n.adapter != nil {
		return []*Namespace{n}
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append([]*Namespace(nil), n.children...)
}

// nextAckID returns a fresh acknowledgement id.
func (n *Namespace) nextAckID() uint64 { return n.ids.Add(1) - 1 }

// Connecting.

// add runs the namespace's middlewares for a client's CONNECT, then
// connects the socket. It runs in a goroutine of its own, which goes on to
// run the socket's handlers.
func (n *Namespace) add(c *client, auth any) {
	defer n.pending.Add(-1) // counted by namespaceFor
	s := n.restore(c, auth)
	if s == nil {
		s = newSocket(n, c, auth, nil)
	}
	if !(s.recovered && n.server.opts.ConnectionStateRecovery.SkipMiddlewares) {
		n.mu.RLock()
		mws := n.middlewares
		n.mu.RUnlock()
		if err := runMiddlewares(n.server, mws, s, "middleware"); err != nil {
			n.unrestore(s)
			c.refused(n.name)
			// A recovered socket was put back in its rooms already.
			s.leaveAll()
			var ce *ConnectError
			var data any
			if errors.As(err, &ce) {
				data = ce.Data
			}
			c.writePacket(&parser.SocketPacket{Type: parser.SocketPacketConnectError, Namespace: n.name, Data: c.connectErrorData(err.Error(), data)})
			return
		}
	}
	n.mu.Lock()
	n.sockets[s.id] = s
	if s.pid != "" {
		if n.pids == nil {
			n.pids = make(map[string]*Socket)
		}
		n.pids[s.pid] = s
	}
	if n.restoring[s.id] == s {
		delete(n.restoring, s.id)
	}
	if len(n.sockets) == 1 && n.parent != nil {
		n.server.liveChildren.Add(1)
	}
	n.mu.Unlock()
	s.mu.Lock()
	s.connected, s.early = true, false
	s.mu.Unlock()
	s.addRooms([]string{s.id})
	if !c.attach(s) {
		// The connection closed before the socket could join it.
		s.mu.Lock()
		s.connected = false
		s.mu.Unlock()
		if s.recovered {
			// Restoring took the session from the adapter, and the client
			// never heard of it: it will come back with the same private
			// id and offset, and must find the session again.
			n.keepUnconnected(s)
		}
		s.leaveAll()
		n.remove(s)
		return
	}
	s.startKeeping()
	if obs := n.server.observed(); obs != nil {
		n.server.notifySocketConnected(obs, s)
	}
	n.mu.RLock()
	handlers := n.onConn
	n.mu.RUnlock()
	for _, fn := range handlers {
		n.server.callSocket(fn, s)
	}
	s.acknowledgeConnect()
	s.drain()
}

// restore finds the state of a socket that reconnects with connection
// state recovery.
func (n *Namespace) restore(c *client, auth any) *Socket {
	if n.server.opts.ConnectionStateRecovery == nil {
		return nil
	}
	m, _ := auth.(map[string]any)
	pid, _ := m["pid"].(string)
	if pid == "" {
		return nil
	}
	// A client that got no event before it lost the connection sends no
	// offset: it gets every event since it connected (the reference
	// recovers nobody then).
	offset, _ := m["offset"].(string)
	if n.keepsSessions() {
		// An old socket of the same id here goes first: the new one will
		// be in its rooms, which the old one's leaving would empty.
		n.releaseLocal(pid, nil)
	}
	s := n.restoreOnce(c, auth, pid, offset)
	if s == nil && (n.releaseLocal(pid, nil) || n.releaseElsewhere(pid)) {
		s = n.restoreOnce(c, auth, pid, offset)
	} else if s != nil && n.keepsSessions() {
		// The session was kept while its old socket was connected, which
		// may still be, on another node: let it go.
		n.server.work.Add()
		go func() {
			defer n.server.work.Done()
			n.releaseElsewhere(pid)
		}()
	}
	return s
}

// restoreOnce asks the adapter for the session of pid.
func (n *Namespace) restoreOnce(c *client, auth any, pid, offset string) *Socket {
	if ar, ok := n.adapter.(adapter.AttachingRestorer); ok {
		var s *Socket
		_, err := ar.RestoreSessionAttach(context.Background(), pid, offset, func(session *adapter.Session) {
			s = newSocket(n, c, auth, session)
			s.early = true
			n.mu.Lock()
			if n.restoring == nil {
				n.restoring = make(map[string]*Socket)
			}
			n.restoring[s.id] = s
			n.mu.Unlock()
		})
		if err != nil && s != nil {
			n.unrestore(s)
			s = nil
		}
		return s
	}
	session, err := n.adapter.RestoreSession(context.Background(), pid, offset)
	if err != nil || session == nil {
		return nil
	}
	return newSocket(n, c, auth, session)
}

// keepUnconnected writes back the session of a restored socket whose
// connection closed before it was connected.
func (n *Namespace) keepUnconnected(s *Socket) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := n.adapter.PersistSession(ctx, &adapter.Session{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data()})
	if err != nil {
		n.server.log.Warn("socketio: cannot keep the session for recovery", "nsp", n.name, "sid", s.id, "err", err)
	}
}

// unrestore forgets a restored socket that does not connect.
func (n *Namespace) unrestore(s *Socket) {
	n.mu.Lock()
	if n.restoring[s.id] == s {
		delete(n.restoring, s.id)
	}
	n.mu.Unlock()
	s.mu.Lock()
	s.early, s.held = false, nil
	s.mu.Unlock()
}

// remove forgets a socket, and an empty dynamic namespace with it when
// the server cleans those up.
func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
		if n.pids[s.pid] == s {
			delete(n.pids, s.pid)
		}
		if len(n.sockets) == 0 && n.parent != nil {
			n.server.liveChildren.Add(-1)
		}
	}
	empty := len(n.sockets) == 0
	n.mu.Unlock()
	if empty && n.parent != nil && n.server.opts.CleanupEmptyChildNamespaces {
		n.server.removeChild(n)
	}
}
