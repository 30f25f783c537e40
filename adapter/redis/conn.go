package redisadapter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrQueueFull is returned when a message for the other nodes cannot be
// queued because Redis has been unreachable for too long: the message
// reached this node's sockets only.
var ErrQueueFull = errors.New("redisadapter: publish queue full")

// ErrClosed is returned by the methods of a closed adapter or emitter.
var ErrClosed = errors.New("redisadapter: closed")

// ErrTimeout is returned, wrapped with the details, when other nodes did
// not all answer a request in time.
var ErrTimeout = errors.New("redisadapter: timeout waiting for other nodes")

// Defaults shared by the adapters.
const (
	defaultRequestsTimeout = 5 * time.Second
	defaultQueueSize       = 10000
	maxBatch               = 256
	maxBackoff             = 5 * time.Second
	receiveTimeout         = 30 * time.Second
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// isConnError reports whether err means Redis could not be reached, as
// opposed to Redis refusing a command.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return false
	}
	return true
}

// Subscription kinds.
const (
	subChannel = 'c'
	subPattern = 'p'
	subShard   = 's'
)

// subscriber shares one Redis pub/sub connection between the adapters of
// a factory. One goroutine reads it and hands each message to the route
// of its channel or pattern; go-redis reconnects and subscribes again
// after a connection loss.
type subscriber struct {
	rdb redis.UniversalClient
	log *slog.Logger

	mu     sync.Mutex
	ps     *redis.PubSub
	routes map[string]func(channel string, payload []byte)
	done   chan struct{} // closed when the reader returns
}

func newSubscriber(rdb redis.UniversalClient, log *slog.Logger) *subscriber {
	return &subscriber{rdb: rdb, log: log, routes: make(map[string]func(string, []byte))}
}

// subscribe adds a route and subscribes to it. An error means Redis could
// not be told now; go-redis subscribes again when it reconnects.
func (s *subscriber) subscribe(ctx context.Context, kind byte, name string, fn func(channel string, payload []byte)) error {
	s.mu.Lock()
	s.routes[string(kind)+name] = fn
	if s.ps == nil {
		s.ps = s.rdb.Subscribe(ctx)
		s.done = make(chan struct{})
		go s.read(s.ps, s.done)
	}
	ps := s.ps
	s.mu.Unlock()
	switch kind {
	case subPattern:
		return ps.PSubscribe(ctx, name)
	case subShard:
		return ps.SSubscribe(ctx, name)
	}
	return ps.Subscribe(ctx, name)
}

// unsubscribe removes routes; the last one out closes the connection.
func (s *subscriber) unsubscribe(ctx context.Context, kind byte, names ...string) {
	if len(names) == 0 {
		return
	}
	s.mu.Lock()
	for _, n := range names {
		delete(s.routes, string(kind)+n)
	}
	ps, done := s.ps, s.done
	last := len(s.routes) == 0 && ps != nil
	if last {
		s.ps, s.done = nil, nil
	}
	s.mu.Unlock()
	if ps == nil {
		return
	}
	if last {
		_ = ps.Close()
		<-done
		return
	}
	switch kind {
	case subPattern:
		_ = ps.PUnsubscribe(ctx, names...)
	case subShard:
		_ = ps.SUnsubscribe(ctx, names...)
	default:
		_ = ps.Unsubscribe(ctx, names...)
	}
}

// read hands messages to their routes until the connection is closed.
func (s *subscriber) read(ps *redis.PubSub, done chan struct{}) {
	defer close(done)
	ctx := context.Background()
	backoff := 50 * time.Millisecond
	down := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, receiveTimeout)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) || s.closed(ps) {
				return
			}
			if isTimeout(err) {
				_ = ps.Ping(ctx) // a dead connection fails here and is replaced
				continue
			}
			if !down {
				s.log.Warn("redisadapter: subscription lost, reconnecting", "err", err)
				down = true
			}
			time.Sleep(backoff)
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		if down {
			s.log.Info("redisadapter: subscription restored")
			down = false
		}
		backoff = 50 * time.Millisecond
		m, ok := msg.(*redis.Message)
		if !ok {
			continue
		}
		key := string(subChannel) + m.Channel
		if m.Pattern != "" {
			key = string(subPattern) + m.Pattern
		}
		s.mu.Lock()
		fn := s.routes[key]
		if fn == nil {
			fn = s.routes[string(subShard)+m.Channel]
		}
		s.mu.Unlock()
		if fn != nil {
			fn(m.Channel, []byte(m.Payload))
		}
	}
}

