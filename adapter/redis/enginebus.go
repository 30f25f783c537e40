package redisadapter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/redis/go-redis/v9"
)

// EngineBus carries the messages of a cluster without sticky sessions
// (engineio.ClusterOptions) over Redis pub/sub, on the channels of the
// Node project's @socket.io/cluster-engine (RedisEngine): "engine.io#"
// for every node and "engine.io#<node>#" for one. It has a pub/sub
// connection of its own.
type EngineBus struct {
	rdb    redis.UniversalClient
	ps     *redis.PubSub
	node   string
	prefix string
	log    *slog.Logger
	done   chan struct{}

	mu sync.Mutex
	fn func([]byte)
}

// EngineBusOptions configures an EngineBus. The zero value is ready to
// use.
type EngineBusOptions struct {
	// ChannelPrefix starts the channel names; default "engine.io", as the
	// Node engine's.
	ChannelPrefix string
	// NodeID names this node; default 6 random hex characters. It must be
	// unique in the cluster.
	NodeID string
	// Logger receives the bus's errors; default none.
	Logger *slog.Logger
}

// engineBusPublishTimeout bounds a PUBLISH: a node waits no longer than
// that for Redis on a client's request.
const engineBusPublishTimeout = 2 * time.Second

// NewEngineBus subscribes to the cluster's channels and returns the bus,
// ready for engineio.ClusterOptions.Bus. Close it after the server.
func NewEngineBus(ctx context.Context, client redis.UniversalClient, opts *EngineBusOptions) (*EngineBus, error) {
	var o EngineBusOptions
	if opts != nil {
		o = *opts
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "engine.io"
	}
	if o.NodeID == "" {
		o.NodeID = engineio.NewNodeID()
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	b := &EngineBus{rdb: client, node: o.NodeID, prefix: o.ChannelPrefix, log: o.Logger, done: make(chan struct{})}
	b.ps = client.Subscribe(ctx, b.channel(""), b.channel(b.node))
	// Both subscriptions confirmed before the first request goes out: an
	// answer to it cannot be missed.
	for range 2 {
		if _, err := b.ps.Receive(ctx); err != nil {
			_ = b.ps.Close()
			return nil, err
		}
	}
	go b.read()
	return b, nil
}

func (b *EngineBus) channel(node string) string {
	if node == "" {
		return b.prefix + "#"
	}
	return b.prefix + "#" + node + "#"
}

// Node implements engineio.ClusterBus.
func (b *EngineBus) Node() string { return b.node }

// Receive implements engineio.ClusterBus.
func (b *EngineBus) Receive(fn func(msg []byte)) {
	b.mu.Lock()
	b.fn = fn
	b.mu.Unlock()
}

// Publish implements engineio.ClusterBus.
func (b *EngineBus) Publish(node string, msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), engineBusPublishTimeout)
	defer cancel()
	return b.rdb.Publish(ctx, b.channel(node), msg).Err()
}

// Close ends the subscription.
func (b *EngineBus) Close() error {
	err := b.ps.Close()
	<-b.done
	return err
}

// read hands each message to the engine, in order, until Close; go-redis
// subscribes again after a lost connection.
func (b *EngineBus) read() {
	defer close(b.done)
	ctx := context.Background()
	for {
		msg, err := b.ps.ReceiveMessage(ctx)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			b.log.Warn("redisadapter: engine bus receive failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		b.mu.Lock()
		fn := b.fn
		b.mu.Unlock()
		if fn != nil {
			fn([]byte(msg.Payload))
		}
	}
}

// Alive implements engineio.NodeWatcher: a node is there while its
// subscription to its own channel is (Redis drops it as soon as the
// node's connection closes, a killed process's included).
func (b *EngineBus) Alive(ctx context.Context, node string) (bool, error) {
	n, err := b.rdb.PubSubNumSub(ctx, b.channel(node)).Result()
	if err != nil {
		return false, err
	}
	return n[b.channel(node)] > 0, nil
}
