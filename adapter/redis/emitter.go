package redisadapter

import (
	"context"
	"errors"
	"fmt"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/parser"
	"github.com/redis/go-redis/v9"
)

// emitterUID is the uid the emitters of every language send with.
const emitterUID = "emitter"

// ErrReservedEvent is returned when emitting an event name that the
// protocol reserves ("connect", "disconnect", ...).
var ErrReservedEvent = errors.New("redisadapter: reserved event name")

// EmitterOptions configures an Emitter.
type EmitterOptions struct {
	// Key prefixes the channels, as Options.Key; default "socket.io".
	Key string
}

// Emitter sends events and commands into a cluster of servers using the
// pub/sub adapter (NewFactory, or @socket.io/redis-adapter in Node) from a
// process that serves no clients, as @socket.io/redis-emitter does. Its
// methods publish at once and return Redis's error, if any. An Emitter is
// immutable and safe for concurrent use.
type Emitter struct {
	rdb redis.UniversalClient
	key string
	nsp string
}

// NewEmitter returns an emitter for the namespace "/".
func NewEmitter(client redis.UniversalClient, opts *EmitterOptions) *Emitter {
	key := "socket.io"
	if opts != nil && opts.Key != "" {
		key = opts.Key
	}
	return &Emitter{rdb: client, key: key, nsp: "/"}
}

// Of returns an emitter for the namespace nsp.
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
	if parser.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	data, err := cluster.NormalizeArgs(append([]any{event}, args...))
	if err != nil {
		return err
	}
	return e.request(ctx, map[string]any{"uid": emitterUID, "type": reqServerSideEmit, "data": data})
}

func (e *Emitter) request(ctx context.Context, msg map[string]any) error {
	payload, err := cluster.EncodeAny(msg)
	if err != nil {
		return err
	}
	if err := e.rdb.Publish(ctx, e.key+"-request#"+e.nsp+"#", payload).Err(); err != nil {
		return fmt.Errorf("redisadapter: emitter: %w", err)
	}
	return nil
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
	opts := o.opts()
	packet := map[string]any{"type": int64(parser.SocketPacketEvent), "data": data, "nsp": o.e.nsp}
	payload, err := cluster.EncodeMsgpack([]any{emitterUID, packet, cluster.EncodeOpts(opts, true)})
	if err != nil {
		return err
	}
	channel := o.e.key + "#" + o.e.nsp + "#"
	if len(opts.Rooms) == 1 {
		channel += opts.Rooms[0] + "#"
	}
	if err := o.e.rdb.Publish(ctx, channel, payload).Err(); err != nil {
		return fmt.Errorf("redisadapter: emitter: %w", err)
	}
	return nil
}

// SocketsJoin makes the selected sockets join rooms.
func (o *EmitterOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return o.e.request(ctx, map[string]any{"type": reqRemoteJoin, "opts": cluster.EncodeOpts(o.opts(), false), "rooms": cluster.StringsToAny(rooms)})
}

// SocketsLeave makes the selected sockets leave rooms.
func (o *EmitterOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return o.e.request(ctx, map[string]any{"type": reqRemoteLeave, "opts": cluster.EncodeOpts(o.opts(), false), "rooms": cluster.StringsToAny(rooms)})
}

// DisconnectSockets disconnects the selected sockets; with close, their
// whole connections.
func (o *EmitterOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return o.e.request(ctx, map[string]any{"type": reqRemoteDisconnect, "opts": cluster.EncodeOpts(o.opts(), false), "close": close})
}
