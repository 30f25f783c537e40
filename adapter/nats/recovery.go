package natsadapter

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/parser"
	"github.com/nats-io/nats.go/jetstream"
)

// Connection state recovery across nodes on JetStream (RecoveryWindow
// above zero): broadcasts without acks go through a stream, which every
// node reads back in order (the sender too) and delivers with the
// entry's sequence as the offset; sessions are kept in a key-value
// bucket whose entries expire after the window.

// offsetPattern is what an offset is: a stream sequence.
var offsetPattern = regexp.MustCompile(`^[0-9]{1,20}$`)

// pidPattern is what a private session id may be to serve as a key.
var pidPattern = regexp.MustCompile(`^[A-Za-z0-9_=-]{1,200}$`)

// jetStream is what the adapters of a factory share for recovery.
type jetStream struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	kv     jetstream.KeyValue
}

// setupJetStream creates (or updates) the stream and the session bucket.
func setupJetStream(h *hub) (*jetStream, error) {
	js, err := jetstream.New(h.nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
	defer cancel()
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     h.opts.StreamName,
		Subjects: []string{h.opts.Prefix + ".*.js"},
		MaxAge:   h.opts.RecoveryWindow,
		MaxMsgs:  int64(h.opts.MaxLen),
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", h.opts.StreamName, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:  h.opts.SessionBucket,
		TTL:     h.opts.RecoveryWindow,
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("session bucket %s: %w", h.opts.SessionBucket, err)
	}
	return &jetStream{js: js, stream: stream, kv: kv}, nil
}

// recovery is the stream side of one namespace's adapter.
type recovery struct {
	js      *jetStream
	subject string // <prefix>.<nsp>.js
	cc      jetstream.ConsumeContext

	// deliverMu orders a restoration with the deliveries: held while an
	// entry is delivered and while a session's missed entries are read
	// and its socket attached.
	deliverMu sync.Mutex
	liveAt    uint64 // the last sequence read back
}

// startRecovery starts reading the namespace's stream subject after its
// last entry. Caller has not started the node's transport yet.
func (a *natsAdapter) startRecovery(js *jetStream) error {
	r := &recovery{js: js, subject: a.subj.base + "js"}
	ctx, cancel := context.WithTimeout(context.Background(), a.hub.opts.RequestsTimeout)
	defer cancel()
	info, err := js.stream.Info(ctx)
	if err != nil {
		return err
	}
	r.liveAt = info.State.LastSeq
	cons, err := js.js.OrderedConsumer(ctx, a.hub.opts.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{r.subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    r.liveAt + 1,
	})
	if err != nil {
		return err
	}
	a.rec = r
	if r.cc, err = cons.Consume(a.onEntry); err != nil {
		a.rec = nil
		return err
	}
	return nil
}

// stopRecovery stops reading the stream and waits for the reader.
func (a *natsAdapter) stopRecovery() {
	if a.rec == nil {
		return
	}
	a.rec.cc.Stop()
	<-a.rec.cc.Closed()
}

// streamed reports whether ops of kind k go through the stream with
// recovery: broadcasts without acks (Broadcast) and what changes rooms
// or connections, so that every node sees them in the order they were
// made.
func streamed(k cluster.Kind) bool {
	return k == cluster.OpJoin || k == cluster.OpLeave || k == cluster.OpDisconnect
}

// publishStream publishes o on the namespace's stream subject and waits
// for the server to have it.
func (a *natsAdapter) publishStream(ctx context.Context, o *cluster.Op) error {
	b, err := encode(o, a.uid, a.nsp.Name())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.hub.opts.RequestsTimeout)
	defer cancel()
	if _, err := a.rec.js.js.Publish(ctx, a.rec.subject, b); err != nil {
		return fmt.Errorf("natsadapter: publish on the stream: %w", err)
	}
	return nil
}

