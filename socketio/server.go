package socketio

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/gopool"
	"github.com/duplexio/duplex/internal/waitgroup"
	"github.com/duplexio/duplex/parser"
)

// Options configures a Server. Zero values mean the reference server's
// defaults. The embedded engineio.Options configure the Engine.IO layer;
// their Path defaults to "/socket.io/" here.
type Options struct {
	engineio.Options

	// DisableServeClient stops the server from serving the browser
	// client (the reference's serveClient: false). By default, as the
	// reference does, it serves the official socket.io-client bundles at
	// Path + "socket.io.js", "socket.io.min.js", "socket.io.msgpack.min.js"
	// and "socket.io.esm.min.js", and their ".map" files, with an ETag and
	// gzip or deflate when the request accepts it. The bundles are in the
	// binary either way; build with the tag duplex_noclientbundle to leave
	// them out (see package clientdist).
	DisableServeClient bool
	// Parser encodes and decodes packets; default parser.JSONParser.
	// Clients must use the matching parser (socket.io-msgpack-parser for
	// parser.MsgpackParser).
	Parser parser.Parser
	// Adapter makes each namespace's adapter; default the in-memory one.
	Adapter adapter.Factory
	// ConnectTimeout closes connections that join no namespace in time;
	// default 45s.
	ConnectTimeout time.Duration
	// AckTimeout is the default wait for a client's acknowledgement when
	// neither a context deadline nor Timeout says otherwise; 0 waits for as
	// long as the context allows.
	AckTimeout time.Duration
	// ConnectionStateRecovery, when set, lets clients that lost their
	// connection get their id, rooms, data and missed events back.
	ConnectionStateRecovery *RecoveryOptions
	// CleanupEmptyChildNamespaces removes a dynamic namespace when its last
	// socket leaves (the reference's option of the same name).
	CleanupEmptyChildNamespaces bool

	// Limits on what clients control. Zero means the default; -1 means no
	// limit.

	// MaxNamespaceLength bounds the namespace names clients may ask for;
	// longer ones get "Invalid namespace". Default 256 bytes.
	MaxNamespaceLength int
	// MaxDynamicNamespaces bounds how many namespaces OfFunc and OfRegexp
	// may create; past it, clients get "Invalid namespace". A dynamic
	// namespace no socket is in does not count: at the limit, those are
	// removed to make room. Default 10,000.
	MaxDynamicNamespaces int
	// MaxNamespacesPerConnection bounds the namespaces one connection may
	// be in (or be connecting to) at once; past it, a CONNECT gets a
	// connect_error "Too many namespaces" and creates nothing. It keeps one
	// connection from taking the dynamic namespaces of everyone.
	// Default 100.
	MaxNamespacesPerConnection int
	// MaxPendingEvents bounds the events of one socket waiting for its
	// handlers; past it, the connection's reading waits for the handlers to
	// catch up, slowing that client down and no other. Default 1024.
	MaxPendingEvents int
	// MaxPendingAcks bounds the acknowledgements a socket may owe the
	// server; past it, EmitWithAck returns ErrTooManyAcks. Default 4096.
	MaxPendingAcks int
	// MaxRoomsPerSocket bounds the rooms one socket may be in, its own
	// room included; a join past it is refused whole (Socket.TryJoin
	// returns ErrTooManyRooms, Socket.Join logs it). It keeps a handler
	// that joins rooms named by the client from growing the server's
	// memory without bound. Default 1000.
	MaxRoomsPerSocket int
	// MaxRoomsPerConnection bounds the rooms of all the sockets of one
	// connection together (one per namespace), own rooms included; a join
	// past it is refused as one past MaxRoomsPerSocket is. Default 4000.
	MaxRoomsPerConnection int
}

// Default limits.
const (
	DefaultMaxNamespaceLength   = 256
	DefaultMaxDynamicNamespaces = 10000
	DefaultMaxPendingEvents     = 1024
	DefaultMaxPendingAcks       = 4096
	DefaultMaxRoomsPerSocket    = 1000

	DefaultMaxNamespacesPerConnection = 100
	DefaultMaxRoomsPerConnection      = 4000
)

// noLimit is a limit option resolved to no limit.
const noLimit = int(^uint(0) >> 1)

// limit resolves a limit option: 0 is def, below 0 is none.
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return noLimit
	}
	return v
}

