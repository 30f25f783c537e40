package natsadapter

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options configures the adapters of a factory. The zero value means the
// defaults.
type Options struct {
	// Prefix is the first token(s) of every subject; default "socketio".
	// It may hold dots (several tokens), but no wildcard token, empty
	// token or whitespace.
	Prefix string
	// HeartbeatInterval is how often a node tells the others it is alive;
	// default 5s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a node that was not heard from still
	// counts; default 10s.
	HeartbeatTimeout time.Duration
	// RequestsTimeout bounds the wait for other nodes' answers
	// (FetchSockets, ServerSideEmit with acks) when the context does not
	// say sooner, and the wait for the NATS server to confirm a
	// namespace's subscriptions; default 5s.
	RequestsTimeout time.Duration
	// RecoveryWindow, when above zero, enables connection state recovery
	// across nodes on JetStream, which the NATS server must have enabled:
	// broadcasts without acks go through the stream StreamName (entries
	// kept for the window, MaxLen at most), which every node reads back
	// and delivers with the entry's sequence as the offset, and sessions
	// are kept in the key-value bucket SessionBucket (entries expire after
	// the window). The factory creates both, or updates them to these
	// options. When JetStream cannot be set up, the error is logged and
	// sessions are kept in memory, for the same node only.
	RecoveryWindow time.Duration
	// StreamName is the stream of recovery; default "SOCKETIO".
	StreamName string
	// SessionBucket is the key-value bucket of sessions; default
	// "socketio-sessions".
	SessionBucket string
	// MaxLen bounds the entries of the stream; default 10000. A session
	// whose offset fell out of the stream cannot be recovered.
	MaxLen int
	// Logger receives reconnections and the messages that could not be
	// handled; default none.
	Logger *slog.Logger
}

// Defaults.
const (
	defaultPrefix            = "socketio"
	defaultHeartbeatInterval = 5 * time.Second
	defaultHeartbeatTimeout  = 10 * time.Second
	defaultRequestsTimeout   = 5 * time.Second
	defaultStreamName        = "SOCKETIO"
	defaultSessionBucket     = "socketio-sessions"
	defaultMaxLen            = 10000
	// msgBuffer is how many messages a namespace's adapter holds before
	// it handles them; more are dropped (nats.ErrSlowConsumer, reported
	// to the connection's error handler).
	msgBuffer = 1 << 16
)

// ErrClosed is returned by the methods of a closed adapter.
var ErrClosed = errors.New("natsadapter: closed")

// ErrTimeout is returned, wrapped with the details, when other nodes did
// not all answer a request in time.
var ErrTimeout = errors.New("natsadapter: timeout waiting for other nodes")

// ErrInvalidPrefix is returned, wrapped, by every operation that reaches
// other nodes when Options.Prefix is not a valid subject.
var ErrInvalidPrefix = errors.New("natsadapter: invalid subject prefix")

// withDefaults fills in the defaults and checks the prefix.
func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = defaultHeartbeatInterval
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = defaultHeartbeatTimeout
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = defaultRequestsTimeout
	}
	if o.StreamName == "" {
		o.StreamName = defaultStreamName
	}
	if o.SessionBucket == "" {
		o.SessionBucket = defaultSessionBucket
	}
	if o.MaxLen <= 0 {
		o.MaxLen = defaultMaxLen
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, checkPrefix(o.Prefix)
}

// checkPrefix reports whether p can start a subject.
func checkPrefix(p string) error {
	for _, tok := range strings.Split(p, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n\x00") {
			return fmt.Errorf("%w: %q", ErrInvalidPrefix, p)
		}
	}
	return nil
}