func (s *subscriber) closed(ps *redis.PubSub) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps != ps
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// pubItem is one command for the publisher.
type pubItem struct {
	// add queues the command on pipe.
	add func(pipe redis.Pipeliner) redis.Cmder
	// ok, when set, is called with the command once Redis ran it.
	ok func(cmd redis.Cmder)
	// failed, when set, is called when Redis could not be reached the
	// first time; the command is retried until it can.
	failed func()
}

// publisher sends commands to Redis in order from one goroutine, several
// at a time in one pipeline. Callers never wait for Redis: when it cannot
// be reached, commands wait in a bounded queue and are retried with
// backoff until it can.
type publisher struct {
	rdb     redis.UniversalClient
	log     *slog.Logger
	timeout time.Duration

	queue chan *pubItem
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	stopped bool
	dropped int
}

func newPublisher(rdb redis.UniversalClient, log *slog.Logger, size int, timeout time.Duration) *publisher {
	p := &publisher{
		rdb: rdb, log: log, timeout: timeout,
		queue: make(chan *pubItem, size),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go p.run()
	return p
}

// send queues it.
func (p *publisher) send(it *pubItem) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return ErrClosed
	}
	select {
	case p.queue <- it:
		return nil
	default:
		p.dropped++
		if p.dropped == 1 || p.dropped%1000 == 0 {
			p.log.Error("redisadapter: publish queue full, messages dropped", "dropped", p.dropped)
		}
		return ErrQueueFull
	}
}

// close stops the publisher after one last try at what is queued.
func (p *publisher) close() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.stopped = true
	close(p.stop)
	p.mu.Unlock()
	<-p.done
}

func (p *publisher) run() {
	defer close(p.done)
	batch := make([]*pubItem, 0, maxBatch)
	for {
		select {
		case it := <-p.queue:
			batch = append(batch[:0], it)
		case <-p.stop:
			// One last try for what is queued.
			batch = batch[:0]
			for {
				select {
				case it := <-p.queue:
					batch = append(batch, it)
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				p.flush(batch, false)
			}
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case it := <-p.queue:
				batch = append(batch, it)
			default:
				break more
			}
		}
		p.flush(batch, true)
		clear(batch)
	}
}

// flush runs a batch in one pipeline, retrying while Redis cannot be
// reached (when retry is set) until it can or the publisher stops.
func (p *publisher) flush(batch []*pubItem, retry bool) {
	backoff := 50 * time.Millisecond
	failed := false
	for {
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		pipe := p.rdb.Pipeline()
		cmds := make([]redis.Cmder, len(batch))
		for i, it := range batch {
			cmds[i] = it.add(pipe)
		}
		_, err := pipe.Exec(ctx)
		cancel()
		if err == nil || !isConnError(err) {
			if failed {
				p.log.Info("redisadapter: Redis reachable again, queued messages sent")
			}
			for i, it := range batch {
				if cerr := cmds[i].Err(); cerr != nil {
					p.log.Warn("redisadapter: Redis refused a command", "cmd", cmds[i].Name(), "err", cerr)
					continue
				}
				if it.ok != nil {
					it.ok(cmds[i])
				}
			}
			return
		}
		if errors.Is(err, redis.ErrClosed) {
			p.log.Error("redisadapter: Redis client closed, messages dropped", "count", len(batch))
			return
		}
		if !failed {
			failed = true
			p.log.Warn("redisadapter: Redis unreachable, retrying", "err", err, "queued", len(batch)+len(p.queue))
			for _, it := range batch {
				if it.failed != nil {
					it.failed()
				}
			}
		}
		if !retry {
			return
		}
		select {
		case <-p.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// publishItem returns an item that publishes payload on channel, with
// SPUBLISH when sharded.
func publishItem(channel string, payload []byte, sharded bool) *pubItem {
	return &pubItem{add: func(pipe redis.Pipeliner) redis.Cmder {
		if sharded {
			return pipe.SPublish(context.Background(), channel, payload)
		}
		return pipe.Publish(context.Background(), channel, payload)
	}}
}

// numSub asks Redis how many connections subscribe to channel.
func numSub(ctx context.Context, rdb redis.UniversalClient, channel string, sharded bool) (int, error) {
	var m map[string]int64
	var err error
	if sharded {
		m, err = rdb.PubSubShardNumSub(ctx, channel).Result()
	} else {
		m, err = rdb.PubSubNumSub(ctx, channel).Result()
	}
	if err != nil {
		return 0, err
	}
	return int(m[channel]), nil
}