// onEntry handles an entry read back from the stream: a broadcast is
// delivered (this node's too) with its sequence as the offset; the
// other ops of other nodes are carried out.
func (a *natsAdapter) onEntry(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	nsp, o, err := decodeMessage(m.Data())
	r := a.rec
	r.deliverMu.Lock()
	defer r.deliverMu.Unlock()
	r.liveAt = meta.Sequence.Stream
	if err != nil {
		a.log.Warn("natsadapter: dropped a stream entry", "err", err)
		return
	}
	if nsp != a.nsp.Name() {
		return
	}
	if o.Kind != cluster.OpBroadcast {
		a.Handle(o) // this node's own were carried out when made
		return
	}
	o.Offset = strconv.FormatUint(meta.Sequence.Stream, 10)
	a.OnBroadcast(o)
}

// Broadcast implements adapter.Adapter. With recovery, a broadcast
// without acks goes through the stream, and every node delivers it, this
// one too, when it reads it back, with its offset; when the stream
// cannot take it, the local sockets get it at once, without an offset.
func (a *natsAdapter) Broadcast(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	if a.rec == nil || opts.Flags.Local {
		return a.Node.Broadcast(ctx, p, opts)
	}
	pkt, err := a.EventPacket(p)
	if err != nil {
		return err
	}
	if err := a.publishStream(ctx, &cluster.Op{Kind: cluster.OpBroadcast, Packet: pkt, Opts: opts}); err != nil {
		_ = a.Node.Memory.Broadcast(ctx, p, opts)
		return err
	}
	return nil
}

