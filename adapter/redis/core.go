package redisadapter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/parser"
)

// opKind is what a message between nodes asks for or answers, whatever
// the protocol that carries it: the kinds of the cluster protocol, and
// those of the pub/sub adapter only.
type opKind = cluster.Kind

const (
	opBroadcast      = cluster.OpBroadcast
	opJoin           = cluster.OpJoin
	opLeave          = cluster.OpLeave
	opDisconnect     = cluster.OpDisconnect
	opFetch          = cluster.OpFetch
	opServerSideEmit = cluster.OpServerSideEmit
	opClientCount    = cluster.OpClientCount
	opAck            = cluster.OpAck
	opFetchResponse  = cluster.OpFetchResponse
	opSSEResponse    = cluster.OpSSEResponse
)

const (
	opSockets          opKind = cluster.OpExtension + iota // ids of the selected sockets (pub/sub adapter only)
	opAllRooms                                             // every room (pub/sub adapter only)
	opSocketsResponse                                      // answer to opSockets
	opAllRoomsResponse                                     // answer to opAllRooms
	opSocketJoin                                           // one socket joins a room (pub/sub adapter only)
	opSocketLeave                                          // one socket leaves a room (pub/sub adapter only)
	opSocketDisconnect                                     // one socket disconnects (pub/sub adapter only)
	opDone                                                 // answer to the three above
)

// op is one message between nodes, decoded.
type op = cluster.Op

// protocol is how one kind of adapter carries ops over Redis.
type protocol interface {
	// send publishes op to the other nodes (or, for an answer, to op.to).
	send(o *op) error
	// serverCount is the number of nodes of the namespace.
	serverCount(ctx context.Context) (int, error)
	// close stops receiving.
	close()
}

// core is what the adapters share: local rooms and sockets in an
// adapter.Memory, requests waiting for answers, and the handling of ops
// from other nodes.
type core struct {
	*adapter.Memory
	nsp     adapter.Namespace
	uid     string
	log     *slog.Logger
	timeout time.Duration
	proto   protocol
	// appendOffsets adds a stream entry's id to the events read from the
	// stream, for connection state recovery (Streams adapter).
	appendOffsets bool

	mu      sync.Mutex
	closed  bool
	fetches map[string]*fetchRequest
	sses    map[string]*sseRequest
	acks    map[string]*ackRequest
}

type fetchRequest struct {
	expected, got int
	sockets       []adapter.SocketInfo
	done          chan struct{}
}

type sseRequest struct {
	remaining int
	onAck     func([]parser.Value)
}

type ackRequest struct {
	onCount func(int)
	onAck   func([]parser.Value)
	timer   *time.Timer
}

func newCore(nsp adapter.Namespace, uid string, log *slog.Logger, timeout, window time.Duration) *core {
	if log == nil {
		log = discardLogger()
	}
	if timeout <= 0 {
		timeout = defaultRequestsTimeout
	}
	return &core{
		Memory:  adapter.NewMemory(nsp, adapter.MemoryOptions{RecoveryWindow: window}),
		nsp:     nsp,
		uid:     uid,
		log:     log.With("nsp", nsp.Name()),
		timeout: timeout,
		fetches: make(map[string]*fetchRequest),
		sses:    make(map[string]*sseRequest),
		acks:    make(map[string]*ackRequest),
	}
}

// eventPacket is the generic form of an outgoing EVENT packet.
func (c *core) eventPacket(p *parser.SocketPacket) (map[string]any, error) {
	data, ok := p.Data.([]any)
	if !ok {
		return nil, fmt.Errorf("redisadapter: packet data is %T, not []any", p.Data)
	}
	norm, err := cluster.NormalizeArgs(data)
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": int64(parser.SocketPacketEvent), "data": norm, "nsp": c.nsp.Name()}, nil
}

// Broadcast implements adapter.Adapter: the packet goes to the other nodes
// through Redis and to the local sockets at once.
func (c *core) Broadcast(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		pkt, err := c.eventPacket(p)
		if err != nil {
			return err
		}
		sendErr = c.proto.send(&op{Kind: opBroadcast, Packet: pkt, Opts: opts})
	}
	if err := c.Memory.Broadcast(ctx, p, opts); err != nil {
		return err
	}
	return sendErr
}