// RecoveryOptions configures connection state recovery.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long a disconnected socket's state
	// is kept; default 2 minutes.
	MaxDisconnectionDuration time.Duration
	// SkipMiddlewares lets recovered sockets in without running the
	// namespace middlewares again. Unlike the reference, whose default is
	// true, middlewares run unless this is set: authentication is not
	// skipped by accident.
	SkipMiddlewares bool
	// KeepWhileConnected writes a socket's session to the adapter while
	// the socket is connected too: when it connects, when it joins or
	// leaves a room, when its data changes, and again every half
	// MaxDisconnectionDuration. With an adapter that keeps sessions where
	// every node finds them and can drop them (adapter.SessionForgetter:
	// the Redis Streams adapter), the clients of a node that dies without
	// Shutdown (a crash, SIGKILL) then recover on another one. It costs a
	// write to the adapter per change; other adapters ignore it.
	KeepWhileConnected bool
}

// Server is a Socket.IO server: an http.Handler to mount at Options.Path.
type Server struct {
	opts   Options
	engine *engineio.Server
	parser parser.Parser
	log    *slog.Logger

	main *Namespace // "/", which the Server's own methods act on
	// bundlePath is the engine's Path, the client bundle's directory.
	bundlePath string

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	parents []*parentNamespace
	dynamic int // namespaces created by parents
	// liveChildren counts the namespaces created by parents that have a
	// socket (namespace.go).
	liveChildren atomic.Int64
	closed       bool

	work waitgroup.Group // goroutines running handlers
	pool *gopool.Pool    // runs them

	observers atomic.Pointer[[]*Observer] // nil when there are none (Observe)
}

// parentNamespace creates namespaces on demand for the names it matches.
type parentNamespace struct {
	match func(name string, auth any) bool
	re    *regexp.Regexp // set by OfRegexp: Of attaches matching names
	tmpl  *Namespace     // holds the handlers and middlewares children copy
}

// NewServer returns a server. A nil opts means all defaults.
func NewServer(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	if o.Parser == nil {
		o.Parser = &parser.JSONParser{}
	}
	o.MaxNamespaceLength = limit(o.MaxNamespaceLength, DefaultMaxNamespaceLength)
	o.MaxDynamicNamespaces = limit(o.MaxDynamicNamespaces, DefaultMaxDynamicNamespaces)
	o.MaxPendingEvents = limit(o.MaxPendingEvents, DefaultMaxPendingEvents)
	o.MaxPendingAcks = limit(o.MaxPendingAcks, DefaultMaxPendingAcks)
	o.MaxRoomsPerSocket = limit(o.MaxRoomsPerSocket, DefaultMaxRoomsPerSocket)
	o.MaxNamespacesPerConnection = limit(o.MaxNamespacesPerConnection, DefaultMaxNamespacesPerConnection)
	o.MaxRoomsPerConnection = limit(o.MaxRoomsPerConnection, DefaultMaxRoomsPerConnection)
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 45 * time.Second
	}
	if r := o.ConnectionStateRecovery; r != nil && r.MaxDisconnectionDuration <= 0 {
		rc := *r
		rc.MaxDisconnectionDuration = 2 * time.Minute
		o.ConnectionStateRecovery = &rc
	}
	if o.Adapter == nil {
		var mo adapter.MemoryOptions
		if o.ConnectionStateRecovery != nil {
			mo.RecoveryWindow = o.ConnectionStateRecovery.MaxDisconnectionDuration
		}
		o.Adapter = adapter.MemoryFactory(mo)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{opts: o, parser: o.Parser, log: log, nsps: make(map[string]*Namespace), pool: gopool.New(time.Second, 256)}
	s.engine = engineio.NewServer(engineio.HandlerFunc(s.onOpen), &o.Options)
	s.bundlePath = s.engine.Options().Path
	s.main = s.Of("/")
	return s
}

// ServeHTTP serves the Engine.IO endpoint, and the client bundle beside
// it unless Options.DisableServeClient is set.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.opts.DisableServeClient && s.serveClient(w, r) {
		return
	}
	s.engine.ServeHTTP(w, r)
}

// Engine returns the underlying Engine.IO server.
func (s *Server) Engine() *engineio.Server { return s.engine }

