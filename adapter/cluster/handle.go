package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/parser"
)

// Handle carries out an op from another node (or from an emitter); ops
// from this node are ignored.
func (n *Node) Handle(o *Op) {
	if o.From == n.cfg.UID || !n.started.Load() {
		return
	}
	if n.counter == nil && o.From != EmitterUID && o.From != "" {
		n.seen(o.From)
	}
	switch o.Kind {
	case OpInitialHeartbeat:
		if n.counter == nil {
			n.sendHeartbeat(OpHeartbeat)
		}
	case OpHeartbeat:
	case OpAdapterClose:
		if n.counter == nil {
			n.removeNode(o.From)
		}
	case OpBroadcast:
		n.OnBroadcast(o)
	case OpJoin:
		_ = n.Memory.AddSockets(context.Background(), o.Opts, o.Rooms)
	case OpLeave:
		_ = n.Memory.DelSockets(context.Background(), o.Opts, o.Rooms)
	case OpDisconnect:
		_ = n.Memory.DisconnectSockets(context.Background(), o.Opts, o.Close)
	case OpFetch:
		n.onFetch(o)
	case OpServerSideEmit:
		n.onServerSideEmit(o)
	case OpClientCount, OpAck:
		n.mu.Lock()
		req := n.acks[o.RequestID]
		n.mu.Unlock()
		if req == nil {
			return
		}
		if o.Kind == OpClientCount {
			req.onCount(o.Count)
		} else {
			req.onAck(Values([]any{o.Value}))
		}
	case OpFetchResponse:
		n.mu.Lock()
		if req := n.fetches[o.RequestID]; req != nil && n.answered(req.missing, &req.remaining, o.From) {
			for _, s := range o.Sockets {
				req.sockets = append(req.sockets, DecodeSocket(s))
			}
			if req.remaining == 0 {
				close(req.done)
			}
		}
		n.mu.Unlock()
	case OpSSEResponse:
		n.mu.Lock()
		req := n.sses[o.RequestID]
		if req != nil && n.answered(req.missing, &req.remaining, o.From) {
			if req.remaining == 0 {
				delete(n.sses, o.RequestID)
			}
		} else {
			req = nil
		}
		n.mu.Unlock()
		if req != nil {
			req.onAck(Values([]any{o.Value}))
		}
	default:
		if o.Kind >= OpExtension && n.cfg.Extension != nil {
			n.cfg.Extension(o)
		}
	}
}

// answered counts an answer from uid to a request waiting for the nodes
// in missing (heartbeats) or for remaining answers, and reports whether
// it was awaited. Caller holds n.mu.
func (n *Node) answered(missing map[string]bool, remaining *int, uid string) bool {
	if *remaining <= 0 {
		return false
	}
	if missing != nil {
		if !missing[uid] {
			return false
		}
		delete(missing, uid)
	}
	*remaining--
	return true
}

// Answer sends an answer, logging a failure: nobody else can hear of it.
func (n *Node) Answer(o *Op) {
	if !n.started.Load() {
		return // a request that came before Start, dropped as Handle drops it
	}
	if err := n.t.Send(o); err != nil {
		n.log.Warn(n.cfg.Name+": cannot answer a request", "err", err)
	}
}

// localPacket turns a generic EVENT packet from another node into one for
// the local sockets of this namespace. The message that carried it was
// routed to this namespace already (by its channel, its stream entry or
// its own nsp field), so the packet's nsp, which the Node cluster
// adapters leave out, is not looked at: the Node adapters overwrite it too.
func (n *Node) localPacket(pkt map[string]any) (*parser.SocketPacket, bool) {
	if pkt == nil {
		return nil, false
	}
	typ, _ := AsInt(pkt["type"])
	switch parser.SocketPacketType(typ) {
	case parser.SocketPacketEvent, parser.SocketPacketBinaryEvent:
	default:
		return nil, false
	}
	data := AsSlice(pkt["data"])
	if len(data) == 0 {
		return nil, false
	}
	return &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: n.nsp.Name(), Data: data}, true
}

// OnBroadcast delivers a broadcast op to the local sockets; with a
// request id, it answers with the count of sockets reached and relays
// their acknowledgements.
func (n *Node) OnBroadcast(o *Op) {
	p, ok := n.localPacket(o.Packet)
	if !ok {
		return
	}
	if o.Opts == nil {
		o.Opts = DecodeOpts(nil)
	}
	if o.RequestID == "" {
		if n.cfg.AppendOffsets && o.Offset != "" && !o.Opts.Flags.Volatile {
			if _, hasID := o.Packet["id"]; !hasID {
				p.Data = append(p.Data.([]any), o.Offset)
			}
		}
		if err := n.Memory.Broadcast(context.Background(), p, o.Opts); err != nil {
			n.log.Warn(n.cfg.Name+": cannot deliver a broadcast", "err", err)
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
		if c := expected.Load(); c >= 0 && answered.Load() >= c {
			cancel()
		}
	}
	err := n.Memory.BroadcastWithAck(ctx, p, o.Opts, func(c int) {
		expected.Store(int64(c))
		done()
		n.Answer(&Op{Kind: OpClientCount, To: from, RequestID: id, Count: c})
	}, func(args []parser.Value) {
		defer func() { answered.Add(1); done() }()
		var first any
		if len(args) > 0 {
			v, err := parser.Normalize(args[0])
			if err != nil {
				n.log.Warn(n.cfg.Name+": cannot relay an acknowledgement", "err", err)
				return
			}
			first = v
		}
		n.Answer(&Op{Kind: OpAck, To: from, RequestID: id, Value: first})
	})
	if err != nil {
		cancel()
		n.log.Warn(n.cfg.Name+": cannot deliver a broadcast", "err", err)
	}
}

func (n *Node) onFetch(o *Op) {
	local, _ := n.Memory.FetchSockets(context.Background(), o.Opts)
	sockets := make([]any, 0, len(local))
	for _, s := range local {
		m, err := EncodeSocket(s)
		if err != nil {
			n.log.Warn(n.cfg.Name+": cannot describe a socket", "id", s.ID, "err", err)
			continue
		}
		sockets = append(sockets, m)
	}
	n.Answer(&Op{Kind: OpFetchResponse, To: o.From, RequestID: o.RequestID, Sockets: sockets})
}

func (n *Node) onServerSideEmit(o *Op) {
	if len(o.Data) == 0 {
		return
	}
	event, ok := o.Data[0].(string)
	if !ok {
		return
	}
	args := Values(o.Data[1:])
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
						n.log.Warn(n.cfg.Name+": cannot answer a server-side event", "err", err)
						return
					}
					first = v
				}
				n.Answer(&Op{Kind: OpSSEResponse, To: from, RequestID: id, Value: first})
			})
		}
	}
	// Handlers are user code: they must not hold up the messages.
	go n.nsp.OnServerSideEmit(event, args, ack)
}
