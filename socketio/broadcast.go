package socketio

import (
	"context"
	"sync"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// BroadcastOperator selects sockets of a namespace, on every node of the
// cluster, and acts on them: emit, fetch, join, leave, disconnect. It is
// immutable: To, Except and the flag methods return a new operator and
// leave the receiver as it was, so one can be kept and reused.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	flags  adapter.Flags
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.rooms = c.rooms[:len(c.rooms):len(c.rooms)]
	c.except = c.except[:len(c.except):len(c.except)]
	return &c
}

// To adds rooms to those selected: sockets in any of them are selected.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.rooms = append(c.rooms, rooms...)
	return c
}

// In is To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except leaves out the sockets in any of rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.except = append(c.except, rooms...)
	return c
}

// Volatile drops the event for clients that cannot take it at once.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.flags.Volatile = true
	return c
}

// Compress sets whether the event may be compressed.
func (b *BroadcastOperator) Compress(compress bool) *BroadcastOperator {
	c := b.clone()
	c.flags.NoCompress = !compress
	return c
}

// Local keeps the broadcast on this node.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.flags.Local = true
	return c
}

// Timeout bounds the wait of EmitWithAck.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.flags.Timeout = d
	return c
}

func (b *BroadcastOperator) options() *adapter.BroadcastOptions {
	return &adapter.BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// Emit sends an event to the selected sockets. The packet is encoded once
// for all of them. Emitting a reserved event name returns
// ErrReservedEvent.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	if parser.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	for _, n := range b.nsp.targets() {
		data := make([]any, 0, len(args)+1)
		data = append(data, event)
		data = append(data, args...)
		p := &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: n.name, Data: data}
		if err := n.adapter.Broadcast(p, b.options()); err != nil {
			return err
		}
	}
	return nil
}

// EmitWithAck sends an event to the selected sockets and waits for every
// one's acknowledgement, until ctx is done or the timeout (Timeout, or
// else the server's AckTimeout) passes. It returns the answers received,
// in the order they came, and ErrAckTimeout (or ctx's error) when some
// were missing.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
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
	col := &ackCollector{done: make(chan struct{})}
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
		data := make([]any, 0, len(args)+1)
		data = append(data, event)
		data = append(data, args...)
		p := &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: n.name, Data: data}
		if err := n.adapter.BroadcastWithAck(p, opts, col.onCount, col.onAck); err != nil {
			return nil, err
		}
	}
	col.seal()
	select {
	case <-col.done:
	case <-ctx.Done():
	}
	answers, complete := col.result()
	if !complete {
		return answers, ackError(ctx)
	}
	return answers, nil
}

// ackCollector gathers the answers of a broadcast with acknowledgements:
// it is complete when every node told how many sockets it reached and
// that many answers came.
type ackCollector struct {
	mu      sync.Mutex
	servers int // count reports still expected
	sockets int // answers expected from the reports so far
	sealed  bool
	answers []Args
	done    chan struct{}
	closed  bool
}

func (c *ackCollector) expect(servers int) {
	c.mu.Lock()
	c.servers += servers
	c.mu.Unlock()
}

func (c *ackCollector) onCount(n int) {
	c.mu.Lock()
	c.servers--
	c.sockets += n
	c.checkLocked()
	c.mu.Unlock()
}

func (c *ackCollector) onAck(a []parser.Value) {
	c.mu.Lock()
	c.answers = append(c.answers, Args(a))
	c.checkLocked()
	c.mu.Unlock()
}

func (c *ackCollector) seal() {
	c.mu.Lock()
	c.sealed = true
	c.checkLocked()
	c.mu.Unlock()
}

func (c *ackCollector) checkLocked() {
	if c.sealed && !c.closed && c.servers <= 0 && len(c.answers) >= c.sockets {
		c.closed = true
		close(c.done)
	}
}

func (c *ackCollector) result() ([]Args, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Args(nil), c.answers...), c.closed
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
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
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
func (b *BroadcastOperator) SocketsJoin(rooms ...string) error {
	for _, n := range b.nsp.targets() {
		if err := n.adapter.AddSockets(b.options(), rooms); err != nil {
			return err
		}
	}
	return nil
}

// SocketsLeave makes the selected sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(rooms ...string) error {
	for _, n := range b.nsp.targets() {
		if err := n.adapter.DelSockets(b.options(), rooms); err != nil {
			return err
		}
	}
	return nil
}

// DisconnectSockets disconnects the selected sockets; with close, their
// whole connections.
func (b *BroadcastOperator) DisconnectSockets(close bool) error {
	for _, n := range b.nsp.targets() {
		if err := n.adapter.DisconnectSockets(b.options(), close); err != nil {
			return err
		}
	}
	return nil
}
