package postgresadapter

import (
	"context"
	"errors"

	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrReservedEvent is returned when emitting an event name that the
// protocol reserves ("connect", "disconnect", ...).
var ErrReservedEvent = errors.New("postgresadapter: reserved event name")

// EmitterOptions configures an Emitter. Zero values mean the defaults of
// @socket.io/postgres-emitter, which are those of Options.
type EmitterOptions struct {
	// ChannelPrefix, as Options.ChannelPrefix; default "socket.io".
	ChannelPrefix string
	// TableName, as Options.TableName; default "socket_io_attachments".
	TableName string
	// PayloadThreshold, as Options.PayloadThreshold; default 8000.
	PayloadThreshold int
}

// Emitter sends events and commands into a cluster of servers from a
// process that serves no clients (NewEmitter).
type Emitter = cluster.Emitter

// EmitterOperator selects sockets for an Emitter.
type EmitterOperator = cluster.EmitterOperator

// NewEmitter returns an emitter for the namespace "/", for a cluster of
// servers using the PostgreSQL adapter (NewFactory, or
// @socket.io/postgres-adapter in Node), as @socket.io/postgres-emitter
// does. Its methods publish at once and return PostgreSQL's error, if
// any.
//
// Its messages carry the namespace at the top level, which those of
// @socket.io/postgres-emitter 0.1 lack: Node servers on
// @socket.io/postgres-adapter 0.5 ignore the Node emitter's messages,
// and act on these (Go servers act on both).
func NewEmitter(pool *pgxpool.Pool, opts *EmitterOptions) *Emitter {
	var o Options
	if opts != nil {
		o = Options{ChannelPrefix: opts.ChannelPrefix, TableName: opts.TableName, PayloadThreshold: opts.PayloadThreshold}
	}
	h := newHub(pool, &o)
	send := func(ctx context.Context, nsp string, op *cluster.Op) error {
		ch, err := channelName(h.opts.ChannelPrefix, nsp)
		if err != nil {
			return err
		}
		return h.publish(ctx, ch, cluster.Encode(op, emitterUID, nsp))
	}
	return cluster.NewEmitter(send, ErrReservedEvent)
}
