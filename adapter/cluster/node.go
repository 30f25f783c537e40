package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/parser"
)

// Transport carries a Node's ops to the other nodes of its namespace.
type Transport interface {
	// Send publishes o to the other nodes; an answer goes to o.To when
	// the protocol addresses answers, to every node otherwise.
	Send(o *Op) error
	// Close stops receiving.
	Close()
}

// Counter is a Transport that counts the nodes of the namespace itself
// (Redis: the subscribers of a channel). A Node whose Transport is no
// Counter counts the nodes it hears from, with heartbeats.
type Counter interface {
	ServerCount(ctx context.Context) (int, error)
}

// Config configures a Node.
type Config struct {
	// UID names this node in its messages.
	UID string
	// Name prefixes errors and log messages, like "redisadapter".
	Name string
	// Logger receives what could not be handled; default none.
	Logger *slog.Logger
	// RequestsTimeout bounds the wait for answers when the context does
	// not say sooner; default 5s.
	RequestsTimeout time.Duration
	// RecoveryWindow enables connection state recovery in the local
	// adapter.Memory when above zero.
	RecoveryWindow time.Duration
	// AppendOffsets appends an op's Offset to the events it delivers
	// locally, for connection state recovery across nodes (ops read from
	// a stream).
	AppendOffsets bool
	// HeartbeatInterval and HeartbeatTimeout, for a Transport that is no
	// Counter: how often this node says it is alive, and how long a node
	// not heard from still counts; default 5s and 10s.
	HeartbeatInterval, HeartbeatTimeout time.Duration
	// ErrTimeout and ErrClosed are the errors returned, maybe wrapped, for
	// a request other nodes did not all answer in time and for a closed
	// node; default ErrTimeout and ErrClosed.
	ErrTimeout, ErrClosed error
	// Extension handles the ops of kinds from OpExtension on.
	Extension func(o *Op)
}

// ErrTimeout is the default Config.ErrTimeout.
var ErrTimeout = errors.New("cluster: timeout waiting for other nodes")

// ErrClosed is the default Config.ErrClosed.
var ErrClosed = errors.New("cluster: closed")

// EmitterUID is the uid of the messages of emitters, which are no nodes.
const EmitterUID = "emitter"

// Node is the adapter of one namespace as the ClusterAdapter protocol
// sees it, whatever carries its messages: local rooms and sockets in an
// adapter.Memory, the requests waiting for other nodes' answers, the
// handling of their messages and, when the Transport counts no nodes,
// heartbeats (socket.io-adapter's ClusterAdapterWithHeartbeat). Its
// methods implement adapter.Adapter.
type Node struct {
	*adapter.Memory
	nsp     adapter.Namespace
	cfg     Config
	log     *slog.Logger
	t       Transport
	counter Counter // nil: heartbeats
	// started is set by Start, after t and counter: ops that arrive
	// before (the transport may deliver them as soon as it can receive)
	// are dropped, as they would be had the node started a moment later.
	started atomic.Bool

	mu      sync.Mutex
	closed  bool
	members map[string]time.Time // uid → last heard from (heartbeats)
	fetches map[string]*fetchRequest
	sses    map[string]*sseRequest
	acks    map[string]*ackRequest

	stop chan struct{} // heartbeats
	done chan struct{}
}

// fetchRequest waits for the answers of the nodes in missing (heartbeats)
// or for remaining answers (a Counter).
type fetchRequest struct {
	missing   map[string]bool
	remaining int
	sockets   []adapter.SocketInfo
	done      chan struct{}
}

// sseRequest takes one answer from each node in missing, or remaining
// answers.
type sseRequest struct {
	missing   map[string]bool
	remaining int
	onAck     func([]parser.Value)
}

// ackRequest relays the counts and answers of a broadcast with acks.
type ackRequest struct {
	onCount func(int)
	onAck   func([]parser.Value)
	timer   *time.Timer
}

// NewNode returns the Node of namespace nsp; Start gives it its
// Transport.
func NewNode(nsp adapter.Namespace, cfg Config) *Node {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestsTimeout <= 0 {
		cfg.RequestsTimeout = 5 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 10 * time.Second
	}
	if cfg.ErrTimeout == nil {
		cfg.ErrTimeout = ErrTimeout
	}
	if cfg.ErrClosed == nil {
		cfg.ErrClosed = ErrClosed
	}
	if cfg.Name == "" {
		cfg.Name = "cluster"
	}
	return &Node{
		Memory:  adapter.NewMemory(nsp, adapter.MemoryOptions{RecoveryWindow: cfg.RecoveryWindow}),
		nsp:     nsp,
		cfg:     cfg,
		log:     cfg.Logger.With("nsp", nsp.Name()),
		members: make(map[string]time.Time),
		fetches: make(map[string]*fetchRequest),
		sses:    make(map[string]*sseRequest),
		acks:    make(map[string]*ackRequest),
	}
}