// BroadcastWithAck implements adapter.Adapter. Each other node reports
// how many sockets it reached, then relays their answers; only the first
// argument of each answer crosses nodes, as with the Node adapters. When
// ctx is done, answers from other nodes are no longer taken.
func (c *core) BroadcastWithAck(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions, onCount func(int), onAck func([]parser.Value)) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		pkt, err := c.eventPacket(p)
		if err != nil {
			return err
		}
		id := randid.Hex(16)
		// There is no telling when every answer is in: forget the request
		// when the broadcast's timeout is over.
		wait := opts.Flags.Timeout
		if wait <= 0 {
			wait = time.Minute
		}
		req := &ackRequest{onCount: onCount, onAck: onAck}
		c.mu.Lock()
		c.acks[id] = req
		req.timer = time.AfterFunc(wait+time.Second, func() { c.forgetAck(id) })
		c.mu.Unlock()
		context.AfterFunc(ctx, func() { c.forgetAck(id) })
		sendErr = c.proto.send(&op{Kind: opBroadcast, RequestID: id, Packet: pkt, Opts: opts})
	}
	if err := c.Memory.BroadcastWithAck(ctx, p, opts, onCount, onAck); err != nil {
		return err
	}
	return sendErr
}

func (c *core) forgetAck(id string) {
	c.mu.Lock()
	if req := c.acks[id]; req != nil {
		req.timer.Stop()
		delete(c.acks, id)
	}
	c.mu.Unlock()
}

// FetchSockets implements adapter.Adapter: it waits for every other node's
// answer until ctx is done or the requests timeout passes.
func (c *core) FetchSockets(ctx context.Context, opts *adapter.BroadcastOptions) ([]adapter.SocketInfo, error) {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	local, err := c.Memory.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return local, err
	}
	n, err := c.proto.serverCount(ctx)
	if err != nil {
		return nil, fmt.Errorf("redisadapter: fetchSockets: server count: %w", err)
	}
	if n <= 1 {
		return local, nil
	}
	ctx, cancel := c.requestContext(ctx, opts.Flags.Timeout)
	defer cancel()
	id := randid.Hex(16)
	req := &fetchRequest{expected: n - 1, sockets: local, done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.fetches[id] = req
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.fetches, id)
		c.mu.Unlock()
	}()
	if err := c.proto.send(&op{Kind: opFetch, RequestID: id, Opts: opts}); err != nil {
		return nil, fmt.Errorf("redisadapter: fetchSockets: %w", err)
	}
	select {
	case <-req.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return req.sockets, nil
	case <-ctx.Done():
		c.mu.Lock()
		got := req.got
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: fetchSockets: %d of %d other nodes answered: %w", ErrTimeout, got, n-1, context.Cause(ctx))
	}
}

// requestContext bounds ctx by the requests timeout (or d when set).
func (c *core) requestContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = c.timeout
	}
	return context.WithTimeout(ctx, d)
}

// AddSockets implements adapter.Adapter.
func (c *core) AddSockets(ctx context.Context, opts *adapter.BroadcastOptions, rooms []string) error {
	return c.selection(opJoin, opts, rooms, false, func() error { return c.Memory.AddSockets(ctx, opts, rooms) })
}

// DelSockets implements adapter.Adapter.
func (c *core) DelSockets(ctx context.Context, opts *adapter.BroadcastOptions, rooms []string) error {
	return c.selection(opLeave, opts, rooms, false, func() error { return c.Memory.DelSockets(ctx, opts, rooms) })
}

// DisconnectSockets implements adapter.Adapter.
func (c *core) DisconnectSockets(ctx context.Context, opts *adapter.BroadcastOptions, close bool) error {
	return c.selection(opDisconnect, opts, nil, close, func() error { return c.Memory.DisconnectSockets(ctx, opts, close) })
}

func (c *core) selection(kind opKind, opts *adapter.BroadcastOptions, rooms []string, close bool, local func() error) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		sendErr = c.proto.send(&op{Kind: kind, Opts: opts, Rooms: rooms, Close: close})
	}
	if err := local(); err != nil {
		return err
	}
	return sendErr
}

