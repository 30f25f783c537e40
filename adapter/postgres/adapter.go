package postgresadapter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/parser"
)

// pgAdapter is the adapter of one namespace: local rooms and sockets in an
// adapter.Memory, the other nodes known from their heartbeats, and the
// requests waiting for their answers.
type pgAdapter struct {
	*adapter.Memory
	hub        *hub
	nsp        adapter.Namespace
	uid        string
	log        *slog.Logger
	channel    string // "" when the namespace's channel name is too long
	channelErr error

	mu      sync.Mutex
	closed  bool
	nodes   map[string]time.Time // uid → last heard from
	fetches map[string]*fetchRequest
	sses    map[string]*sseRequest
	acks    map[string]*ackRequest

	stop chan struct{}
	done chan struct{}
}

// fetchRequest waits for the answers of the nodes in missing.
type fetchRequest struct {
	missing map[string]bool
	sockets []adapter.SocketInfo
	done    chan struct{}
}

// sseRequest takes one answer from each node in missing.
type sseRequest struct {
	missing map[string]bool
	onAck   func([]parser.Value)
}

// ackRequest relays the counts and answers of a broadcast with acks.
type ackRequest struct {
	onCount func(int)
	onAck   func([]parser.Value)
	timer   *time.Timer
}

func newAdapter(h *hub, nsp adapter.Namespace, uid string) *pgAdapter {
	a := &pgAdapter{
		Memory:  adapter.NewMemory(nsp, adapter.MemoryOptions{RecoveryWindow: h.opts.RecoveryWindow}),
		hub:     h,
		nsp:     nsp,
		uid:     uid,
		log:     h.log.With("nsp", nsp.Name()),
		nodes:   make(map[string]time.Time),
		fetches: make(map[string]*fetchRequest),
		sses:    make(map[string]*sseRequest),
		acks:    make(map[string]*ackRequest),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	ch, err := channelName(h.opts.ChannelPrefix, nsp.Name())
	if err != nil {
		a.channelErr = err
		a.log.Error("postgresadapter: the namespace cannot reach other nodes", "err", err)
	} else {
		a.channel = ch
	}
	lis := h.add(a)
	if a.channel != "" && h.err == nil {
		// LISTEN before saying hello, so that no answer is missed.
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
		if err := lis.listen(ctx, a.channel); err != nil {
			a.log.Warn("postgresadapter: cannot LISTEN now, will once PostgreSQL is reachable", "err", err)
		}
		cancel()
	}
	a.sendHeartbeat(opInitialHeartbeat)
	go a.heartbeat()
	return a
}

// send publishes an op on the namespace's channel.
func (a *pgAdapter) send(o *op) error {
	if a.channelErr != nil {
		return a.channelErr
	}
	return a.hub.publish(context.Background(), a.channel, cluster.Encode(o, a.uid, a.nsp.Name()))
}

// answer sends an answer, logging a failure: nobody else can hear of it.
func (a *pgAdapter) answer(o *op) {
	if err := a.send(o); err != nil {
		a.log.Warn("postgresadapter: cannot answer a request", "err", err)
	}
}

// eventPacket is the generic form of an outgoing EVENT packet, without
// the nsp, as the Node adapter sends it.
func eventPacket(p *parser.SocketPacket) (map[string]any, error) {
	data, ok := p.Data.([]any)
	if !ok {
		return nil, fmt.Errorf("postgresadapter: packet data is %T, not []any", p.Data)
	}
	norm, err := cluster.NormalizeArgs(data)
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": int64(parser.SocketPacketEvent), "data": norm}, nil
}

// Broadcast implements adapter.Adapter: the packet goes to the other nodes
// through PostgreSQL and to the local sockets at once.
func (a *pgAdapter) Broadcast(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		pkt, err := eventPacket(p)
		if err != nil {
			return err
		}
		sendErr = a.send(&op{Kind: opBroadcast, Packet: pkt, Opts: opts})
	}
	if err := a.Memory.Broadcast(ctx, p, opts); err != nil {
		return err
	}
	return sendErr
}

// BroadcastWithAck implements adapter.Adapter. Each other node reports
// how many sockets it reached, then relays their answers; only the first
// argument of each answer crosses nodes, as with the Node adapter. When
// ctx is done, answers from other nodes are no longer taken.
func (a *pgAdapter) BroadcastWithAck(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions, onCount func(int), onAck func([]parser.Value)) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		pkt, err := eventPacket(p)
		if err != nil {
			return err
		}
		id := randid.Hex(16)
		wait := opts.Flags.Timeout
		if wait <= 0 {
			wait = time.Minute
		}
		req := &ackRequest{onCount: onCount, onAck: onAck}
		a.mu.Lock()
		a.acks[id] = req
		req.timer = time.AfterFunc(wait+time.Second, func() { a.forgetAck(id) })
		a.mu.Unlock()
		context.AfterFunc(ctx, func() { a.forgetAck(id) })
		sendErr = a.send(&op{Kind: opBroadcast, RequestID: id, Packet: pkt, Opts: opts})
	}
	if err := a.Memory.BroadcastWithAck(ctx, p, opts, onCount, onAck); err != nil {
		return err
	}
	return sendErr
}

