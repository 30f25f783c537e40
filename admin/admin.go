package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/socketio"
	"golang.org/x/crypto/bcrypt"
)

// Mode says how much the instrumentation tells the UI.
type Mode string

const (
	// Development sends the UI every socket's details, and news of every
	// connection, room change and event as it happens: all the UI's pages
	// work. Each event of the server is sent again to the UI, so it costs
	// in proportion to the traffic while a UI is connected (nothing while
	// none is, on a single node).
	Development Mode = "development"
	// Production sends only the figures of server_stats every
	// ServerStatsInterval: the dashboard works, the socket, room, client
	// and event pages stay empty. Its cost does not grow with the traffic.
	Production Mode = "production"
)

// BasicAuth is the account that may log in to the UI.
type BasicAuth struct {
	// Username is the name to give in the UI's login form.
	Username string
	// Password is the bcrypt hash of the password, such as
	// bcrypt.GenerateFromPassword or `htpasswd -bnBC 10 "" PASSWORD`
	// produce; never the password itself.
	Password string
}

// ErrNoAuth is returned by Instrument when Options has neither Auth nor
// NoAuth.
var ErrNoAuth = errors.New("admin: Options.Auth is required (set Options.NoAuth to run the UI without a login)")

// Options configures Instrument. Zero values mean the defaults.
type Options struct {
	// NamespaceName is the namespace the UI connects to; default
	// "/admin". It is also the UI's "Namespace" advanced option.
	NamespaceName string
	// Auth is the account that may log in. It is required unless NoAuth
	// is set.
	Auth *BasicAuth
	// NoAuth lets anyone who reaches the server in, without a login (the
	// Node package's auth: false): keep that for servers on a trusted
	// network. Instrument refuses options with neither Auth nor NoAuth, so
	// that a forgotten Auth does not open the UI to everyone.
	NoAuth bool
	// ReadOnly keeps the UI from acting on sockets: no joining, leaving,
	// disconnecting or emitting.
	ReadOnly bool
	// ServerID names this node in the UI's server list; default the host
	// name.
	ServerID string
	// Mode is Development (the default) or Production.
	Mode Mode
	// ServerStatsInterval is how often the server's figures are sent;
	// default 2s.
	ServerStatsInterval time.Duration
}

// Defaults of Options.
const (
	DefaultNamespaceName       = "/admin"
	DefaultServerStatsInterval = 2 * time.Second
)

// The UI's feature flags, sent in the config event.
const (
	featureEmit             = "EMIT"
	featureJoin             = "JOIN"
	featureLeave            = "LEAVE"
	featureDisconnect       = "DISCONNECT"
	featureMultiJoin        = "MJOIN"
	featureMultiLeave       = "MLEAVE"
	featureMultiDisconnect  = "MDISCONNECT"
	featureAggregatedEvents = "AGGREGATED_EVENTS"
	featureAllEvents        = "ALL_EVENTS"
)

// errInvalidCredentials refuses a login; the UI recognizes this exact
// message.
var errInvalidCredentials = errors.New("invalid credentials")

// ErrClosed refuses the UI's connections once the instrumentation is
// closed.
var ErrClosed = errors.New("admin: instrumentation closed")

const (
	sessionTTL         = 24 * time.Hour  // how long a login is remembered
	maxSessions        = 1000            // logins remembered at most
	pendingTTL         = time.Minute     // a login whose socket never connected
	fetchTimeout       = 5 * time.Second // bound of all_sockets' FetchSockets
	serverCountTimeout = time.Second     // bound of the adapter's ServerCount, for listening
	clientIDLength     = 12              // the UI's client ids, as the reference cuts them
	isoMillis          = "2006-01-02T15:04:05.000Z"
)

// processStart approximates the start of the process, for the uptime the
// UI shows.
var processStart = time.Now()

// Instrumentation is a server instrumented for the Admin UI. Close stops
// it.
type Instrumentation struct {
	io       *socketio.Server
	nsp      *socketio.Namespace
	opts     Options
	features []string
	hostname string

	removeObserver func()
	done           chan struct{}
	wg             sync.WaitGroup
	closed         atomic.Bool
	closeOnce      sync.Once

	sessions sessionStore
	pending  sync.Map // *socketio.Socket → pendingLogin: session ids to send once connected

	// multiNode is whether the server may have other nodes, where a UI may
	// be connected (see listening); true until checkNodes first asks.
	multiNode atomic.Bool

	mu      sync.Mutex
	last    engineio.Stats                       // the figures at the previous server_stats
	polling map[engineio.Conn][]*socketio.Socket // sockets of connections on polling (Development)
}

type pendingLogin struct {
	id string
	at time.Time
}

