package cluster

import (
	"context"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// EmitterSend publishes op, an operation of an emitter on the namespace
// nsp, in the format of one adapter. Its ops are OpBroadcast (without a
// request id), OpJoin, OpLeave, OpDisconnect and OpServerSideEmit.
type EmitterSend func(ctx context.Context, nsp string, op *Op) error

// Emitter sends events and commands into a cluster of servers from a
// process that serves no clients, through one adapter's EmitterSend.
// Each cluster adapter's NewEmitter returns one. Its methods publish at
// once and return the publication's error, if any. An Emitter is
// immutable and safe for concurrent use; it starts no goroutine.
type Emitter struct {
	send     EmitterSend
	reserved error
	nsp      string
}

// NewEmitter returns an emitter for the namespace "/" that publishes
// with send and returns reserved for an event name the protocol
// reserves.
func NewEmitter(send EmitterSend, reserved error) *Emitter {
	return &Emitter{send: send, reserved: reserved, nsp: "/"}
}

// Of returns an emitter for the namespace nsp, with the same options.
func (e *Emitter) Of(nsp string) *Emitter {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	c := *e
	c.nsp = nsp
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
	data, err := e.eventData(event, args)
	if err != nil {
		return err
	}
	return e.send(ctx, e.nsp, &Op{Kind: OpServerSideEmit, Data: data})
}

// eventData is the event name and its arguments as they travel.
func (e *Emitter) eventData(event string, args []any) ([]any, error) {
	if parser.IsReservedEvent(event) {
		return nil, e.reserved
	}
	return NormalizeArgs(append([]any{event}, args...))
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
	return &adapter.BroadcastOptions{Rooms: Dedupe(o.rooms), Except: o.except, Flags: o.flags}
}

// Emit sends an event to the selected sockets.
func (o *EmitterOperator) Emit(ctx context.Context, event string, args ...any) error {
	data, err := o.e.eventData(event, args)
	if err != nil {
		return err
	}
	packet := map[string]any{"type": int64(parser.SocketPacketEvent), "data": data, "nsp": o.e.nsp}
	return o.e.send(ctx, o.e.nsp, &Op{Kind: OpBroadcast, Packet: packet, Opts: o.opts()})
}

// SocketsJoin makes the selected sockets join rooms.
func (o *EmitterOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return o.e.send(ctx, o.e.nsp, &Op{Kind: OpJoin, Opts: o.opts(), Rooms: rooms})
}

// SocketsLeave makes the selected sockets leave rooms.
func (o *EmitterOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return o.e.send(ctx, o.e.nsp, &Op{Kind: OpLeave, Opts: o.opts(), Rooms: rooms})
}

// DisconnectSockets disconnects the selected sockets; with close, their
// whole connections.
func (o *EmitterOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return o.e.send(ctx, o.e.nsp, &Op{Kind: OpDisconnect, Opts: o.opts(), Close: close})
}
