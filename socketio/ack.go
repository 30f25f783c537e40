package socketio

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/parser"
)

// ack is a pending acknowledgement: called once with the answer, or with
// an error when the socket disconnects first.
type ack func(args []parser.Value, err error)

// registerAck keeps fn for the answer to packet id. It fails when the
// socket is disconnected, or already owes Options.MaxPendingAcks answers.
func (s *Socket) registerAck(id uint64, fn ack) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected {
		return ErrDisconnected
	}
	if len(s.acks) >= s.nsp.server.opts.MaxPendingAcks {
		return ErrTooManyAcks
	}
	if s.acks == nil {
		s.acks = make(map[uint64]ack, 1)
	}
	s.acks[id] = fn
	return nil
}

// dropAck forgets the acknowledgement of packet id: its wait ended.
func (s *Socket) dropAck(id uint64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

// takeAck removes and returns the acknowledgement of packet id; nil when
// none is waited for.
func (s *Socket) takeAck(id uint64) ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn := s.acks[id]
	delete(s.acks, id)
	return fn
}

// pendingAcks is the number of answers the client owes.
func (s *Socket) pendingAcks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks)
}

// EmitWithAck sends an event and waits for its acknowledgement; see
// Socket.EmitWithAck.
func (e Emitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	s := e.s
	p, err := eventPacket(s.nsp.name, event, args)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.nsp.server.ackContext(ctx, e.flags.Timeout)
	defer cancel()
	type answer struct {
		args Args
		err  error
	}
	ch := make(chan answer, 1)
	p.ID, p.HasID = s.nsp.nextAckID(), true
	if err := s.registerAck(p.ID, func(a []parser.Value, err error) { ch <- answer{Args(a), err} }); err != nil {
		return nil, err
	}
	defer s.dropAck(p.ID)
	msgs, err := s.nsp.server.parser.Encode(p)
	if err != nil {
		return nil, err
	}
	_ = s.write(p, msgs, e.flags) // not sent: no answer comes, and the wait ends as without one
	// A connection handler waiting for its own client: the client cannot
	// answer before it is told it is connected, so it is told now.
	s.acknowledgeConnect()
	select {
	case a := <-ch:
		return a.args, a.err
	case <-ctx.Done():
		return nil, ackError(ctx)
	}
}

// ackReply answers the client's packet id, once.
type ackReply struct {
	s    *Socket
	id   uint64
	sent atomic.Bool
}

// send is the Ack of an event the client sent with an id.
func (r *ackReply) send(args ...any) error {
	if !r.sent.CompareAndSwap(false, true) {
		return ErrAckSent
	}
	if args == nil {
		args = []any{}
	}
	if !r.s.Connected() {
		return ErrDisconnected
	}
	r.s.writePacket(&parser.SocketPacket{Type: parser.SocketPacketAck, Namespace: r.s.nsp.name, ID: r.id, HasID: true, Data: args})
	return nil
}

// ackContext bounds ctx by the timeout d, or else by the server's
// AckTimeout.
func (s *Server) ackContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if d <= 0 {
		d = s.opts.AckTimeout
	}
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// ackCollector gathers the answers of a request made to many at once (a
// broadcast with acknowledgements, a server-side emit with
// acknowledgements): it is complete when every party that reports a count
// has reported it and that many answers came.
type ackCollector struct {
	mu      sync.Mutex
	reports int // count reports still expected
	want    int // answers expected from the reports so far
	sealed  bool
	answers []Args
	done    chan struct{}
	closed  bool
}

func newAckCollector() *ackCollector { return &ackCollector{done: make(chan struct{})} }

// expect adds n count reports to wait for.
func (c *ackCollector) expect(n int) {
	c.mu.Lock()
	c.reports += n
	c.mu.Unlock()
}

// onCount takes one count report: n more answers to wait for.
func (c *ackCollector) onCount(n int) {
	c.mu.Lock()
	c.reports--
	c.want += n
	c.checkLocked()
	c.mu.Unlock()
}

// onAck takes one answer.
func (c *ackCollector) onAck(a []parser.Value) {
	c.mu.Lock()
	c.answers = append(c.answers, Args(a))
	c.checkLocked()
	c.mu.Unlock()
}

// seal says no more count reports will be added.
func (c *ackCollector) seal() {
	c.mu.Lock()
	c.sealed = true
	c.checkLocked()
	c.mu.Unlock()
}

func (c *ackCollector) checkLocked() {
	if c.sealed && !c.closed && c.reports <= 0 && len(c.answers) >= c.want {
		c.closed = true
		close(c.done)
	}
}

// wait waits for the collector to be complete, or ctx to be done, and
// returns the answers in the order they came, with ackError(ctx) when some
// were missing.
func (c *ackCollector) wait(ctx context.Context) ([]Args, error) {
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]Args(nil), c.answers...)
	if !c.closed {
		return out, ackError(ctx)
	}
	return out, nil
}