// Instrument serves the Admin UI from io: it adds the admin namespace,
// its login check and its handlers, watches the server and starts sending
// its figures. It fails when the options are invalid (a Password that is
// not a bcrypt hash, an unknown Mode).
func Instrument(io *socketio.Server, opts Options) (*Instrumentation, error) {
	if io == nil {
		return nil, errors.New("admin: nil server")
	}
	if opts.NamespaceName == "" {
		opts.NamespaceName = DefaultNamespaceName
	} else if !strings.HasPrefix(opts.NamespaceName, "/") {
		opts.NamespaceName = "/" + opts.NamespaceName
	}
	switch opts.Mode {
	case "":
		opts.Mode = Development
	case Development, Production:
	default:
		return nil, fmt.Errorf("admin: unknown mode %q", opts.Mode)
	}
	if opts.ServerStatsInterval <= 0 {
		opts.ServerStatsInterval = DefaultServerStatsInterval
	}
	switch {
	case opts.Auth == nil && !opts.NoAuth:
		return nil, ErrNoAuth
	case opts.Auth != nil && opts.NoAuth:
		return nil, errors.New("admin: Options.Auth and Options.NoAuth are both set")
	}
	if a := opts.Auth; a != nil {
		if _, err := bcrypt.Cost([]byte(a.Password)); err != nil {
			return nil, fmt.Errorf("admin: Auth.Password must be a bcrypt hash: %w", err)
		}
		auth := *a
		opts.Auth = &auth
	}
	hostname, _ := os.Hostname()
	if opts.ServerID == "" {
		opts.ServerID = hostname
	}
	in := &Instrumentation{
		io:       io,
		opts:     opts,
		features: features(opts),
		hostname: hostname,
		done:     make(chan struct{}),
		sessions: sessionStore{ids: make(map[string]time.Time)},
		polling:  make(map[engineio.Conn][]*socketio.Socket),
		last:     io.Engine().Stats(),
	}
	in.multiNode.Store(true)
	in.nsp = io.Of(opts.NamespaceName)
	in.nsp.Use(in.authenticate)
	in.nsp.OnConnection(in.onAdminConnection)
	if opts.Mode == Development {
		in.removeObserver = io.Observe(in.observer())
		for _, n := range io.Namespaces() {
			for _, s := range n.Sockets() {
				in.trackTransport(s)
			}
		}
	}
	in.wg.Add(1)
	go in.run()
	return in, nil
}

// features lists what the UI may do, as the config event tells it.
func features(opts Options) []string {
	var out []string
	if !opts.ReadOnly {
		out = append(out, featureEmit, featureJoin, featureLeave, featureDisconnect,
			featureMultiJoin, featureMultiLeave, featureMultiDisconnect)
	}
	out = append(out, featureAggregatedEvents)
	if opts.Mode == Development {
		out = append(out, featureAllEvents)
	}
	return out
}

// Namespace is the admin namespace the UI connects to.
func (in *Instrumentation) Namespace() *socketio.Namespace { return in.nsp }

// Close stops the instrumentation: it stops watching the server and
// sending figures, and disconnects the UI's sockets; the admin namespace
// then refuses connections with ErrClosed. It returns nil, and does
// nothing more when called again.
func (in *Instrumentation) Close() error {
	in.closeOnce.Do(func() {
		in.closed.Store(true)
		if in.removeObserver != nil {
			in.removeObserver()
		}
		close(in.done)
		in.wg.Wait()
		_ = in.nsp.DisconnectSockets(false)
	})
	return nil
}

// run sends the server's figures now and every ServerStatsInterval.
func (in *Instrumentation) run() {
	defer in.wg.Done()
	in.tick()
	t := time.NewTicker(in.opts.ServerStatsInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			in.tick()
		case <-in.done:
			return
		}
	}
}

// tick sends server_stats and does the periodic chores.
func (in *Instrumentation) tick() {
	in.checkNodes()
	in.emitStats()
	now := time.Now()
	in.pending.Range(func(k, v any) bool {
		if now.Sub(v.(pendingLogin).at) > pendingTTL {
			in.pending.Delete(k)
		}
		return true
	})
}

// Logging in.

// authenticate is the admin namespace's middleware: it lets in a known
// session id, or the right username and password, for which it makes a
// session id that the connection handler sends to the UI.
func (in *Instrumentation) authenticate(s *socketio.Socket) error {
	if in.closed.Load() {
		return ErrClosed
	}
	a := in.opts.Auth
	if a == nil {
		return nil
	}
	auth, _ := s.Handshake().Auth.(map[string]any)
	if id, _ := auth["sessionId"].(string); id != "" && in.sessions.valid(id) {
		return nil
	}
	user, _ := auth["username"].(string)
	pass, _ := auth["password"].(string)
	// The hash is checked whatever the username, so that the time taken
	// does not tell whether the username was right.
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(a.Username)) == 1
	passOK := bcrypt.CompareHashAndPassword([]byte(a.Password), []byte(pass)) == nil
	if !userOK || !passOK {
		return errInvalidCredentials
	}
	id := newSessionID()
	in.sessions.add(id)
	in.pending.Store(s, pendingLogin{id: id, at: time.Now()})
	return nil
}

