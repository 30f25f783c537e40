package redisadapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/parser"
	"github.com/redis/go-redis/v9"
)

// StreamsOptions configures the Streams adapter. Zero values mean the
// defaults of @socket.io/redis-streams-adapter, except BlockTime.
type StreamsOptions struct {
	// StreamName names the stream; default "socket.io".
	StreamName string
	// StreamCount spreads the namespaces over that many streams,
	// "<name>-<i>", when above 1; default 1.
	StreamCount int
	// ChannelPrefix prefixes the pub/sub channels that carry requests and
	// answers; default "socket.io".
	ChannelPrefix string
	// UseShardedPubSub sends requests and answers with SPUBLISH.
	UseShardedPubSub bool
	// MaxLen trims the stream to about that many entries; default 10000.
	MaxLen int64
	// ReadCount is the most entries one XREAD returns; default 100.
	ReadCount int64
	// BlockTime is how long one XREAD waits for entries; default 1s (the
	// reference waits 5s). Closing the adapter waits for it.
	BlockTime time.Duration
	// SessionKeyPrefix prefixes the keys of persisted sessions; default
	// "sio:session:".
	SessionKeyPrefix string
	// RecoveryWindow, when above zero, enables connection state recovery
	// across nodes: events carry their stream offset, and the state of a
	// disconnected socket is kept in Redis that long. Set it to the
	// server's MaxDisconnectionDuration.
	RecoveryWindow time.Duration
	// OnlyPlaintext writes stream entries as JSON even when they hold
	// binary.
	OnlyPlaintext bool
	// RequestsTimeout bounds the wait for other nodes' answers when the
	// context does not say sooner, and for Redis when restoring a
	// session; default 5s.
	RequestsTimeout time.Duration
	// QueueSize bounds the messages waiting while Redis cannot be
	// reached; default 10000.
	QueueSize int
	// Logger receives connection losses and recoveries; default none.
	Logger *slog.Logger
}

// NewStreamsFactory returns a Factory of adapters speaking the protocol of
// @socket.io/redis-streams-adapter: broadcasts, joins, leaves and
// disconnections are entries of a Redis stream (fields uid, nsp, type and
// data), which every node reads; requests and their answers go over
// pub/sub. Nothing sent while Redis is unreachable is lost: entries wait
// in a queue and the stream is read on from the last entry seen. With
// RecoveryWindow set, a client that reconnects to any node gets the
// events it missed.
func NewStreamsFactory(client redis.UniversalClient, opts *StreamsOptions) adapter.Factory {
	var o StreamsOptions
	if opts != nil {
		o = *opts
	}
	if o.StreamName == "" {
		o.StreamName = "socket.io"
	}
	if o.StreamCount <= 0 {
		o.StreamCount = 1
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 10000
	}
	if o.ReadCount <= 0 {
		o.ReadCount = 100
	}
	if o.BlockTime <= 0 {
		o.BlockTime = time.Second
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = "sio:session:"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = defaultRequestsTimeout
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	f := &streamsFactory{rdb: client, opts: o, sub: newSubscriber(client, o.Logger), adapters: make(map[string]*streamsAdapter), read: make(map[string]string)}
	return f.newAdapter
}

// streamsFactory reads the streams for all the namespaces of a server.
type streamsFactory struct {
	rdb  redis.UniversalClient
	opts StreamsOptions
	sub  *subscriber

	mu       sync.Mutex
	adapters map[string]*streamsAdapter // by namespace
	read     map[string]string          // by stream: the id of the last entry read
	stop     chan struct{}
	done     sync.WaitGroup
}

func (f *streamsFactory) newAdapter(nsp adapter.Namespace) adapter.Adapter {
	a := newStreams(f, nsp)
	f.mu.Lock()
	f.adapters[nsp.Name()] = a
	if f.stop == nil {
		f.stop = make(chan struct{})
		for _, name := range f.streamNames() {
			// Where to start is settled now, so that what is added once
			// the server runs is read; when Redis cannot say, the reader
			// asks again.
			ctx, cancel := context.WithTimeout(context.Background(), f.opts.RequestsTimeout)
			offset, _ := f.lastID(ctx, name)
			cancel()
			f.read[name] = offset
			f.done.Add(1)
			go f.follow(name, offset, f.stop)
		}
	}
	a.liveAt = f.read[a.stream]
	f.mu.Unlock()
	return a
}

func (f *streamsFactory) remove(a *streamsAdapter) {
	f.mu.Lock()
	if f.adapters[a.nsp.Name()] == a {
		delete(f.adapters, a.nsp.Name())
	}
	var stop chan struct{}
	if len(f.adapters) == 0 && f.stop != nil {
		stop, f.stop = f.stop, nil
	}
	f.mu.Unlock()
	if stop != nil {
		close(stop)
		f.done.Wait()
	}
}

func (f *streamsFactory) streamNames() []string {
	if f.opts.StreamCount == 1 {
		return []string{f.opts.StreamName}
	}
	out := make([]string, f.opts.StreamCount)
	for i := range out {
		out[i] = f.opts.StreamName + "-" + strconv.Itoa(i)
	}
	return out
}

// streamOf is the stream of a namespace, as the reference computes it.
func (f *streamsFactory) streamOf(nsp string) string {
	if f.opts.StreamCount == 1 {
		return f.opts.StreamName
	}
	return f.opts.StreamName + "-" + strconv.Itoa(int(hashCode(nsp)%int32(f.opts.StreamCount)))
}

// hashCode is JavaScript's 31-based string hash over UTF-16 code units,
// in 32 bits.
func hashCode(s string) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(s)) {
		h = h*31 + int32(c)
	}
	return h
}

