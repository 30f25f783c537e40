package natsadapter

import (
	"context"
	"errors"
	"fmt"

	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrReservedEvent is returned when emitting an event name that the
// protocol reserves ("connect", "disconnect", ...).
var ErrReservedEvent = errors.New("natsadapter: reserved event name")

// EmitterOptions configures an Emitter. The zero value means the
// defaults.
type EmitterOptions struct {
	// Prefix, as Options.Prefix; default "socketio".
	Prefix string
	// JetStream sends broadcasts and room and disconnection commands
	// through the namespace's stream subject, for servers with
	// Options.RecoveryWindow: their clients can then recover what the
	// emitter sent. The servers' stream must exist.
	JetStream bool
}

// Emitter sends events and commands into a cluster of servers from a
// process that serves no clients (NewEmitter).
type Emitter = cluster.Emitter

// EmitterOperator selects sockets for an Emitter.
type EmitterOperator = cluster.EmitterOperator

// NewEmitter returns an emitter for the namespace "/" on nc, which stays
// the caller's, for a cluster of servers using this adapter (NewFactory).
// Its methods publish at once and return the publication's error, if
// any (nats.go buffers publications while it reconnects; core NATS
// delivers them to the servers connected at that moment, at most once).
// With EmitterOptions.JetStream, what goes through the stream waits for
// the server's acknowledgement, within ctx; otherwise ctx is not used.
func NewEmitter(nc *nats.Conn, opts *EmitterOptions) *Emitter {
	var o Options
	if opts != nil {
		o.Prefix = opts.Prefix
	}
	o, err := o.withDefaults()
	var js jetstream.JetStream // nil without EmitterOptions.JetStream
	if opts != nil && opts.JetStream && err == nil {
		if js, err = jetstream.New(nc); err != nil {
			err = fmt.Errorf("natsadapter: %w", err)
		}
	}
	send := func(ctx context.Context, nsp string, op *cluster.Op) error {
		if err != nil {
			return err // a configuration error: every method returns it
		}
		subj := newSubjects(o.Prefix, nsp)
		if js != nil && (op.Kind == cluster.OpBroadcast || streamed(op.Kind)) {
			b, err := encode(op, cluster.EmitterUID, nsp)
			if err != nil {
				return err
			}
			if _, err := js.Publish(ctx, subj.base+"js", b); err != nil {
				return fmt.Errorf("natsadapter: publish on the stream: %w", err)
			}
			return nil
		}
		return publish(nc, subj.subject(op), op, cluster.EmitterUID, nsp)
	}
	return cluster.NewEmitter(send, ErrReservedEvent)
}
