package socketio

import (
	"context"
	"sync"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// adapterView is the namespace as its adapter sees it: the
// adapter.Namespace it is made with. Its methods act on the sockets the
// adapter selected; they are not part of the package's API, so that no
// user can bypass a socket's listeners or acknowledgements through them.
type adapterView struct{ n *Namespace }

var _ adapter.Namespace = adapterView{}

// Name implements adapter.Namespace.
func (v adapterView) Name() string { return v.n.name }

// socketLists keeps the socket lists of finished deliveries for the next
// ones.
var socketLists = sync.Pool{New: func() any { return new([]*Socket) }}

// withSockets hands fn the connected sockets of ids, looked up under one
// read lock and used outside it.
func (v adapterView) withSockets(ids []string, fn func([]*Socket)) {
	list := socketLists.Get().(*[]*Socket)
	socks := (*list)[:0]
	v.n.mu.RLock()
	for _, id := range ids {
		if s := v.n.sockets[id]; s != nil {
			socks = append(socks, s)
		} else if s := v.n.restoring[id]; s != nil {
			socks = append(socks, s)
		}
	}
	v.n.mu.RUnlock()
	fn(socks)
	if cap(socks) <= 1<<16 { // a list for a huge broadcast is left to the GC
		clear(socks)
		*list = socks[:0]
		socketLists.Put(list)
	}
}

// Deliver implements adapter.Namespace.
func (v adapterView) Deliver(ids []string, p *parser.SocketPacket, flags adapter.Flags) error {
	msgs, err := v.n.server.parser.Encode(p)
	if err != nil {
		return err
	}
	v.withSockets(ids, func(socks []*Socket) {
		for _, s := range socks {
			_ = s.write(p, msgs, flags)
		}
	})
	return nil
}

// DeliverWithAck implements adapter.Namespace. A socket counts as reached
// only when its acknowledgement could be registered (it is connected and
// owes fewer than Options.MaxPendingAcks answers) and the packet was sent
// (a volatile one may be dropped); when ctx is done, every socket reached
// forgets the acknowledgement, answered or not.
func (v adapterView) DeliverWithAck(ctx context.Context, ids []string, p *parser.SocketPacket, flags adapter.Flags, onAck func([]parser.Value)) (int, error) {
	p.ID, p.HasID = v.n.nextAckID(), true
	msgs, err := v.n.server.parser.Encode(p)
	if err != nil {
		return 0, err
	}
	fn := func(a []parser.Value, err error) {
		if err == nil {
			onAck(a)
		}
	}
	var reached []*Socket
	v.withSockets(ids, func(socks []*Socket) {
		for _, s := range socks {
			if err := s.registerAck(p.ID, fn); err != nil {
				if err == ErrTooManyAcks {
					v.n.server.log.Warn("socketio: socket left out of a broadcast: too many acknowledgements pending", "nsp", v.n.name, "sid", s.id)
				}
				continue
			}
			if s.write(p, msgs, flags) != nil {
				s.dropAck(p.ID)
				continue
			}
			reached = append(reached, s)
		}
	})
	if len(reached) > 0 {
		id := p.ID
		context.AfterFunc(ctx, func() {
			for _, s := range reached {
				s.dropAck(id)
			}
		})
	}
	return len(reached), nil
}

// Join implements adapter.Namespace.
func (v adapterView) Join(ids, rooms []string) {
	v.withSockets(ids, func(socks []*Socket) {
		for _, s := range socks {
			s.Join(rooms...)
		}
	})
}

// Leave implements adapter.Namespace.
func (v adapterView) Leave(ids, rooms []string) {
	v.withSockets(ids, func(socks []*Socket) {
		for _, s := range socks {
			for _, r := range rooms {
				s.Leave(r)
			}
		}
	})
}

// Disconnect implements adapter.Namespace.
func (v adapterView) Disconnect(ids []string, close bool) {
	v.withSockets(ids, func(socks []*Socket) {
		for _, s := range socks {
			s.Disconnect(close)
		}
	})
}

// Describe implements adapter.Namespace.
func (v adapterView) Describe(ids []string) []adapter.SocketInfo {
	var out []adapter.SocketInfo
	v.withSockets(ids, func(socks []*Socket) {
		out = make([]adapter.SocketInfo, 0, len(socks))
		for _, s := range socks {
			out = append(out, s.describe())
		}
	})
	return out
}

// Connected implements adapter.Namespace.
func (v adapterView) Connected(id string) bool { return v.n.LocalSocket(id) != nil }

// OnServerSideEmit implements adapter.Namespace.
func (v adapterView) OnServerSideEmit(event string, args []parser.Value, ack func(args ...any)) {
	n := v.n
	if event == releaseEvent {
		n.release(args, ack)
		return
	}
	n.mu.RLock()
	hs := n.serverSide[event]
	n.mu.RUnlock()
	var a Ack
	if ack != nil {
		a = (&serverSideReply{send: ack}).reply
	}
	for _, h := range hs {
		n.server.callHandler(h, n.name, event, Args(args), a)
	}
}

// serverSideReply answers a server-side event once.
type serverSideReply struct {
	send func(args ...any)
	once sync.Once
}

func (r *serverSideReply) reply(args ...any) error {
	r.once.Do(func() { r.send(args...) })
	return nil
}