// follow reads a stream from its last entry and hands each entry to the
// adapter of its namespace. When Redis cannot be reached it waits and goes
// on from the last entry it saw, so nothing added meanwhile is missed.
func (f *streamsFactory) follow(stream, offset string, stop chan struct{}) {
	defer f.done.Done()
	log := f.opts.Logger
	backoff := 50 * time.Millisecond
	down := false
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	pause := func(err error) bool {
		if !down {
			log.Warn("redisadapter: cannot read the stream, retrying", "stream", stream, "err", err)
			down = true
		}
		select {
		case <-stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
		return true
	}
	for !stopped() {
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.BlockTime+f.opts.RequestsTimeout)
		if offset == "" {
			var err error
			offset, err = f.lastID(ctx, stream)
			cancel()
			if err != nil && !pause(err) {
				return
			}
			f.mu.Lock()
			f.read[stream] = offset
			f.mu.Unlock()
			continue
		}
		res, err := f.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{stream, offset},
			Count:   f.opts.ReadCount,
			Block:   f.opts.BlockTime,
		}).Result()
		cancel()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if errors.Is(err, redis.ErrClosed) || !pause(err) {
				return
			}
			continue
		}
		if down {
			log.Info("redisadapter: reading the stream again", "stream", stream)
			down = false
		}
		backoff = 50 * time.Millisecond
		for _, s := range res {
			for _, e := range s.Messages {
				offset = e.ID
				nsp, _ := e.Values["nsp"].(string)
				if nsp == "" {
					continue
				}
				f.mu.Lock()
				a := f.adapters[nsp]
				f.read[stream] = e.ID
				f.mu.Unlock()
				if a != nil {
					a.onEntry(e)
				}
			}
		}
	}
}

// lastID is the id of a stream's last entry, "0-0" when it has none, ""
// on error.
func (f *streamsFactory) lastID(ctx context.Context, stream string) (string, error) {
	last, err := f.rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(last) == 0 {
		return "0-0", nil
	}
	return last[0].ID, nil
}

// streamsAdapter is the adapter of NewStreamsFactory.
type streamsAdapter struct {
	*core
	f      *streamsFactory
	pub    *publisher
	stream string
	public string // channel for requests
	own    string // channel for answers to this node
	kind   byte   // subscription kind

	// deliverMu orders the deliveries of broadcasts with the restoration
	// of sessions (RestoreSessionAttach); liveAt is the id of the last
	// entry the reader handed over.
	deliverMu sync.Mutex
	liveAt    string
	seen      recentIDs // the ids of the broadcasts delivered lately
}

