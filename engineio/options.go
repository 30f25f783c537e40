package engineio

import (
	"log/slog"
	"net/http"
	"time"
)

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
	// Transports lists the transports accepted; default both
	// (TransportPolling and TransportWebSocket).
	Transports []Transport
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
	// Cluster, when set, makes this server a node of a cluster that needs
	// no sticky sessions: a request for a session another node holds is
	// served for that node (see ClusterOptions).
	Cluster *ClusterOptions
	// InitialHeaders, when set, may change the headers of a handshake's
	// response before it is sent (to add a cookie, say): the reference's
	// "initial_headers" event. h holds the headers set so far (CORS, the
	// session cookie of Cookie), r is the handshake request. Headers is
	// called after it. Over WebSocket, h is what is added to the upgrade
	// response, whose WebSocket headers are not there to change. It is
	// called on the request's goroutine, and must be safe for concurrent
	// use.
	InitialHeaders func(h http.Header, r *http.Request)
	// Headers, when set, may change the headers of every response that
	// serves a session, as InitialHeaders does those of a handshake: the
	// reference's "headers" event. These are the handshake (after
	// InitialHeaders), every polling GET and POST answered, and every
	// WebSocket upgrade (accepted, even when the upgrade then fails); not
	// refusals (an error code and message, a 400 or 413 of the transport)
	// nor CORS preflights. A GET's headers are settled when it arrives,
	// before it waits for something to send: the server sets
	// Content-Type, Content-Length and Cache-Control after the call.
	Headers func(h http.Header, r *http.Request)
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