// Start gives the node its Transport, which must be able to receive
// already. Without a Counter, the node says hello (the others answer, so
// that it knows them at once) and starts its heartbeats, until Close.
func (n *Node) Start(t Transport) {
	n.t = t
	if c, ok := t.(Counter); ok {
		n.counter = c
		n.started.Store(true)
		return
	}
	n.stop, n.done = make(chan struct{}), make(chan struct{})
	n.started.Store(true)
	n.Hello()
	go n.heartbeat()
}

// UID is the node's uid.
func (n *Node) UID() string { return n.cfg.UID }

// Logger is the node's logger, with the namespace.
func (n *Node) Logger() *slog.Logger { return n.log }

// Namespace is the node's namespace.
func (n *Node) Namespace() adapter.Namespace { return n.nsp }

// EventPacket is the generic form of an outgoing EVENT packet.
func (n *Node) EventPacket(p *parser.SocketPacket) (map[string]any, error) {
	data, ok := p.Data.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: packet data is %T, not []any", n.cfg.Name, p.Data)
	}
	norm, err := NormalizeArgs(data)
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": int64(parser.SocketPacketEvent), "data": norm, "nsp": n.nsp.Name()}, nil
}

// Broadcast implements adapter.Adapter: the packet goes to the other
// nodes and to the local sockets at once.
func (n *Node) Broadcast(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		pkt, err := n.EventPacket(p)
		if err != nil {
			return err
		}
		sendErr = n.t.Send(&Op{Kind: OpBroadcast, Packet: pkt, Opts: opts})
	}
	if err := n.Memory.Broadcast(ctx, p, opts); err != nil {
		return err
	}
	return sendErr
}

// BroadcastWithAck implements adapter.Adapter. Each other node reports
// how many sockets it reached, then relays their answers; only the first
// argument of each answer crosses nodes, as with the Node adapters. When
// ctx is done, answers from other nodes are no longer taken.
func (n *Node) BroadcastWithAck(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions, onCount func(int), onAck func([]parser.Value)) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		pkt, err := n.EventPacket(p)
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
		n.mu.Lock()
		n.acks[id] = req
		req.timer = time.AfterFunc(wait+time.Second, func() { n.forgetAck(id) })
		n.mu.Unlock()
		context.AfterFunc(ctx, func() { n.forgetAck(id) })
		sendErr = n.t.Send(&Op{Kind: OpBroadcast, RequestID: id, Packet: pkt, Opts: opts})
	}
	if err := n.Memory.BroadcastWithAck(ctx, p, opts, onCount, onAck); err != nil {
		return err
	}
	return sendErr
}

func (n *Node) forgetAck(id string) {
	n.mu.Lock()
	if req := n.acks[id]; req != nil {
		req.timer.Stop()
		delete(n.acks, id)
	}
	n.mu.Unlock()
}

// others is how many other nodes a request waits for, and with
// heartbeats which ones. Caller does not hold n.mu.
func (n *Node) others(ctx context.Context) (int, map[string]bool, error) {
	if n.counter != nil {
		c, err := n.counter.ServerCount(ctx)
		if err != nil {
			return 0, nil, fmt.Errorf("server count: %w", err)
		}
		return c - 1, nil, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	set := make(map[string]bool, len(n.members))
	for uid := range n.members {
		set[uid] = true
	}
	return len(set), set, nil
}

// FetchSockets implements adapter.Adapter: it waits for every other
// node's answer until ctx is done or the requests timeout passes; with
// heartbeats, a node that leaves meanwhile is not waited for.
func (n *Node) FetchSockets(ctx context.Context, opts *adapter.BroadcastOptions) ([]adapter.SocketInfo, error) {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	local, err := n.Memory.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return local, err
	}
	want, missing, err := n.others(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: fetchSockets: %w", n.cfg.Name, err)
	}
	if want <= 0 {
		return local, nil
	}
	ctx, cancel := n.requestContext(ctx, opts.Flags.Timeout)
	defer cancel()
	id := randid.Hex(16)
	req := &fetchRequest{missing: missing, remaining: want, sockets: local, done: make(chan struct{})}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, n.cfg.ErrClosed
	}
	n.fetches[id] = req
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.fetches, id)
		n.mu.Unlock()
	}()
	if err := n.t.Send(&Op{Kind: OpFetch, RequestID: id, Opts: opts}); err != nil {
		return nil, fmt.Errorf("%s: fetchSockets: %w", n.cfg.Name, err)
	}
	select {
	case <-req.done:
		n.mu.Lock()
		defer n.mu.Unlock()
		return req.sockets, nil
	case <-ctx.Done():
		n.mu.Lock()
		got := want - req.remaining
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: fetchSockets: %d of %d other nodes answered: %w", n.cfg.ErrTimeout, got, want, context.Cause(ctx))
	}
}