func newStreams(f *streamsFactory, nsp adapter.Namespace) *streamsAdapter {
	o := f.opts
	a := &streamsAdapter{
		core:   newCore(nsp, randid.Hex(16), o.Logger, o.RequestsTimeout, 0, o.RecoveryWindow > 0),
		f:      f,
		stream: f.streamOf(nsp.Name()),
		public: o.ChannelPrefix + "#" + nsp.Name() + "#",
		kind:   subChannel,
	}
	if o.UseShardedPubSub {
		a.kind = subShard
	}
	a.own = a.public + a.uid + "#"
	a.pub = newPublisher(f.rdb, a.log, o.QueueSize, o.RequestsTimeout)
	a.start(a)
	ctx, cancel := context.WithTimeout(context.Background(), o.RequestsTimeout)
	defer cancel()
	for _, ch := range []string{a.own, a.public} {
		if err := f.sub.subscribe(ctx, a.kind, ch, a.onPubSub); err != nil {
			a.log.Warn("redisadapter: cannot subscribe now, will on reconnection", "channel", ch, "err", err)
		}
	}
	return a
}

func (a *streamsAdapter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), a.f.opts.RequestsTimeout)
	defer cancel()
	a.f.sub.unsubscribe(ctx, a.kind, a.own, a.public)
	a.pub.close()
	a.f.remove(a)
}

func (a *streamsAdapter) serverCount(ctx context.Context) (int, error) {
	return numSub(ctx, a.f.rdb, a.public, a.f.opts.UseShardedPubSub)
}

// ephemeral reports whether an op goes over pub/sub rather than the
// stream: what only matters to the nodes up now.
func ephemeral(o *op) bool {
	switch o.Kind {
	case opBroadcast:
		return o.RequestID != ""
	case opServerSideEmit, opFetch:
		return true
	}
	return isResponse(o.Kind)
}

func (a *streamsAdapter) send(o *op) error {
	item, err := a.item(o)
	if err != nil || item == nil {
		return err
	}
	return a.pub.send(item)
}

// item is the publisher's command for an op.
func (a *streamsAdapter) item(o *op) (*pubItem, error) {
	msg := cluster.Encode(o, a.uid, a.nsp.Name())
	if msg == nil {
		return nil, nil
	}
	sharded := a.f.opts.UseShardedPubSub
	if ephemeral(o) {
		payload, err := cluster.EncodeMsgpack(msg)
		if err != nil {
			return nil, err
		}
		channel := a.public
		if isResponse(o.Kind) {
			channel = a.public + o.To + "#"
		}
		return publishItem(channel, payload, sharded), nil
	}
	fields, err := a.entryFields(msg)
	if err != nil {
		return nil, err
	}
	stream, maxLen := a.stream, a.f.opts.MaxLen
	return &pubItem{add: func(pipe redis.Pipeliner) redis.Cmder {
		return pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, MaxLen: maxLen, Approx: true, ID: "*", Values: fields})
	}}, nil
}

// entryFields are a stream entry's fields: uid, nsp, type, and data as
// JSON, or as base64 MessagePack when it holds binary.
func (a *streamsAdapter) entryFields(msg map[string]any) ([]any, error) {
	fields := []any{"uid", msg["uid"], "nsp", msg["nsp"], "type", strconv.Itoa(msg["type"].(int))}
	if data, ok := msg["data"]; ok && data != nil {
		var enc string
		if !a.f.opts.OnlyPlaintext && cluster.HasBinary(data) {
			b, err := cluster.EncodeMsgpack(data)
			if err != nil {
				return nil, err
			}
			enc = base64.StdEncoding.EncodeToString(b)
		} else {
			b, err := json.Marshal(data)
			if err != nil {
				return nil, err
			}
			enc = string(b)
		}
		fields = append(fields, "data", enc)
	}
	return fields, nil
}