// PersistSession implements adapter.Adapter: with recovery, the session
// is kept in the bucket for the recovery window, for any node to
// restore; it returns once the server has it.
func (a *natsAdapter) PersistSession(ctx context.Context, s *adapter.Session) error {
	if a.rec == nil {
		return a.Node.PersistSession(ctx, s)
	}
	if !pidPattern.MatchString(s.PID) {
		return fmt.Errorf("natsadapter: persist session: invalid pid %q", s.PID)
	}
	data, err := parser.Normalize(s.Data)
	if err != nil {
		return fmt.Errorf("natsadapter: persist session: %w", err)
	}
	rooms := s.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	b, err := cluster.EncodeMsgpack(map[string]any{"sid": s.SID, "pid": s.PID, "rooms": cluster.StringsToAny(rooms), "data": data})
	if err != nil {
		return fmt.Errorf("natsadapter: persist session: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.hub.opts.RequestsTimeout)
	defer cancel()
	if _, err := a.rec.js.kv.Put(ctx, s.PID, b); err != nil {
		return fmt.Errorf("natsadapter: persist session: %w", err)
	}
	return nil
}

// ForgetSession implements adapter.SessionForgetter.
func (a *natsAdapter) ForgetSession(ctx context.Context, pid string) error {
	if a.rec == nil || !pidPattern.MatchString(pid) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.hub.opts.RequestsTimeout)
	defer cancel()
	if err := a.rec.js.kv.Delete(ctx, pid); err != nil {
		return fmt.Errorf("natsadapter: forget session: %w", err)
	}
	return nil
}

// RestoreSession implements adapter.Adapter.
func (a *natsAdapter) RestoreSession(ctx context.Context, pid, offset string) (*adapter.Session, error) {
	return a.RestoreSessionAttach(ctx, pid, offset, nil)
}

// RestoreSessionAttach implements adapter.AttachingRestorer: with
// recovery, it takes the session from the bucket (one node only can),
// checks that the offset's entry is still in the stream, and reads the
// broadcasts for the session's rooms after it, up to the last entry this
// node delivered, before it attaches the socket.
func (a *natsAdapter) RestoreSessionAttach(ctx context.Context, pid, offset string, attach func(*adapter.Session)) (*adapter.Session, error) {
	if a.rec == nil {
		s, err := a.Node.RestoreSession(ctx, pid, offset)
		if err == nil && attach != nil {
			attach(s)
		}
		return s, err
	}
	if !pidPattern.MatchString(pid) || !offsetPattern.MatchString(offset) {
		return nil, adapter.ErrSessionNotFound
	}
	seq, err := strconv.ParseUint(offset, 10, 64)
	if err != nil {
		return nil, adapter.ErrSessionNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, a.hub.opts.RequestsTimeout)
	defer cancel()
	js := a.rec.js
	e, err := js.kv.Get(ctx, pid)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, adapter.ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("natsadapter: restore session: %w", err)
	}
	// Only the node whose delete names the revision it read takes it.
	if err := js.kv.Delete(ctx, pid, jetstream.LastRevision(e.Revision())); err != nil {
		return nil, adapter.ErrSessionNotFound
	}
	s, err := decodeSession(e.Value())
	if err != nil {
		return nil, adapter.ErrSessionNotFound
	}
	if _, err := js.stream.GetMsg(ctx, seq); err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, adapter.ErrSessionNotFound
		}
		return nil, fmt.Errorf("natsadapter: restore session: %w", err)
	}
	r := a.rec
	// A node that has not read the offset's entry yet would deliver the
	// entries up to it again, live: wait for it.
	for {
		r.deliverMu.Lock()
		if r.liveAt >= seq {
			break
		}
		r.deliverMu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsadapter: restore session: the stream was not read up to the offset: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	defer r.deliverMu.Unlock()
	// The entries of the namespace after the offset, up to the last one
	// delivered here, one request each, MaxLen at most.
	for n, reads := seq+1, 0; n <= r.liveAt; reads++ {
		if reads >= a.hub.opts.MaxLen {
			return nil, adapter.ErrSessionNotFound
		}
		m, err := js.stream.GetMsg(ctx, n, jetstream.WithGetMsgSubject(r.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("natsadapter: restore session: %w", err)
		}
		if m.Sequence > r.liveAt {
			break // delivered live once attached
		}
		if data, ok := a.missed(m.Data, s.Rooms); ok {
			s.MissedPackets = append(s.MissedPackets, append(data, strconv.FormatUint(m.Sequence, 10)))
		}
		n = m.Sequence + 1
	}
	if attach != nil {
		attach(s)
	}
	return s, nil
}

// missed returns the arguments of a stream entry when it is a broadcast
// of this namespace that a socket in rooms would have received and may
// recover (no ack, not volatile).
func (a *natsAdapter) missed(b []byte, rooms []string) ([]any, bool) {
	nsp, o, err := decodeMessage(b)
	if err != nil || nsp != a.nsp.Name() || o.Kind != cluster.OpBroadcast || o.RequestID != "" || o.Packet == nil {
		return nil, false
	}
	if _, hasID := o.Packet["id"]; hasID {
		return nil, false
	}
	if o.Opts == nil {
		o.Opts = &adapter.BroadcastOptions{}
	}
	if o.Opts.Flags.Volatile || !includes(rooms, o.Opts.Rooms, o.Opts.Except) {
		return nil, false
	}
	data := cluster.AsSlice(o.Packet["data"])
	if len(data) == 0 {
		return nil, false
	}
	return slices.Clone(data), true
}

// includes reports whether a socket in rooms is selected by targets
// (every socket when empty) and not by excepted.
func includes(rooms, targets, excepted []string) bool {
	for _, r := range excepted {
		if slices.Contains(rooms, r) {
			return false
		}
	}
	if len(targets) == 0 {
		return true
	}
	for _, r := range targets {
		if slices.Contains(rooms, r) {
			return true
		}
	}
	return false
}

// decodeSession reads a session written by PersistSession.
func decodeSession(b []byte) (*adapter.Session, error) {
	v, err := cluster.DecodeMsgpack(b)
	if err != nil {
		return nil, err
	}
	m := cluster.AsMap(v)
	if m == nil {
		return nil, cluster.ErrMalformed
	}
	return &adapter.Session{SID: cluster.AsString(m["sid"]), PID: cluster.AsString(m["pid"]),
		Rooms: cluster.AsStrings(m["rooms"]), Data: m["data"]}, nil
}