// Of returns the namespace called name, creating it if needed. Names start
// with "/"; one without is given it.
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	if n := s.nsps[name]; n != nil {
		s.mu.Unlock()
		return n
	}
	var n *Namespace
	for _, p := range s.parents {
		if p.re != nil && p.re.MatchString(name) {
			// As with the reference, a name that an OfRegexp pattern
			// matches gets a child of that parent, as if a client had
			// asked for it (the application's own, past
			// MaxDynamicNamespaces too, and never reclaimed to make room:
			// the application may have set handlers on it).
			n = s.newChildLocked(p, name)
			n.pinned = true
			break
		}
	}
	if n == nil {
		n = newNamespace(s, name)
		s.nsps[name] = n
	}
	s.mu.Unlock()
	if obs := s.observed(); obs != nil {
		s.notifyNamespaceCreated(obs, n)
	}
	return n
}

// OfFunc declares dynamic namespaces: a client connecting to an unknown
// namespace for which match returns true gets a new namespace of that
// name, with the handlers and middlewares set on the returned template
// (the reference's parent namespace). auth is the client's auth payload.
func (s *Server) OfFunc(match func(name string, auth any) bool) *Namespace {
	return s.addParent(&parentNamespace{match: match})
}

// OfRegexp declares dynamic namespaces whose names match re. Of, given a
// name re matches that is not a namespace yet, returns a new child of this
// parent, as the reference's io.of does.
func (s *Server) OfRegexp(re *regexp.Regexp) *Namespace {
	return s.addParent(&parentNamespace{match: func(name string, _ any) bool { return re.MatchString(name) }, re: re})
}

func (s *Server) addParent(p *parentNamespace) *Namespace {
	p.tmpl = newNamespace(s, "")
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p.tmpl
}

// newChildLocked creates the dynamic namespace name, a child of p. Caller
// holds s.mu.
func (s *Server) newChildLocked(p *parentNamespace, name string) *Namespace {
	n := newNamespace(s, name)
	n.inherit(p.tmpl)
	n.parent = p.tmpl
	s.nsps[name] = n
	s.dynamic++
	return n
}

// namespaceFor finds or creates the namespace a client asks for; nil when
// there is none. The namespace counts the client as connecting
// (Namespace.pending) until the caller is done with it, so that it is not
// cleaned up meanwhile.
func (s *Server) namespaceFor(name string, auth any) *Namespace {
	s.mu.RLock()
	n := s.nsps[name]
	if n != nil {
		n.pending.Add(1)
	}
	parents := s.parents
	s.mu.RUnlock()
	if n != nil {
		return n
	}
	if len(name) > s.opts.MaxNamespaceLength {
		return nil
	}
	for _, p := range parents {
		if !s.matches(p, name, auth) {
			continue
		}
		s.mu.Lock()
		created := false
		var reclaimed []*Namespace
		if n = s.nsps[name]; n == nil {
			if !s.closed && s.dynamic >= s.opts.MaxDynamicNamespaces && int64(s.dynamic) > s.liveChildren.Load() {
				reclaimed = s.reclaimLocked()
			}
			if s.closed || s.dynamic >= s.opts.MaxDynamicNamespaces {
				s.mu.Unlock()
				s.dropChildren(reclaimed)
				s.log.Warn("socketio: dynamic namespace refused", "name", name, "count", s.dynamic)
				return nil
			}
			n = s.newChildLocked(p, name)
			created = true
		}
		n.pending.Add(1)
		s.mu.Unlock()
		s.dropChildren(reclaimed)
		if obs := s.observed(); created && obs != nil {
			s.notifyNamespaceCreated(obs, n)
		}
		return n
	}
	return nil
}

// removeChild forgets an empty dynamic namespace
// (CleanupEmptyChildNamespaces).
func (s *Server) removeChild(n *Namespace) {
	s.mu.Lock()
	if s.nsps[n.name] != n || n.SocketCount() > 0 || n.pending.Load() > 0 {
		s.mu.Unlock()
		return
	}
	delete(s.nsps, n.name)
	s.dynamic--
	s.mu.Unlock()
	s.dropChildren([]*Namespace{n})
}

// reclaimLocked forgets every dynamic namespace no socket is in or is
// connecting to, for dropChildren to finish once s.mu is released. It runs
// when MaxDynamicNamespaces is reached: namespaces left empty do not count
// against the limit, so that clients that came and went cannot use it up.
// Caller holds s.mu.
func (s *Server) reclaimLocked() []*Namespace {
	var out []*Namespace
	for name, n := range s.nsps {
		if n.parent != nil && !n.pinned && n.pending.Load() == 0 && n.SocketCount() == 0 {
			delete(s.nsps, name)
			s.dynamic--
			out = append(out, n)
		}
	}
	return out
}