// newSessionID returns 32 random hexadecimal digits.
func newSessionID() string { return randid.Hex(32) }

// sessionStore remembers the UI's logins for sessionTTL.
type sessionStore struct {
	mu  sync.Mutex
	ids map[string]time.Time // → expiry
}

func (st *sessionStore) valid(id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	exp, ok := st.ids[id]
	if ok && time.Now().After(exp) {
		delete(st.ids, id)
		return false
	}
	return ok
}

func (st *sessionStore) add(id string) {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, exp := range st.ids {
		if now.After(exp) {
			delete(st.ids, k)
		}
	}
	if len(st.ids) >= maxSessions {
		// Forget the login closest to expiry.
		oldest, first := "", time.Time{}
		for k, exp := range st.ids {
			if oldest == "" || exp.Before(first) {
				oldest, first = k, exp
			}
		}
		delete(st.ids, oldest)
	}
	st.ids[id] = now.Add(sessionTTL)
}

// The UI's connection.

type config struct {
	SupportedFeatures []string `json:"supportedFeatures"`
}

// onAdminConnection greets a UI: its session id when it just logged in,
// the config, and in Development the list of every socket.
func (in *Instrumentation) onAdminConnection(s *socketio.Socket) {
	if in.closed.Load() {
		s.Disconnect(false)
		return
	}
	if v, ok := in.pending.LoadAndDelete(s); ok {
		_ = s.Emit("session", v.(pendingLogin).id)
	}
	if !in.opts.ReadOnly {
		in.handleActions(s)
	}
	_ = s.Emit("config", config{SupportedFeatures: in.features})
	if in.opts.Mode == Development {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		all := in.allSockets(ctx)
		cancel()
		_ = s.Emit("all_sockets", all)
	}
}

// allSockets describes the sockets of every namespace, on every node.
func (in *Instrumentation) allSockets(ctx context.Context) []socketJSON {
	out := []socketJSON{}
	for _, n := range sortedNamespaces(in.io) {
		remote, err := n.FetchSockets(ctx)
		if err != nil {
			continue
		}
		for _, r := range remote {
			var clientID, transport string
			if s := n.LocalSocket(r.ID); s != nil {
				clientID, transport = sessionOf(s)
			}
			out = append(out, serialize(r.ID, n.Name(), clientID, transport, r.Handshake, r.Rooms, r.Data))
		}
	}
	return out
}

// sortedNamespaces lists the server's namespaces by name.
func sortedNamespaces(io *socketio.Server) []*socketio.Namespace {
	nsps := io.Namespaces()
	slices.SortFunc(nsps, func(a, b *socketio.Namespace) int { return strings.Compare(a.Name(), b.Name()) })
	return nsps
}

// The UI's actions.

// handleActions adds the handlers of what the UI can ask: emit, join,
// leave and _disconnect, each on the sockets of a namespace, or those in
// the room filter when it is not empty (a socket's id for one socket).
func (in *Instrumentation) handleActions(s *socketio.Socket) {
	s.On("emit", func(nsp, filter, event string, args socketio.Args) error {
		op, ok := in.target(nsp, filter)
		if !ok {
			return nil
		}
		values := make([]any, len(args))
		for i, a := range args {
			if err := a.Decode(&values[i]); err != nil {
				return err
			}
		}
		return op.Emit(event, values...)
	})
	s.On("join", func(nsp, room, filter string) error {
		if op, ok := in.target(nsp, filter); ok {
			return op.SocketsJoin(room)
		}
		return nil
	})
	s.On("leave", func(nsp, room, filter string) error {
		if op, ok := in.target(nsp, filter); ok {
			return op.SocketsLeave(room)
		}
		return nil
	})
	s.On("_disconnect", func(nsp string, close bool, filter string) error {
		if op, ok := in.target(nsp, filter); ok {
			return op.DisconnectSockets(close)
		}
		return nil
	})
}

// target selects the sockets of namespace nsp in room filter, or all of
// them when filter is empty; ok is false when there is no such namespace
// (the UI does not create namespaces).
func (in *Instrumentation) target(nsp, filter string) (op socketio.BroadcastOperator, ok bool) {
	for _, n := range in.io.Namespaces() {
		if n.Name() != nsp {
			continue
		}
		if filter == "" {
			return n.To(), true
		}
		return n.In(filter), true
	}
	return socketio.BroadcastOperator{}, false
}