// decodeEntry decodes a stream entry into a cluster message.
func decodeEntry(values map[string]any) (map[string]any, error) {
	m := map[string]any{"uid": values["uid"], "nsp": values["nsp"], "type": values["type"]}
	if raw, _ := values["data"].(string); raw != "" {
		var data any
		var err error
		if strings.HasPrefix(raw, "{") {
			data, err = cluster.DecodeJSON([]byte(raw))
		} else {
			var b []byte
			if b, err = base64.StdEncoding.DecodeString(raw); err == nil {
				data, err = cluster.DecodeMsgpack(b)
			}
		}
		if err != nil {
			return nil, err
		}
		m["data"] = data
	}
	return m, nil
}

// Broadcast implements adapter.Adapter. The broadcast is added to the
// stream; the local sockets get it when the reader reads it back, with
// its offset when recovery is on, so that every node delivers every
// broadcast, its own included, in the stream's order (a client's last
// offset is then the last of all it got, which connection state recovery
// counts on). When Redis cannot be reached, the local sockets get it at
// once and the other nodes once Redis is back; its entry is then marked
// so that the reader does not deliver it again.
func (a *streamsAdapter) Broadcast(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions) error {
	if opts == nil {
		opts = &adapter.BroadcastOptions{}
	}
	if opts.Flags.Local {
		return a.Memory.Broadcast(ctx, p, opts)
	}
	pkt, err := a.eventPacket(p)
	if err != nil {
		return err
	}
	o := &op{Kind: opBroadcast, Packet: pkt, Opts: opts}
	msg := cluster.Encode(o, a.uid, a.nsp.Name())
	fields, err := a.entryFields(msg)
	if err != nil {
		return err
	}
	bid := randid.Hex(8)
	fields = append(fields, bidField, bid)
	stream, maxLen := a.stream, a.f.opts.MaxLen
	item := &pubItem{add: func(pipe redis.Pipeliner) redis.Cmder {
		return pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, MaxLen: maxLen, Approx: true, ID: "*", Values: fields})
	}}
	item.failed = func() {
		// Redis may have taken it before it became unreachable, and the
		// reader delivered it: else the local sockets get it now, and the
		// reader skips it (and the retry) when Redis is back.
		a.deliverMu.Lock()
		if a.seen.add(bid) {
			a.deliver(p, opts)
		}
		a.deliverMu.Unlock()
	}
	if err := a.pub.send(item); err != nil {
		a.deliver(p, opts)
		return err
	}
	return nil
}

// bidField holds a broadcast's id in its stream entry: an entry written
// twice (a retry after a lost answer) is delivered once, and a broadcast
// delivered here while Redis could not be reached is not delivered again.
const bidField = "bid"

func (a *streamsAdapter) deliver(p *parser.SocketPacket, opts *adapter.BroadcastOptions) {
	if err := a.Memory.Broadcast(context.Background(), p, opts); err != nil {
		a.log.Warn("redisadapter: cannot deliver a broadcast", "err", err)
	}
}

func (a *streamsAdapter) onEntry(e redis.XMessage) {
	m, err := decodeEntry(e.Values)
	if err != nil {
		a.log.Debug("redisadapter: malformed stream entry", "id", e.ID, "err", err)
		return
	}
	a.deliverMu.Lock()
	defer a.deliverMu.Unlock()
	a.liveAt = e.ID
	o := cluster.Decode(m)
	if o == nil {
		return
	}
	o.Offset = e.ID
	if bid, _ := e.Values[bidField].(string); bid != "" && !a.seen.add(bid) {
		return // delivered already
	}
	if o.From == a.uid && o.Kind == opBroadcast && o.RequestID == "" {
		a.onBroadcast(o) // this node's own broadcast, delivered here now, in order
		return
	}
	a.handle(o)
}

func (a *streamsAdapter) onPubSub(_ string, payload []byte) {
	v, err := cluster.DecodeMsgpack(payload)
	if err != nil {
		a.log.Debug("redisadapter: malformed message", "err", err)
		return
	}
	m := cluster.AsMap(v)
	if m == nil {
		return
	}
	o := cluster.Decode(m)
	if o == nil {
		return
	}
	if !isResponse(o.Kind) && cluster.AsString(m["nsp"]) != a.nsp.Name() {
		return
	}
	a.handle(o)
}