// ServerSideEmit implements adapter.Adapter. With onAck, each other node's
// handlers answer once; only the first argument of an answer crosses
// nodes, as with the Node adapters.
func (c *core) ServerSideEmit(ctx context.Context, event string, args []any, onAck func([]parser.Value)) (int, error) {
	data, err := cluster.NormalizeArgs(append([]any{event}, args...))
	if err != nil {
		return 0, err
	}
	if onAck == nil {
		return 0, c.proto.send(&op{Kind: opServerSideEmit, Data: data})
	}
	n, err := c.proto.serverCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("redisadapter: serverSideEmit: server count: %w", err)
	}
	if n <= 1 {
		return 0, nil
	}
	id := randid.Hex(16)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	c.sses[id] = &sseRequest{remaining: n - 1, onAck: onAck}
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.sses, id)
		c.mu.Unlock()
	}
	if err := c.proto.send(&op{Kind: opServerSideEmit, RequestID: id, Data: data}); err != nil {
		forget()
		return 0, err
	}
	context.AfterFunc(ctx, forget)
	return n - 1, nil
}

// ServerCount implements adapter.Adapter.
func (c *core) ServerCount(ctx context.Context) (int, error) {
	n, err := c.proto.serverCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("redisadapter: server count: %w", err)
	}
	return max(n, 1), nil
}

// Close implements adapter.Adapter: it stops receiving; requests waiting
// for answers fail.
func (c *core) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for id, a := range c.acks {
		a.timer.Stop()
		delete(c.acks, id)
	}
	clear(c.sses)
	c.mu.Unlock()
	c.proto.close()
	return nil
}

// handle carries out an op from another node.
func (c *core) handle(o *op) {
	if o.From == c.uid {
		return
	}
	switch o.Kind {
	case opBroadcast:
		c.onBroadcast(o)
	case opJoin:
		_ = c.Memory.AddSockets(context.Background(), o.Opts, o.Rooms)
	case opLeave:
		_ = c.Memory.DelSockets(context.Background(), o.Opts, o.Rooms)
	case opDisconnect:
		_ = c.Memory.DisconnectSockets(context.Background(), o.Opts, o.Close)
	case opFetch:
		c.onFetch(o)
	case opServerSideEmit:
		c.onServerSideEmit(o)
	case opClientCount, opAck:
		c.mu.Lock()
		req := c.acks[o.RequestID]
		c.mu.Unlock()
		if req == nil {
			return
		}
		if o.Kind == opClientCount {
			req.onCount(o.Count)
		} else {
			req.onAck(cluster.Values([]any{o.Value}))
		}
	case opFetchResponse:
		c.mu.Lock()
		req := c.fetches[o.RequestID]
		if req != nil && req.got < req.expected {
			for _, s := range o.Sockets {
				req.sockets = append(req.sockets, cluster.DecodeSocket(s))
			}
			req.got++
			if req.got == req.expected {
				close(req.done)
			}
		}
		c.mu.Unlock()
	case opSSEResponse:
		c.mu.Lock()
		req := c.sses[o.RequestID]
		if req != nil {
			req.remaining--
			if req.remaining <= 0 {
				delete(c.sses, o.RequestID)
			}
		}
		c.mu.Unlock()
		if req != nil {
			req.onAck(cluster.Values([]any{o.Value}))
		}
	case opSockets:
		ids := c.Memory.Sockets(&adapter.BroadcastOptions{Rooms: o.Rooms})
		c.answer(&op{Kind: opSocketsResponse, To: o.From, RequestID: o.RequestID, Sockets: cluster.StringsToAny(ids)})
	case opAllRooms:
		c.answer(&op{Kind: opAllRoomsResponse, To: o.From, RequestID: o.RequestID, Rooms: c.Memory.Rooms()})
	case opSocketJoin, opSocketLeave, opSocketDisconnect:
		if !c.nsp.Connected(o.SID) {
			return
		}
		ids := []string{o.SID}
		switch o.Kind {
		case opSocketJoin:
			c.nsp.Join(ids, o.Rooms)
		case opSocketLeave:
			c.nsp.Leave(ids, o.Rooms)
		default:
			c.nsp.Disconnect(ids, o.Close)
		}
		c.answer(&op{Kind: opDone, To: o.From, RequestID: o.RequestID})
	}
}