// requestContext bounds ctx by the requests timeout (or d when set).
func (n *Node) requestContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = n.cfg.RequestsTimeout
	}
	return context.WithTimeout(ctx, d)
}

// AddSockets implements adapter.Adapter.
func (n *Node) AddSockets(ctx context.Context, opts *adapter.BroadcastOptions, rooms []string) error {
	return n.selection(OpJoin, opts, rooms, false, func() error { return n.Memory.AddSockets(ctx, opts, rooms) })
}

// DelSockets implements adapter.Adapter.
func (n *Node) DelSockets(ctx context.Context, opts *adapter.BroadcastOptions, rooms []string) error {
	return n.selection(OpLeave, opts, rooms, false, func() error { return n.Memory.DelSockets(ctx, opts, rooms) })
}

// DisconnectSockets implements adapter.Adapter.
func (n *Node) DisconnectSockets(ctx context.Context, opts *adapter.BroadcastOptions, close bool) error {
	return n.selection(OpDisconnect, opts, nil, close, func() error { return n.Memory.DisconnectSockets(ctx, opts, close) })
}

func (n *Node) selection(kind Kind, opts *adapter.BroadcastOptions, rooms []string, close bool, local func() error) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		sendErr = n.t.Send(&Op{Kind: kind, Opts: opts, Rooms: rooms, Close: close})
	}
	if err := local(); err != nil {
		return err
	}
	return sendErr
}

// ServerSideEmit implements adapter.Adapter. With onAck, each other node
// answers once; only the first argument of an answer crosses nodes, as
// with the Node adapters.
func (n *Node) ServerSideEmit(ctx context.Context, event string, args []any, onAck func([]parser.Value)) (int, error) {
	data, err := NormalizeArgs(append([]any{event}, args...))
	if err != nil {
		return 0, err
	}
	if onAck == nil {
		return 0, n.t.Send(&Op{Kind: OpServerSideEmit, Data: data})
	}
	want, missing, err := n.others(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: serverSideEmit: %w", n.cfg.Name, err)
	}
	if want <= 0 {
		return 0, nil
	}
	id := randid.Hex(16)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return 0, n.cfg.ErrClosed
	}
	n.sses[id] = &sseRequest{missing: missing, remaining: want, onAck: onAck}
	n.mu.Unlock()
	forget := func() {
		n.mu.Lock()
		delete(n.sses, id)
		n.mu.Unlock()
	}
	if err := n.t.Send(&Op{Kind: OpServerSideEmit, RequestID: id, Data: data}); err != nil {
		forget()
		return 0, err
	}
	context.AfterFunc(ctx, forget)
	return want, nil
}

// ServerCount implements adapter.Adapter: the Counter's count, or this
// node and the others heard from within the heartbeat timeout.
func (n *Node) ServerCount(ctx context.Context) (int, error) {
	if n.counter != nil {
		c, err := n.counter.ServerCount(ctx)
		if err != nil {
			return 0, fmt.Errorf("%s: server count: %w", n.cfg.Name, err)
		}
		return max(c, 1), nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return 1 + len(n.members), nil
}

// Close implements adapter.Adapter: it stops receiving (with heartbeats,
// after telling the other nodes this one leaves); requests waiting for
// answers fail.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	for id, a := range n.acks {
		a.timer.Stop()
		delete(n.acks, id)
	}
	clear(n.sses)
	n.mu.Unlock()
	if n.stop != nil {
		close(n.stop)
		<-n.done
		if err := n.t.Send(&Op{Kind: OpAdapterClose}); err != nil {
			n.log.Debug(n.cfg.Name+": cannot say goodbye", "err", err)
		}
	}
	if n.t != nil {
		n.t.Close()
	}
	return nil
}
