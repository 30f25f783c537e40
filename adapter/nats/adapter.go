package natsadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/nats-io/nats.go"
)

// natsAdapter is the adapter of one namespace: a cluster.Node (local
// rooms and sockets, the other nodes known from their heartbeats, the
// requests waiting for their answers) whose messages go through NATS.
// Every subscription of the namespace delivers into msgs, which readLoop
// drains, so messages are handled in the order the server sent them,
// whatever their subject.
type natsAdapter struct {
	*cluster.Node
	hub  *hub
	nsp  adapter.Namespace
	uid  string
	log  *slog.Logger
	subj subjects
	rec  *recovery // nil without recovery across nodes

	msgs chan *nats.Msg
	stop chan struct{} // closed by Close: readLoop returns
	done chan struct{} // closed when readLoop has returned

	mu      sync.Mutex
	closing bool // Close has begun: no more hellos
	closed  bool
	fixed   []*nats.Subscription          // the namespace's and the node's subjects
	members map[string]int                // room → local members, for rooms with a subject
	rooms   map[string]*nats.Subscription // room → subscription of its subject
}

func newAdapter(h *hub, nsp adapter.Namespace, uid string) *natsAdapter {
	a := &natsAdapter{
		hub: h, nsp: nsp, uid: uid,
		subj:    newSubjects(h.opts.Prefix, nsp.Name()),
		msgs:    make(chan *nats.Msg, msgBuffer),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		members: make(map[string]int),
		rooms:   make(map[string]*nats.Subscription),
	}
	js := h.jetStream()
	window := h.opts.RecoveryWindow
	if js != nil {
		window = 0 // sessions and missed packets are in JetStream
	}
	a.Node = cluster.NewNode(nsp, cluster.Config{
		UID: uid, Name: "natsadapter", Logger: h.opts.Logger, AppendOffsets: js != nil,
		RequestsTimeout: h.opts.RequestsTimeout, RecoveryWindow: window,
		HeartbeatInterval: h.opts.HeartbeatInterval, HeartbeatTimeout: h.opts.HeartbeatTimeout,
		ErrTimeout: ErrTimeout, ErrClosed: ErrClosed,
	})
	a.log = a.Node.Logger()
	if h.err != nil {
		a.log.Error("natsadapter: the namespace cannot reach other nodes", "err", h.err)
	} else {
		for _, s := range []string{a.subj.all(), a.subj.node(uid)} {
			sub, err := h.nc.ChanSubscribe(s, a.msgs)
			if err != nil {
				a.log.Error("natsadapter: cannot subscribe", "subject", s, "err", err)
				continue
			}
			a.fixed = append(a.fixed, sub)
		}
		if js != nil {
			if err := a.startRecovery(js); err != nil {
				a.log.Error("natsadapter: no connection state recovery", "err", err)
			}
		}
		// Subscribe before saying hello, so that no answer is missed.
		if err := h.nc.FlushTimeout(h.opts.RequestsTimeout); err != nil {
			a.log.Warn("natsadapter: subscriptions not confirmed by the server", "err", err)
		}
	}
	a.Node.Start(transport{a})
	// Messages wait in msgs, and reconnections are not watched, until the
	// node has its transport.
	go a.readLoop()
	h.add(a)
	return a
}

// hello says hello to the other nodes again, unless the adapter is
// closing: a hello after the goodbye would make them count this node
// until its heartbeat times out.
func (a *natsAdapter) hello() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closing {
		a.Hello()
	}
}

// Close implements adapter.Adapter: the node says goodbye to the others
// and unsubscribes; requests waiting for answers fail.
func (a *natsAdapter) Close() error {
	a.mu.Lock()
	a.closing = true
	a.mu.Unlock()
	return a.Node.Close()
}

// readLoop hands the received messages to the node until Close.
func (a *natsAdapter) readLoop() {
	defer close(a.done)
	for {
		select {
		case <-a.stop:
			return
		case m := <-a.msgs:
			a.receive(m.Data)
		}
	}
}