func (c *core) answer(o *op) {
	if err := c.proto.send(o); err != nil {
		c.log.Warn("redisadapter: cannot answer a request", "err", err)
	}
}

// localPacket turns a generic EVENT packet from another node into one for
// the local sockets of this namespace. The message that carried it was
// routed to this namespace already (by its channel, its stream entry or
// its own nsp field), so the packet's nsp, which the Node cluster
// adapters leave out, is not looked at: the Node adapters overwrite it too.
func (c *core) localPacket(pkt map[string]any) (*parser.SocketPacket, bool) {
	if pkt == nil {
		return nil, false
	}
	typ, _ := cluster.AsInt(pkt["type"])
	switch parser.SocketPacketType(typ) {
	case parser.SocketPacketEvent, parser.SocketPacketBinaryEvent:
	default:
		return nil, false
	}
	data := cluster.AsSlice(pkt["data"])
	if len(data) == 0 {
		return nil, false
	}
	return &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: c.nsp.Name(), Data: data}, true
}

func (c *core) onBroadcast(o *op) {
	p, ok := c.localPacket(o.Packet)
	if !ok {
		return
	}
	if o.RequestID == "" {
		if c.appendOffsets && o.Offset != "" && !o.Opts.Flags.Volatile {
			if _, hasID := o.Packet["id"]; !hasID {
				p.Data = append(p.Data.([]any), o.Offset)
			}
		}
		if err := c.Memory.Broadcast(context.Background(), p, o.Opts); err != nil {
			c.log.Warn("redisadapter: cannot deliver a broadcast", "err", err)
		}
		return
	}
	from, id := o.From, o.RequestID
	// The requesting node waits for the answers as long as the broadcast's
	// timeout; so do its sockets here, then they forget them.
	wait := o.Opts.Flags.Timeout
	if wait <= 0 {
		wait = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	var answered, expected atomic.Int64
	expected.Store(-1)
	done := func() {
		if n := expected.Load(); n >= 0 && answered.Load() >= n {
			cancel()
		}
	}
	err := c.Memory.BroadcastWithAck(ctx, p, o.Opts, func(n int) {
		expected.Store(int64(n))
		done()
		c.answer(&op{Kind: opClientCount, To: from, RequestID: id, Count: n})
	}, func(args []parser.Value) {
		defer func() { answered.Add(1); done() }()
		var first any
		if len(args) > 0 {
			v, err := parser.Normalize(args[0])
			if err != nil {
				c.log.Warn("redisadapter: cannot relay an acknowledgement", "err", err)
				return
			}
			first = v
		}
		c.answer(&op{Kind: opAck, To: from, RequestID: id, Value: first})
	})
	if err != nil {
		cancel()
		c.log.Warn("redisadapter: cannot deliver a broadcast", "err", err)
	}
}

func (c *core) onFetch(o *op) {
	local, _ := c.Memory.FetchSockets(context.Background(), o.Opts)
	sockets := make([]any, 0, len(local))
	for _, s := range local {
		m, err := cluster.EncodeSocket(s)
		if err != nil {
			c.log.Warn("redisadapter: cannot describe a socket", "id", s.ID, "err", err)
			continue
		}
		sockets = append(sockets, m)
	}
	c.answer(&op{Kind: opFetchResponse, To: o.From, RequestID: o.RequestID, Sockets: sockets})
}

func (c *core) onServerSideEmit(o *op) {
	if len(o.Data) == 0 {
		return
	}
	event, ok := o.Data[0].(string)
	if !ok {
		return
	}
	args := cluster.Values(o.Data[1:])
	var ack func(args ...any)
	if o.RequestID != "" {
		from, id := o.From, o.RequestID
		var once sync.Once
		ack = func(args ...any) {
			once.Do(func() {
				var first any
				if len(args) > 0 {
					v, err := parser.Normalize(args[0])
					if err != nil {
						c.log.Warn("redisadapter: cannot answer a server-side event", "err", err)
						return
					}
					first = v
				}
				c.answer(&op{Kind: opSSEResponse, To: from, RequestID: id, Value: first})
			})
		}
	}
	// Handlers are user code: they must not hold up the subscription.
	go c.nsp.OnServerSideEmit(event, args, ack)
}
