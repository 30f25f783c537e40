package engineio

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/duplexio/duplex/internal/gopool"
	"github.com/duplexio/duplex/internal/waitgroup"
	"github.com/duplexio/duplex/transport"
)

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

	active   waitgroup.Group // requests being served, WebSocket readers and writers
	counters counters        // the figures of Stats
	pool     *gopool.Pool    // runs the WebSocket writers
	cluster  *cluster        // nil unless Options.Cluster
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
		o.Transports = []Transport{TransportPolling, TransportWebSocket}
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
	s := &Server{
		opts:     o,
		handler:  h,
		log:      log,
		upgrader: transport.NewUpgrader(wsOpts),
		sessions: make(map[string]*Session),
		pool:     gopool.New(time.Second, 256),
	}
	if o.Cluster != nil && o.Cluster.Bus != nil {
		s.cluster = newCluster(s, *o.Cluster)
	}
	return s
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
	if !s.active.TryAdd() {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.active.Done()
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
	s.active.Close()
	if s.cluster != nil {
		s.cluster.shutdown()
	}
	for _, sess := range sessions {
		sess.close(ReasonServerShutdown, closeFlushNoWait)
	}
	err := s.active.Wait(ctx)
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

// shut closes ws from the server side, as the reference does: a close
// frame without a status code, then the connection. It runs on a
// goroutine of its own, counted in s.active, since the frame waits for a
// write under way (up to a second) and whoever closes a session must not
// (Send, closing a slow consumer, for one). A nil ws is skipped.
func (s *Server) shut(ws *transport.WebSocket) {
	if ws == nil {
		return
	}
	s.active.Add()
	go func() {
		defer s.active.Done()
		ws.Shut()
	}()
}

// responseHeaders has Options.InitialHeaders (for a handshake) and
// Options.Headers change the headers of a response about to be sent.
func (s *Server) responseHeaders(h http.Header, r *http.Request, handshake bool) {
	if handshake && s.opts.InitialHeaders != nil {
		s.opts.InitialHeaders(h, r)
	}
	if s.opts.Headers != nil {
		s.opts.Headers(h, r)
	}
}

func (s *Server) allowsTransport(t Transport) bool {
	return slices.Contains(s.opts.Transports, t)
}