// receive handles one message: a malformed one, or one of another
// namespace (two long names may share a token), is dropped.
func (a *natsAdapter) receive(data []byte) {
	nsp, o, err := decodeMessage(data)
	if err != nil {
		a.log.Warn("natsadapter: dropped a message", "err", err)
		return
	}
	if nsp != a.nsp.Name() {
		return
	}
	a.Handle(o)
}

// AddAll implements adapter.Adapter: a room that gets its first local
// member gets its subject subscribed.
func (a *natsAdapter) AddAll(id string, rooms ...string) []string {
	added := a.Node.AddAll(id, rooms...)
	a.track(id, added, +1)
	return added
}

// Del implements adapter.Adapter: a room that loses its last local
// member has its subject unsubscribed.
func (a *natsAdapter) Del(id, room string) bool {
	in := a.Node.Del(id, room)
	if in {
		a.track(id, []string{room}, -1)
	}
	return in
}

// DelAll implements adapter.Adapter.
func (a *natsAdapter) DelAll(id string) []string {
	rooms := a.Node.DelAll(id)
	a.track(id, rooms, -1)
	return rooms
}

// track counts the local members of the rooms that have a subject, and
// subscribes to a room's subject with its first member and unsubscribes
// with its last; delta is +1 or -1. A socket's own room has no subject.
// The NATS calls only queue protocol lines: they do not wait for the
// server.
func (a *natsAdapter) track(id string, rooms []string, delta int) {
	if len(rooms) == 0 || a.hub.err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	for _, r := range rooms {
		if r == id || !hasRoomSubject(r) {
			continue
		}
		a.members[r] += delta
		switch c := a.members[r]; {
		case c <= 0:
			delete(a.members, r)
			if sub := a.rooms[r]; sub != nil {
				delete(a.rooms, r)
				if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
					a.log.Warn("natsadapter: cannot unsubscribe", "room", r, "err", err)
				}
			}
		case c == 1 && delta > 0:
			sub, err := a.hub.nc.ChanSubscribe(a.subj.room(r), a.msgs)
			if err != nil {
				a.log.Warn("natsadapter: cannot subscribe: the room's broadcasts from other nodes are lost", "room", r, "err", err)
				continue
			}
			a.rooms[r] = sub
		}
	}
}

// Flush implements adapter.Flusher: it returns once the NATS server has
// received everything this node published before (nats.go buffers
// publications, also while it reconnects), or with ctx's error; without
// a deadline in ctx, it waits up to RequestsTimeout.
func (a *natsAdapter) Flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.hub.opts.RequestsTimeout)
		defer cancel()
	}
	if err := a.hub.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("natsadapter: flush: %w", err)
	}
	return nil
}

// transport is the adapter as its cluster.Node sees it. It counts no
// nodes: the Node counts them from their heartbeats.
type transport struct{ a *natsAdapter }

// Send publishes an op on its subject.
func (t transport) Send(o *cluster.Op) error {
	a := t.a
	if a.hub.err != nil {
		return a.hub.err
	}
	if a.rec != nil && streamed(o.Kind) {
		return a.publishStream(context.Background(), o)
	}
	return publish(a.hub.nc, a.subj.subject(o), o, a.uid, a.nsp.Name())
}

// publish encodes o and publishes it on subject.
func publish(nc *nats.Conn, subject string, o *cluster.Op, uid, nsp string) error {
	b, err := encode(o, uid, nsp)
	if err != nil {
		return err
	}
	if err := nc.Publish(subject, b); err != nil {
		return fmt.Errorf("natsadapter: publish on %s (%d bytes): %w", subject, len(b), err)
	}
	return nil
}

// Close stops receiving: it unsubscribes every subject of the namespace
// and waits for readLoop.
func (t transport) Close() {
	a := t.a
	a.hub.remove(a)
	a.mu.Lock()
	a.closed = true
	subs := a.fixed
	for _, sub := range a.rooms {
		subs = append(subs, sub)
	}
	a.fixed, a.rooms, a.members = nil, nil, nil
	a.mu.Unlock()
	for _, sub := range subs {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			a.log.Debug("natsadapter: cannot unsubscribe", "subject", sub.Subject, "err", err)
		}
	}
	a.stopRecovery()
	close(a.stop)
	<-a.done
}
