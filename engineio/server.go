package engineio

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/internal/gopool"
	"github.com/duplexio/duplex/transport"
)

// Handler receives the events of the server's sessions. For one session,
// OnOpen comes first and OnClose exactly once, last of the calls made on
// its behalf by a transport; OnMessage calls are made one at a time, in the
// order the client sent the messages. OnClose can run while an OnMessage
// call of the same session is still in progress on another goroutine (when
// a heartbeat times out, for instance).
type Handler interface {
	// OnOpen is called once the handshake is answered.
	OnOpen(s *Session)
	// OnMessage is called for each message; binary says data is raw bytes
	// rather than UTF-8 text. data belongs to the handler.
	OnMessage(s *Session, data []byte, binary bool)
	// OnClose is called once when the session closes.
	OnClose(s *Session, reason Reason)
}

// HandlerFuncs is a Handler made of functions; nil ones are skipped.
type HandlerFuncs struct {
	Open    func(s *Session)
	Message func(s *Session, data []byte, binary bool)
	Close   func(s *Session, reason Reason)
}

// OnOpen calls h.Open.
func (h HandlerFuncs) OnOpen(s *Session) {
	if h.Open != nil {
		h.Open(s)
	}
}

// OnMessage calls h.Message.
func (h HandlerFuncs) OnMessage(s *Session, data []byte, binary bool) {
	if h.Message != nil {
		h.Message(s, data, binary)
	}
}

// OnClose calls h.Close.
func (h HandlerFuncs) OnClose(s *Session, reason Reason) {
	if h.Close != nil {
		h.Close(s, reason)
	}
}

// Options configures a Server. The zero value of every field means the
// reference server's default, given in each field's comment.
type Options struct {
	// Path is where the server answers; default "/engine.io/". Requests
	// outside it get 404.
	Path string
	// PingInterval is how often the server pings (v4) or expects pings
	// (v3); default 25s.
	PingInterval time.Duration
	// PingTimeout is how long a pong may take before the session closes
	// with ReasonPingTimeout; default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout is how long an upgrade may take before the new
	// WebSocket is dropped; default 10s.
	UpgradeTimeout time.Duration
	// MaxHTTPBufferSize bounds a polling request body and a WebSocket
	// message, in bytes; default 1e6. It is sent to clients as maxPayload.
	MaxHTTPBufferSize int64
	// Transports lists the transports accepted, among "polling" and
	// "websocket"; default both.
	Transports []string
	// DisableUpgrades stops polling sessions from moving to WebSocket (the
	// reference's allowUpgrades: false).
	DisableUpgrades bool
	// AllowRequest, when set, vets each handshake: a non-nil error refuses
	// it with 403 and error code 4, the error's text as the message.
	AllowRequest func(r *http.Request) error
	// CORS, when set, adds CORS headers to every response and answers
	// preflight requests. Nil sends no CORS headers.
	CORS *CORSOptions
	// Cookie, when set, sends a cookie holding the session id with the
	// handshake.
	Cookie *CookieOptions
	// PerMessageDeflate, when set, enables WebSocket compression for
	// messages of at least its threshold. Off by default.
	PerMessageDeflate *PerMessageDeflateOptions
	// HTTPCompression compresses polling responses; on by default for
	// responses of 1024 bytes or more.
	HTTPCompression HTTPCompressionOptions
	// AllowEIO3 accepts Engine.IO protocol v3 clients (socket.io 2.x).
	AllowEIO3 bool
	// GenerateID makes session ids; default 20 URL-safe base64 characters
	// from crypto/rand. Ids must be unique among open sessions.
	GenerateID func(r *http.Request) (string, error)
	// MaxQueueBytes bounds the packets waiting to be sent to one client, in
	// bytes; past it the session closes with ReasonSlowConsumer. Default
	// 8 MiB.
	MaxQueueBytes int
	// MaxHandshakesPerAddress bounds the handshakes in progress at once
	// from one client address (the host of Request.RemoteAddr), the time
	// AllowRequest takes included: past it, a handshake is refused with 403
	// and error code 4, as AllowRequest refuses one. Zero, the default, sets
	// no bound: behind a reverse proxy every client has the proxy's
	// address, and the proxy is the place for such a limit.
	MaxHandshakesPerAddress int
	// OnError, when set, is told of every refused request (the reference's
	// "connection_error" event).
	OnError func(err *RequestError)
	// Logger receives debug and error logs; default none.
	Logger *slog.Logger
}

// CookieOptions describes the session cookie. Empty fields take the
// reference's defaults: name "io", path "/", SameSite Lax, HttpOnly on.
type CookieOptions struct {
	Name            string
	Path            string
	Domain          string
	MaxAge          int
	Secure          bool
	SameSite        http.SameSite
	DisableHTTPOnly bool
}

// PerMessageDeflateOptions configures WebSocket compression.
type PerMessageDeflateOptions struct {
	// Threshold is the smallest message compressed; default 1024.
	Threshold int
}

// HTTPCompressionOptions configures compression of polling responses.
type HTTPCompressionOptions struct {
	// Disable turns compression off.
	Disable bool
	// Threshold is the smallest response compressed; default 1024.
	Threshold int
}