// dropChildren detaches dynamic namespaces the server has forgotten from
// their template and closes their adapters.
func (s *Server) dropChildren(children []*Namespace) {
	for _, n := range children {
		n.parent.dropChild(n)
		if n.adapter != nil {
			_ = n.adapter.Close()
		}
	}
}

// Namespaces lists the namespaces that exist now.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// OnConnection adds a connection handler to the main namespace "/"; see
// Namespace.OnConnection.
func (s *Server) OnConnection(fn func(*Socket)) { s.main.OnConnection(fn) }

// Use adds a middleware to the main namespace.
func (s *Server) Use(fn Middleware) { s.main.Use(fn) }

// To selects the sockets of the main namespace in rooms.
func (s *Server) To(rooms ...string) BroadcastOperator { return s.main.To(rooms...) }

// In is To.
func (s *Server) In(rooms ...string) BroadcastOperator { return s.To(rooms...) }

// Except selects the sockets of the main namespace not in rooms.
func (s *Server) Except(rooms ...string) BroadcastOperator { return s.main.Except(rooms...) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.main.Emit(event, args...) }

// Volatile selects the sockets of the main namespace that can take an
// event at once.
func (s *Server) Volatile() BroadcastOperator { return s.main.Volatile() }

// Compress sets the compress flag of a broadcast to the main namespace.
func (s *Server) Compress(compress bool) BroadcastOperator { return s.main.Compress(compress) }

// Local keeps a broadcast on this node.
func (s *Server) Local() BroadcastOperator { return s.main.Local() }

// Timeout bounds the wait of EmitWithAck.
func (s *Server) Timeout(d time.Duration) BroadcastOperator { return s.main.Timeout(d) }

// EmitWithAck sends an event to every socket of the main namespace and
// waits for their acknowledgements.
func (s *Server) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return s.main.EmitWithAck(ctx, event, args...)
}

// FetchSockets describes the sockets of the main namespace on every node.
func (s *Server) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return s.main.FetchSockets(ctx)
}

// SocketsJoin makes every socket of the main namespace join rooms.
func (s *Server) SocketsJoin(rooms ...string) error { return s.main.SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the main namespace leave rooms.
func (s *Server) SocketsLeave(rooms ...string) error { return s.main.SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the main namespace.
func (s *Server) DisconnectSockets(close bool) error { return s.main.DisconnectSockets(close) }

// ServerSideEmit sends an event to the main namespace of the other nodes.
func (s *Server) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	return s.main.ServerSideEmit(ctx, event, args...)
}

// ServerSideEmitWithAck is ServerSideEmit waiting for one answer from each
// other node; see Namespace.ServerSideEmitWithAck.
func (s *Server) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return s.main.ServerSideEmitWithAck(ctx, event, args...)
}

// Shutdown disconnects every socket with ReasonServerShutdown, closes the
// adapters and the Engine.IO server, and waits for its goroutines, or for
// ctx to be done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		nsps = append(nsps, n)
	}
	s.mu.Unlock()
	for _, n := range nsps {
		for _, sock := range n.localSockets() {
			sock.onClose(ReasonServerShutdown)
		}
	}
	// The sockets' disconnect handlers, and with connection state
	// recovery the keeping of their sessions, before the connections
	// close: a client reconnects (to another node of a cluster) as soon as
	// its connection closes, and its session must be there to recover.
	werr := s.work.Wait(ctx)
	err := s.engine.Shutdown(ctx)
	if werr == nil {
		werr = s.work.Wait(ctx) // what the closing sessions started
	}
	if werr == nil {
		s.pool.Close()
	} else if err == nil {
		err = werr
	}
	for _, n := range nsps {
		if n.adapter != nil {
			_ = n.adapter.Close()
		}
	}
	return err
}

// Close is Shutdown without a deadline.
func (s *Server) Close() error { return s.Shutdown(context.Background()) }

// onOpen is the engine's Handler: each new session gets a client, which
// receives the session's messages and its close.
func (s *Server) onOpen(conn engineio.Conn) engineio.SessionHandler {
	c := newClient(s, conn)
	if obs := s.observed(); obs != nil {
		s.notifyConnectionOpened(obs, conn)
	}
	if conn.Protocol() == parser.ProtocolV3 {
		// socket.io 2.x clients are in "/" from the start.
		c.connect("/", map[string]any{})
	}
	return c
}

// matches runs a parent namespace's match function, user code run by the
// session's reader: a panic in it is no match.
func (s *Server) matches(p *parentNamespace, name string, auth any) (matched bool) {
	defer s.recovered(nil, "namespace match function")
	return p.match(name, auth)
}
