package postgresadapter

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/parser"
)

// handle carries out an op from another node (or from an emitter).
func (a *pgAdapter) handle(o *op) {
	if o.From == a.uid {
		return
	}
	if o.From != emitterUID && o.From != "" {
		a.seen(o.From)
	}
	switch o.Kind {
	case opInitialHeartbeat:
		a.sendHeartbeat(opHeartbeat)
	case opHeartbeat:
	case opAdapterClose:
		a.removeNode(o.From)
	case opBroadcast:
		a.onBroadcast(o)
	case opJoin:
		_ = a.Memory.AddSockets(context.Background(), o.Opts, o.Rooms)
	case opLeave:
		_ = a.Memory.DelSockets(context.Background(), o.Opts, o.Rooms)
	case opDisconnect:
		_ = a.Memory.DisconnectSockets(context.Background(), o.Opts, o.Close)
	case opFetch:
		a.onFetch(o)
	case opServerSideEmit:
		a.onServerSideEmit(o)
	case opClientCount, opAck:
		a.mu.Lock()
		req := a.acks[o.RequestID]
		a.mu.Unlock()
		if req == nil {
			return
		}
		if o.Kind == opClientCount {
			req.onCount(o.Count)
		} else {
			req.onAck(cluster.Values([]any{o.Value}))
		}
	case opFetchResponse:
		a.mu.Lock()
		req := a.fetches[o.RequestID]
		if req != nil && req.missing[o.From] {
			for _, s := range o.Sockets {
				req.sockets = append(req.sockets, cluster.DecodeSocket(s))
			}
			a.answered(req, o.From)
		}
		a.mu.Unlock()
	case opSSEResponse:
		a.mu.Lock()
		req := a.sses[o.RequestID]
		if req != nil && req.missing[o.From] {
			delete(req.missing, o.From)
			if len(req.missing) == 0 {
				delete(a.sses, o.RequestID)
			}
		} else {
			req = nil
		}
		a.mu.Unlock()
		if req != nil {
			req.onAck(cluster.Values([]any{o.Value}))
		}
	}
}

// answered notes uid's answer to req. Caller holds a.mu.
func (a *pgAdapter) answered(req *fetchRequest, uid string) {
	if !req.missing[uid] {
		return
	}
	delete(req.missing, uid)
	if len(req.missing) == 0 {
		close(req.done)
	}
}

// localPacket turns a generic EVENT packet from another node into one for
// the local sockets of this namespace. The packet's own nsp, which the
// Node adapter leaves out, is not looked at.
func (a *pgAdapter) localPacket(pkt map[string]any) (*parser.SocketPacket, bool) {
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
	return &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: a.nsp.Name(), Data: data}, true
}

func (a *pgAdapter) onBroadcast(o *op) {
	p, ok := a.localPacket(o.Packet)
	if !ok {
		return
	}
	if o.RequestID == "" {
		if err := a.Memory.Broadcast(context.Background(), p, o.Opts); err != nil {
			a.log.Warn("postgresadapter: cannot deliver a broadcast", "err", err)
		}
		return
	}
	id := o.RequestID
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
	err := a.Memory.BroadcastWithAck(ctx, p, o.Opts, func(n int) {
		expected.Store(int64(n))
		done()
		a.answer(&op{Kind: opClientCount, RequestID: id, Count: n})
	}, func(args []parser.Value) {
		defer func() { answered.Add(1); done() }()
		var first any
		if len(args) > 0 {
			v, err := parser.Normalize(args[0])
			if err != nil {
				a.log.Warn("postgresadapter: cannot relay an acknowledgement", "err", err)
				return
			}
			first = v
		}
		a.answer(&op{Kind: opAck, RequestID: id, Value: first})
	})
	if err != nil {
		cancel()
		a.log.Warn("postgresadapter: cannot deliver a broadcast", "err", err)
	}
}

func (a *pgAdapter) onFetch(o *op) {
	local, _ := a.Memory.FetchSockets(context.Background(), o.Opts)
	sockets := make([]any, 0, len(local))
	for _, s := range local {
		m, err := cluster.EncodeSocket(s)
		if err != nil {
			a.log.Warn("postgresadapter: cannot describe a socket", "id", s.ID, "err", err)
			continue
		}
		sockets = append(sockets, m)
	}
	a.answer(&op{Kind: opFetchResponse, RequestID: o.RequestID, Sockets: sockets})
}

func (a *pgAdapter) onServerSideEmit(o *op) {
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
		id := o.RequestID
		var once sync.Once
		ack = func(args ...any) {
			once.Do(func() {
				var first any
				if len(args) > 0 {
					v, err := parser.Normalize(args[0])
					if err != nil {
						a.log.Warn("postgresadapter: cannot answer a server-side event", "err", err)
						return
					}
					first = v
				}
				a.answer(&op{Kind: opSSEResponse, RequestID: id, Value: first})
			})
		}
	}
	// Handlers are user code: they must not hold up the notifications.
	go a.nsp.OnServerSideEmit(event, args, ack)
}