// Server is an Engine.IO server. It is an http.Handler: mount it at
// Options.Path.
type Server struct {
	opts     Options
	handler  Handler
	log      *slog.Logger
	upgrader *transport.Upgrader

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool

	hsMu        sync.Mutex
	handshaking map[string]int // handshakes in progress by address

	active   activity
	counters counters     // the figures of Stats
	pool     *gopool.Pool // runs the WebSocket writers
}

// NewServer returns a server that reports its sessions' events to h. A nil
// opts means all defaults.
func NewServer(h Handler, opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Path == "" {
		o.Path = "/engine.io/"
	}
	o.Path = strings.TrimSuffix(o.Path, "/") + "/"
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 20 * time.Second
	}
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = 10 * time.Second
	}
	if o.MaxHTTPBufferSize <= 0 {
		o.MaxHTTPBufferSize = 1e6
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{transport.NamePolling, transport.NameWebSocket}
	}
	if o.HTTPCompression.Threshold <= 0 {
		o.HTTPCompression.Threshold = transport.DefaultCompressionThreshold
	}
	if o.PerMessageDeflate != nil && o.PerMessageDeflate.Threshold <= 0 {
		pmd := *o.PerMessageDeflate
		pmd.Threshold = 1024
		o.PerMessageDeflate = &pmd
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 8 << 20
	}
	if o.GenerateID == nil {
		o.GenerateID = generateID
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// A small read buffer: idle connections keep it for life, and larger
	// frames are read through it all the same.
	wsOpts := transport.WebSocketOptions{MaxMessageSize: o.MaxHTTPBufferSize, ReadBufferSize: 1024}
	if o.PerMessageDeflate != nil {
		wsOpts.CompressionThreshold = o.PerMessageDeflate.Threshold
	}
	return &Server{
		opts:     o,
		handler:  h,
		log:      log,
		upgrader: transport.NewUpgrader(wsOpts),
		sessions: make(map[string]*Session),
		pool:     gopool.New(time.Second, 256),
	}
}

// Options returns the options in force, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// ServeHTTP answers Engine.IO requests: handshakes, polls, posts and
// WebSocket upgrades.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.opts.Path) && r.URL.Path != strings.TrimSuffix(s.opts.Path, "/") {
		http.NotFound(w, r)
		return
	}
	if !s.active.enter() {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.active.leave()
	if s.opts.CORS != nil && s.opts.CORS.apply(w, r) {
		return // a preflight request, answered
	}
	s.serve(w, r)
}

// Session returns the open session with the given id, or nil.
func (s *Server) Session(id string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// SessionCount is the number of open sessions.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Shutdown stops accepting requests, closes every session with
// ReasonServerShutdown (sending what was queued to clients that can take it
// now), and waits until every goroutine the server started has returned, or
// ctx is done. A second call returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	sessions := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	s.active.close()
	for _, sess := range sessions {
		sess.close(ReasonServerShutdown, closeFlushNoWait)
	}
	err := s.active.wait(ctx)
	if err == nil {
		s.pool.Close()
	} else {
		// Out of time: drop whatever is still flushing.
		for _, sess := range sessions {
			sess.close(ReasonServerShutdown, closeNow)
		}
	}
	return err
}

func (s *Server) register(sess *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, dup := s.sessions[sess.id]; dup {
		return false
	}
	s.sessions[sess.id] = sess
	s.counters.opened(sess.transport) // not shared yet: no lock needed
	return true
}

// remove forgets a closed session; false when it was not registered.
func (s *Server) remove(sess *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.id] != sess {
		return false
	}
	delete(s.sessions, sess.id)
	return true
}

func (s *Server) allowsTransport(name string) bool {
	return slices.Contains(s.opts.Transports, name)
}

// upgrades is the "upgrades" list of a handshake over the given transport.
func (s *Server) upgrades(from string) []string {
	if from == transport.NamePolling && !s.opts.DisableUpgrades && s.allowsTransport(transport.NameWebSocket) {
		return []string{transport.NameWebSocket}
	}
	return []string{}
}

// activity counts the goroutines working for the server (requests being
// served, WebSocket writers) so that Shutdown can wait for them.
type activity struct {
	n       atomic.Int64
	closing atomic.Bool
	idle    chan struct{}
	once    sync.Once
}

func (a *activity) init() { a.once.Do(func() { a.idle = make(chan struct{}, 1) }) }

// enter counts a new goroutine, unless the server is closing.
func (a *activity) enter() bool {
	// Count first, then check: a wait that has seen the count at zero
	// after close is then sure that no enter can still succeed.
	a.n.Add(1)
	if a.closing.Load() {
		a.leave()
		return false
	}
	return true
}

// spawn counts a goroutine started on behalf of work already counted.
func (a *activity) spawn() { a.n.Add(1) }

func (a *activity) leave() {
	if a.n.Add(-1) == 0 && a.closing.Load() {
		a.init()
		select {
		case a.idle <- struct{}{}:
		default:
		}
	}
}

func (a *activity) close() { a.init(); a.closing.Store(true) }

func (a *activity) wait(ctx context.Context) error {
	a.init()
	for a.n.Load() > 0 {
		select {
		case <-a.idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
