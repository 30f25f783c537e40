package natsadapter

import (
	"context"
	"errors"
	"fmt"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/parser"
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

// Emitter sends events and commands into a cluster of servers using this
// adapter (NewFactory) from a process that serves no clients. Its
// methods publish at once and return the publication's error, if any
// (nats.go buffers publications while it reconnects; core NATS delivers
// them to the servers connected at that moment, at most once). With
// EmitterOptions.JetStream, what goes through the stream waits for the
// server's acknowledgement, within ctx; otherwise ctx is not used. An
// Emitter is immutable and safe for concurrent use; it starts no
// goroutine.
type Emitter struct {
	nc     *nats.Conn
	js     jetstream.JetStream // nil without EmitterOptions.JetStream
	prefix string
	err    error // a configuration error: every method returns it
	nsp    string
	subj   subjects
}

// NewEmitter returns an emitter for the namespace "/" on nc, which
// stays the caller's.
func NewEmitter(nc *nats.Conn, opts *EmitterOptions) *Emitter {
	var o Options
	if opts != nil {
		o.Prefix = opts.Prefix
	}
	o, err := o.withDefaults()
	e := &Emitter{nc: nc, prefix: o.Prefix, err: err}
	if opts != nil && opts.JetStream && err == nil {
		if e.js, err = jetstream.New(nc); err != nil {
			e.err = fmt.Errorf("natsadapter: %w", err)
		}
	}
	return e.Of("/")
}

// Of returns an emitter for the namespace nsp, with the same options.
func (e *Emitter) Of(nsp string) *Emitter {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	c := *e
	c.nsp = nsp
	c.subj = newSubjects(e.prefix, nsp)
	return &c
}

func (e *Emitter) operator() *EmitterOperator { return &EmitterOperator{e: e} }

// To selects the sockets in any of rooms.
func (e *Emitter) To(rooms ...string) *EmitterOperator { return e.operator().To(rooms...) }

// In is To.
func (e *Emitter) In(rooms ...string) *EmitterOperator { return e.To(rooms...) }

// Except leaves out the sockets in any of rooms.
func (e *Emitter) Except(rooms ...string) *EmitterOperator { return e.operator().Except(rooms...) }

// Volatile lets the servers drop the event for clients not ready for it.
func (e *Emitter) Volatile() *EmitterOperator { return e.operator().Volatile() }

// Compress sets whether the event may be compressed.
func (e *Emitter) Compress(compress bool) *EmitterOperator {
	return e.operator().Compress(compress)
}

// Emit sends an event to every socket of the namespace.
func (e *Emitter) Emit(ctx context.Context, event string, args ...any) error {
	return e.operator().Emit(ctx, event, args...)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (e *Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.operator().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (e *Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.operator().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace; with close,
// their whole connections.
func (e *Emitter) DisconnectSockets(ctx context.Context, close bool) error {
	return e.operator().DisconnectSockets(ctx, close)
}

// ServerSideEmit sends an event to the server-side handlers of the
// namespace on every server. Acknowledgements are not supported.
func (e *Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if parser.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	data, err := cluster.NormalizeArgs(append([]any{event}, args...))
	if err != nil {
		return err
	}
	return e.send(ctx, &cluster.Op{Kind: cluster.OpServerSideEmit, Data: data})
}

// send publishes an op on its subject.
func (e *Emitter) send(ctx context.Context, o *cluster.Op) error {
	if e.err != nil {
		return e.err
	}
	if e.js != nil && (o.Kind == cluster.OpBroadcast || streamed(o.Kind)) {
		b, err := encode(o, cluster.EmitterUID, e.nsp)
		if err != nil {
			return err
		}
		if _, err := e.js.Publish(ctx, e.subj.base+"js", b); err != nil {
			return fmt.Errorf("natsadapter: publish on the stream: %w", err)
		}
		return nil
	}
	return publish(e.nc, e.subj.subject(o), o, cluster.EmitterUID, e.nsp)
}

// EmitterOperator selects sockets for an Emitter. It is immutable: each
// method returns a new operator.
type EmitterOperator struct {
	e      *Emitter
	rooms  []string
	except []string
	flags  adapter.Flags
}

func (o *EmitterOperator) clone() *EmitterOperator {
	c := *o
	c.rooms = c.rooms[:len(c.rooms):len(c.rooms)]
	c.except = c.except[:len(c.except):len(c.except)]
	return &c
}

// To adds rooms to those selected.
func (o *EmitterOperator) To(rooms ...string) *EmitterOperator {
	c := o.clone()
	c.rooms = append(c.rooms, rooms...)
	return c
}

// In is To.
func (o *EmitterOperator) In(rooms ...string) *EmitterOperator { return o.To(rooms...) }

// Except leaves out the sockets in any of rooms.
func (o *EmitterOperator) Except(rooms ...string) *EmitterOperator {
	c := o.clone()
	c.except = append(c.except, rooms...)
	return c
}

// Volatile lets the servers drop the event for clients not ready for it.
func (o *EmitterOperator) Volatile() *EmitterOperator {
	c := o.clone()
	c.flags.Volatile = true
	return c
}

// Compress sets whether the event may be compressed.
func (o *EmitterOperator) Compress(compress bool) *EmitterOperator {
	c := o.clone()
	c.flags.NoCompress = !compress
	return c
}

func (o *EmitterOperator) opts() *adapter.BroadcastOptions {
	return &adapter.BroadcastOptions{Rooms: cluster.Dedupe(o.rooms), Except: o.except, Flags: o.flags}
}

// Emit sends an event to the selected sockets.
func (o *EmitterOperator) Emit(ctx context.Context, event string, args ...any) error {
	if parser.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	data, err := cluster.NormalizeArgs(append([]any{event}, args...))
	if err != nil {
		return err
	}
	packet := map[string]any{"type": int64(parser.SocketPacketEvent), "data": data, "nsp": o.e.nsp}
	return o.e.send(ctx, &cluster.Op{Kind: cluster.OpBroadcast, Packet: packet, Opts: o.opts()})
}

// SocketsJoin makes the selected sockets join rooms.
func (o *EmitterOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return o.e.send(ctx, &cluster.Op{Kind: cluster.OpJoin, Opts: o.opts(), Rooms: rooms})
}

// SocketsLeave makes the selected sockets leave rooms.
func (o *EmitterOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return o.e.send(ctx, &cluster.Op{Kind: cluster.OpLeave, Opts: o.opts(), Rooms: rooms})
}

// DisconnectSockets disconnects the selected sockets; with close, their
// whole connections.
func (o *EmitterOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return o.e.send(ctx, &cluster.Op{Kind: cluster.OpDisconnect, Opts: o.opts(), Close: close})
}
