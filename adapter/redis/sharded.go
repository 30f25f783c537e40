package redisadapter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/redis/go-redis/v9"
)

// SubscriptionMode says which rooms of the sharded adapter get a channel of
// their own.
type SubscriptionMode string

// The subscription modes of @socket.io/redis-adapter's sharded adapter.
const (
	// Dynamic gives each public room (one that is not a socket's own
	// room) a channel, subscribed by the nodes that have members in it.
	// The default.
	Dynamic SubscriptionMode = "dynamic"
	// DynamicPrivate gives every room a channel, sockets' own rooms too.
	DynamicPrivate SubscriptionMode = "dynamic-private"
	// Static sends every broadcast on the namespace's channel.
	Static SubscriptionMode = "static"
)

// ShardedOptions configures the sharded adapter. Zero values mean the
// defaults of @socket.io/redis-adapter's createShardedAdapter.
type ShardedOptions struct {
	// ChannelPrefix prefixes the channels; default "socket.io".
	ChannelPrefix string
	// SubscriptionMode; default Dynamic.
	SubscriptionMode SubscriptionMode
	// RequestsTimeout bounds the wait for other nodes' answers when the
	// context does not say sooner; default 5s.
	RequestsTimeout time.Duration
	// RecoveryWindow, when above zero, enables connection state recovery
	// on the same node; see Options.RecoveryWindow.
	RecoveryWindow time.Duration
	// QueueSize bounds the messages waiting while Redis cannot be
	// reached; default 10000.
	QueueSize int
	// Logger receives connection losses and recoveries; default none.
	Logger *slog.Logger
}

