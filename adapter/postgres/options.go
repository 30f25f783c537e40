package postgresadapter

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/duplexio/duplex/adapter/cluster"
)

// Options configures the adapter. Zero values mean the defaults of
// @socket.io/postgres-adapter's createAdapter.
type Options struct {
	// ChannelPrefix prefixes the notification channels: a namespace's
	// channel is "<prefix>#<namespace>"; default "socket.io". PostgreSQL
	// limits channel names to 63 bytes.
	ChannelPrefix string
	// TableName is the table of the payloads too big for a notification
	// or holding binary; default "socket_io_attachments". It is written
	// into the SQL as is (PostgreSQL folds it to lower case), as Node
	// does, so it must be a plain or schema-qualified identifier. The
	// adapter does not create it: see CreateAttachmentsTable.
	TableName string
	// PayloadThreshold is the size in bytes of the JSON form of a message
	// above which it goes through the attachments table; default 8000.
	// PostgreSQL refuses notifications of 8000 bytes or more, so larger
	// values act as 7999.
	PayloadThreshold int
	// CleanupInterval is how often the attachments older than it are
	// deleted; default 30s.
	CleanupInterval time.Duration
	// HeartbeatInterval is how often a node tells the others it is alive;
	// default 5s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a node that was not heard from still
	// counts; default 10s.
	HeartbeatTimeout time.Duration
	// RequestsTimeout bounds the wait for other nodes' answers
	// (FetchSockets, ServerSideEmitWithAck) when the context does not say
	// sooner, and each statement sent to PostgreSQL; default 5s.
	RequestsTimeout time.Duration
	// RecoveryWindow, when above zero, enables connection state recovery
	// on the same node (sessions and missed packets are kept in memory,
	// as the in-memory adapter does); the Node adapter has no recovery
	// across nodes, and neither does this one.
	RecoveryWindow time.Duration
	// Logger receives connection losses and recoveries and the messages
	// that could not be handled; default none.
	Logger *slog.Logger
}

// Defaults, as in @socket.io/postgres-adapter and socket.io-adapter.
const (
	defaultChannelPrefix     = "socket.io"
	defaultTableName         = "socket_io_attachments"
	defaultPayloadThreshold  = 8000
	defaultCleanupInterval   = 30 * time.Second
	defaultHeartbeatInterval = 5 * time.Second
	defaultHeartbeatTimeout  = 10 * time.Second
	defaultRequestsTimeout   = 5 * time.Second
	// maxPayload is the longest notification payload PostgreSQL takes.
	maxPayload = 7999
	// maxChannel is the longest channel name, in bytes (NAMEDATALEN-1).
	maxChannel = 63
	// emitterUID is the uid of the messages of emitters.
	emitterUID = cluster.EmitterUID
)

// ErrClosed is returned by the methods of a closed adapter.
var ErrClosed = errors.New("postgresadapter: closed")

// ErrTimeout is returned, wrapped with the details, when other nodes did
// not all answer a request in time.
var ErrTimeout = errors.New("postgresadapter: timeout waiting for other nodes")

// ErrChannelTooLong is returned, wrapped, for a namespace whose channel
// name is longer than PostgreSQL's 63 bytes: nothing can be sent on it.
var ErrChannelTooLong = errors.New("postgresadapter: channel name longer than 63 bytes")

// tableNamePattern is what TableName may be: an identifier, maybe
// schema-qualified.
var tableNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)

// withDefaults fills in the defaults and checks the table name.
func (o Options) withDefaults() (Options, error) {
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = defaultChannelPrefix
	}
	if o.TableName == "" {
		o.TableName = defaultTableName
	}
	if !tableNamePattern.MatchString(o.TableName) {
		return o, fmt.Errorf("postgresadapter: table name %q is not an identifier", o.TableName)
	}
	if o.PayloadThreshold <= 0 {
		o.PayloadThreshold = defaultPayloadThreshold
	}
	o.PayloadThreshold = min(o.PayloadThreshold, maxPayload)
	if o.CleanupInterval <= 0 {
		o.CleanupInterval = defaultCleanupInterval
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// channelName is the notification channel of namespace nsp.
func channelName(prefix, nsp string) (string, error) {
	ch := prefix + "#" + nsp
	if len(ch) > maxChannel {
		return ch, fmt.Errorf("%w: %q", ErrChannelTooLong, ch)
	}
	return ch, nil
}
