package socketio

import (
	"context"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// BroadcastOperator selects sockets of a namespace, on every node of the
// cluster, and acts on them: emit, fetch, join, leave, disconnect. It is
// an immutable value: To, Except and the flag methods return a new
// operator and leave the receiver as it was, so one can be kept, reused
// and shared between goroutines.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	flags  adapter.Flags
}

// clone is a copy of b whose room lists are appended to without changing
// b's.
func (b BroadcastOperator) clone() BroadcastOperator {
	c := b
	c.rooms = c.rooms[:len(c.rooms):len(c.rooms)]
	c.except = c.except[:len(c.except):len(c.except)]
	return c
}

// To adds rooms to those selected: sockets in any of them are selected.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	c := b.clone()
	c.rooms = append(c.rooms, rooms...)
	return c
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except leaves out the sockets in any of rooms.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	c := b.clone()
	c.except = append(c.except, rooms...)
	return c
}

// Volatile drops the event for clients that cannot take it at once.
func (b BroadcastOperator) Volatile() BroadcastOperator {
	c := b.clone()
	c.flags.Volatile = true
	return c
}

// Compress sets whether the event may be compressed.
func (b BroadcastOperator) Compress(compress bool) BroadcastOperator {
	c := b.clone()
	c.flags.NoCompress = !compress
	return c
}

// Local keeps the broadcast on this node.
func (b BroadcastOperator) Local() BroadcastOperator {
	c := b.clone()
	c.flags.Local = true
	return c
}

// Timeout bounds the wait of EmitWithAck.
func (b BroadcastOperator) Timeout(d time.Duration) BroadcastOperator {
	c := b.clone()
	c.flags.Timeout = d
	return c
}

func (b BroadcastOperator) options() *adapter.BroadcastOptions {
	return &adapter.BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// Emit sends an event to the selected sockets. The packet is encoded once
// for all of them. Emitting a reserved event name returns
// ErrReservedEvent.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	for _, n := range b.nsp.targets() {
		p, err := eventPacket(n.name, event, args)
		if err != nil {
			return err
		}
		if err := n.adapter.Broadcast(context.Background(), p, b.options()); err != nil {
			return err
		}
	}
	return nil
}

// EmitWithAck sends an event to the selected sockets and waits for every
// one's acknowledgement, until ctx is done or the timeout (Timeout, or
// else the server's AckTimeout) passes. It returns the answers received,
// in the order they came, and ErrAckTimeout (or ctx's error) when some
// were missing. A socket that already owes Options.MaxPendingAcks answers
// is left out, and not waited for. When it returns, the answers still
// missing are no longer waited for.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if parser.IsReservedEvent(event) {
		return nil, ErrReservedEvent
	}
	ctx, cancel := b.nsp.server.ackContext(ctx, b.flags.Timeout)
	defer cancel()
	opts := b.options()
	if deadline, ok := ctx.Deadline(); ok {
		// Adapters learn how long to keep the acknowledgements they wait
		// for on other nodes.
		opts.Flags.Timeout = time.Until(deadline)
	}
	col := newAckCollector()
	for _, n := range b.nsp.targets() {
		servers := 1
		if !b.flags.Local {
			count, err := n.adapter.ServerCount(ctx)
			if err != nil {
				return nil, err
			}
			servers = count
		}
		col.expect(servers)
		p, err := eventPacket(n.name, event, args)
		if err != nil {
			return nil, err
		}
		if err := n.adapter.BroadcastWithAck(ctx, p, opts, col.onCount, col.onAck); err != nil {
			return nil, err
		}
	}
	col.seal()
	return col.wait(ctx)
}

// RemoteSocket describes a socket selected by FetchSockets, connected to
// this node or another, and acts on it through the adapter.
type RemoteSocket struct {
	ID        string
	Handshake adapter.Handshake
	Rooms     []string
	Data      any

	nsp *Namespace
}

// Emit sends an event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	return r.nsp.To(r.ID).Emit(event, args...)
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(rooms ...string) error { return r.nsp.To(r.ID).SocketsJoin(rooms...) }

// Leave makes the socket leave rooms.
func (r *RemoteSocket) Leave(rooms ...string) error { return r.nsp.To(r.ID).SocketsLeave(rooms...) }

// Disconnect disconnects the socket; with close, its whole connection.
func (r *RemoteSocket) Disconnect(close bool) error {
	return r.nsp.To(r.ID).DisconnectSockets(close)
}

// FetchSockets describes the selected sockets of every node.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	var out []*RemoteSocket
	for _, n := range b.nsp.targets() {
		infos, err := n.adapter.FetchSockets(ctx, b.options())
		if err != nil {
			return nil, err
		}
		for _, i := range infos {
			out = append(out, &RemoteSocket{ID: i.ID, Handshake: i.Handshake, Rooms: i.Rooms, Data: i.Data, nsp: n})
		}
	}
	return out, nil
}

// SocketsJoin makes the selected sockets join rooms.
func (b BroadcastOperator) SocketsJoin(rooms ...string) error {
	for _, n := range b.nsp.targets() {
		if err := n.adapter.AddSockets(context.Background(), b.options(), rooms); err != nil {
			return err
		}
	}
	return nil
}

// SocketsLeave makes the selected sockets leave rooms.
func (b BroadcastOperator) SocketsLeave(rooms ...string) error {
	for _, n := range b.nsp.targets() {
		if err := n.adapter.DelSockets(context.Background(), b.options(), rooms); err != nil {
			return err
		}
	}
	return nil
}

// DisconnectSockets disconnects the selected sockets; with close, their
// whole connections.
func (b BroadcastOperator) DisconnectSockets(close bool) error {
	for _, n := range b.nsp.targets() {
		if err := n.adapter.DisconnectSockets(context.Background(), b.options(), close); err != nil {
			return err
		}
	}
	return nil
}