// NewShardedFactory returns a Factory of adapters speaking the protocol of
// @socket.io/redis-adapter's sharded adapter (createShardedAdapter), on
// Redis 7 sharded pub/sub (SPUBLISH, SSUBSCRIBE): cluster messages on
// "<prefix>#<nsp>#", "<prefix>#<nsp>#<room>#" and, for answers,
// "<prefix>#<nsp>#<uid>#", as JSON, or MessagePack when they hold binary.
func NewShardedFactory(client redis.UniversalClient, opts *ShardedOptions) adapter.Factory {
	var o ShardedOptions
	if opts != nil {
		o = *opts
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.SubscriptionMode == "" {
		o.SubscriptionMode = Dynamic
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
	sub := newSubscriber(client, o.Logger)
	return func(nsp adapter.Namespace) adapter.Adapter {
		return newSharded(client, sub, nsp, o)
	}
}

// shardedAdapter is the adapter of NewShardedFactory.
type shardedAdapter struct {
	*core
	rdb  redis.UniversalClient
	sub  *subscriber
	pub  *publisher
	opts ShardedOptions

	channel         string
	responseChannel string

	// Rooms with local members, and the dynamic channels wanted and
	// subscribed; a goroutine makes the subscriptions follow the rooms.
	rmu     sync.Mutex
	members map[string]int
	want    map[string]bool
	have    map[string]bool
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newSharded(rdb redis.UniversalClient, sub *subscriber, nsp adapter.Namespace, o ShardedOptions) *shardedAdapter {
	a := &shardedAdapter{
		core: newCore(nsp, randid.Hex(16), o.Logger, o.RequestsTimeout, o.RecoveryWindow, false),
		rdb:  rdb, sub: sub, opts: o,
		channel: o.ChannelPrefix + "#" + nsp.Name() + "#",
		members: make(map[string]int),
		want:    make(map[string]bool),
		have:    make(map[string]bool),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	a.responseChannel = a.channel + a.uid + "#"
	a.pub = newPublisher(rdb, a.log, o.QueueSize, o.RequestsTimeout)
	a.start(a)
	ctx, cancel := context.WithTimeout(context.Background(), o.RequestsTimeout)
	defer cancel()
	for _, ch := range []string{a.responseChannel, a.channel} {
		if err := sub.subscribe(ctx, subShard, ch, a.onRaw); err != nil {
			a.log.Warn("redisadapter: cannot subscribe now, will on reconnection", "channel", ch, "err", err)
		}
	}
	go a.follow()
	return a
}

func (a *shardedAdapter) dynamicChannel(room string) string { return a.channel + room + "#" }

// follow makes the dynamic subscriptions follow the rooms.
func (a *shardedAdapter) follow() {
	defer close(a.done)
	for {
		select {
		case <-a.stop:
			return
		case <-a.kick:
		}
		a.rmu.Lock()
		var add, del []string
		for r := range a.want {
			if !a.have[r] {
				add = append(add, r)
				a.have[r] = true
			}
		}
		for r := range a.have {
			if !a.want[r] {
				del = append(del, r)
				delete(a.have, r)
			}
		}
		a.rmu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.RequestsTimeout)
		for _, r := range add {
			if err := a.sub.subscribe(ctx, subShard, a.dynamicChannel(r), a.onRaw); err != nil {
				a.log.Warn("redisadapter: cannot subscribe now, will on reconnection", "room", r, "err", err)
			}
		}
		for _, r := range del {
			a.sub.unsubscribe(ctx, subShard, a.dynamicChannel(r))
		}
		cancel()
	}
}

// ownChannel reports whether a room gets a channel of its own.
func (a *shardedAdapter) ownChannel(room, id string) bool {
	switch a.opts.SubscriptionMode {
	case DynamicPrivate:
		return true
	case Dynamic:
		// Publishers send to a room's channel any room whose name is not
		// 20 characters long (the length of a socket id), so sockets' own
		// rooms of another length (Engine.IO v3 clients outside "/") need
		// their channel too.
		return len(room) != 20 || room != id && !a.nsp.Connected(room)
	}
	return false
}

// track counts memberships; delta is +1 or -1.
func (a *shardedAdapter) track(id string, rooms []string, delta int) {
	if a.opts.SubscriptionMode == Static || len(rooms) == 0 {
		return
	}
	changed := false
	a.rmu.Lock()
	for _, r := range rooms {
		a.members[r] += delta
		switch {
		case a.members[r] <= 0:
			delete(a.members, r)
			if a.want[r] {
				delete(a.want, r)
				changed = true
			}
		case delta > 0 && a.members[r] == 1 && a.ownChannel(r, id):
			a.want[r] = true
			changed = true
		}
	}
	a.rmu.Unlock()
	if changed {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// AddAll implements adapter.Adapter: a room that gets its first member
// gets its channel.
func (a *shardedAdapter) AddAll(id string, rooms ...string) []string {
	added := a.core.AddAll(id, rooms...)
	a.track(id, added, +1)
	return added
}

// Del implements adapter.Adapter.
func (a *shardedAdapter) Del(id, room string) bool {
	in := a.core.Del(id, room)
	if in {
		a.track(id, []string{room}, -1)
	}
	return in
}

// DelAll implements adapter.Adapter.
func (a *shardedAdapter) DelAll(id string) []string {
	rooms := a.core.DelAll(id)
	a.track(id, rooms, -1)
	return rooms
}

func (a *shardedAdapter) close() {
	close(a.stop)
	<-a.done
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.RequestsTimeout)
	defer cancel()
	a.rmu.Lock()
	channels := []string{a.channel, a.responseChannel}
	for r := range a.have {
		channels = append(channels, a.dynamicChannel(r))
	}
	a.rmu.Unlock()
	a.sub.unsubscribe(ctx, subShard, channels...)
	a.pub.close()
}

func (a *shardedAdapter) serverCount(ctx context.Context) (int, error) {
	return numSub(ctx, a.rdb, a.channel, true)
}

func (a *shardedAdapter) send(o *op) error {
	msg := cluster.Encode(o, a.uid, a.nsp.Name())
	if msg == nil {
		return nil
	}
	channel := a.channel
	switch {
	case isResponse(o.Kind):
		channel = a.channel + o.To + "#"
	case o.Kind == opBroadcast && o.RequestID == "" && len(o.Opts.Rooms) == 1:
		// A broadcast with acks stays on the main channel: every node
		// counts its sockets.
		room := o.Opts.Rooms[0]
		if a.opts.SubscriptionMode == DynamicPrivate || a.opts.SubscriptionMode == Dynamic && len(room) != 20 {
			channel = a.dynamicChannel(room)
		}
	}
	payload, err := cluster.EncodeAny(msg)
	if err != nil {
		return err
	}
	return a.pub.send(publishItem(channel, payload, true))
}

func (a *shardedAdapter) onRaw(_ string, payload []byte) {
	v, err := cluster.DecodeAny(payload)
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