func (a *pgAdapter) forgetAck(id string) {
	a.mu.Lock()
	if req := a.acks[id]; req != nil {
		req.timer.Stop()
		delete(a.acks, id)
	}
	a.mu.Unlock()
}

// FetchSockets implements adapter.Adapter: it waits for the answer of
// every node known when it asks, until ctx is done or the requests
// timeout passes; a node that leaves meanwhile is not waited for.
func (a *pgAdapter) FetchSockets(ctx context.Context, opts *adapter.BroadcastOptions) ([]adapter.SocketInfo, error) {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	local, err := a.Memory.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return local, err
	}
	id := randid.Hex(16)
	req := &fetchRequest{sockets: local, done: make(chan struct{})}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	req.missing = a.nodeSet()
	if len(req.missing) == 0 {
		a.mu.Unlock()
		return local, nil
	}
	n := len(req.missing)
	a.fetches[id] = req
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.fetches, id)
		a.mu.Unlock()
	}()
	ctx, cancel := a.requestContext(ctx, opts.Flags.Timeout)
	defer cancel()
	if err := a.send(&op{Kind: opFetch, RequestID: id, Opts: opts}); err != nil {
		return nil, fmt.Errorf("postgresadapter: fetchSockets: %w", err)
	}
	select {
	case <-req.done:
		a.mu.Lock()
		defer a.mu.Unlock()
		return req.sockets, nil
	case <-ctx.Done():
		a.mu.Lock()
		missing := len(req.missing)
		a.mu.Unlock()
		return nil, fmt.Errorf("%w: fetchSockets: %d of %d other nodes did not answer: %w", ErrTimeout, missing, n, context.Cause(ctx))
	}
}

// requestContext bounds ctx by the requests timeout (or d when set).
func (a *pgAdapter) requestContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = a.hub.opts.RequestsTimeout
	}
	return context.WithTimeout(ctx, d)
}

// AddSockets implements adapter.Adapter.
func (a *pgAdapter) AddSockets(ctx context.Context, opts *adapter.BroadcastOptions, rooms []string) error {
	return a.selection(opJoin, opts, rooms, false, func() error { return a.Memory.AddSockets(ctx, opts, rooms) })
}

// DelSockets implements adapter.Adapter.
func (a *pgAdapter) DelSockets(ctx context.Context, opts *adapter.BroadcastOptions, rooms []string) error {
	return a.selection(opLeave, opts, rooms, false, func() error { return a.Memory.DelSockets(ctx, opts, rooms) })
}

// DisconnectSockets implements adapter.Adapter.
func (a *pgAdapter) DisconnectSockets(ctx context.Context, opts *adapter.BroadcastOptions, close bool) error {
	return a.selection(opDisconnect, opts, nil, close, func() error { return a.Memory.DisconnectSockets(ctx, opts, close) })
}

func (a *pgAdapter) selection(kind opKind, opts *adapter.BroadcastOptions, rooms []string, close bool, local func() error) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	var sendErr error
	if !opts.Flags.Local {
		sendErr = a.send(&op{Kind: kind, Opts: opts, Rooms: rooms, Close: close})
	}
	if err := local(); err != nil {
		return err
	}
	return sendErr
}

// ServerSideEmit implements adapter.Adapter. With onAck, each node known
// when it is sent answers once; only the first argument of an answer
// crosses nodes, as with the Node adapter.
func (a *pgAdapter) ServerSideEmit(ctx context.Context, event string, args []any, onAck func([]parser.Value)) (int, error) {
	data, err := cluster.NormalizeArgs(append([]any{event}, args...))
	if err != nil {
		return 0, err
	}
	if onAck == nil {
		return 0, a.send(&op{Kind: opServerSideEmit, Data: data})
	}
	id := randid.Hex(16)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return 0, ErrClosed
	}
	missing := a.nodeSet()
	if len(missing) == 0 {
		a.mu.Unlock()
		return 0, nil
	}
	n := len(missing)
	a.sses[id] = &sseRequest{missing: missing, onAck: onAck}
	a.mu.Unlock()
	forget := func() {
		a.mu.Lock()
		delete(a.sses, id)
		a.mu.Unlock()
	}
	if err := a.send(&op{Kind: opServerSideEmit, RequestID: id, Data: data}); err != nil {
		forget()
		return 0, err
	}
	context.AfterFunc(ctx, forget)
	return n, nil
}

// ServerCount implements adapter.Adapter: this node and the others heard
// from within the heartbeat timeout.
func (a *pgAdapter) ServerCount(context.Context) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return 1 + len(a.nodes), nil
}

// Close implements adapter.Adapter: it tells the other nodes this one
// leaves and stops receiving; requests waiting for answers fail.
func (a *pgAdapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	for id, r := range a.acks {
		r.timer.Stop()
		delete(a.acks, id)
	}
	clear(a.sses)
	a.mu.Unlock()
	close(a.stop)
	<-a.done
	if err := a.send(&op{Kind: opAdapterClose}); err != nil {
		a.log.Debug("postgresadapter: cannot say goodbye", "err", err)
	}
	a.hub.remove(a)
	return nil
}
