package redisadapter

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// wait returns once every command queued before it has run, or when ctx is
// done.
func (p *publisher) wait(ctx context.Context) error {
	done := make(chan struct{})
	err := p.send(&pubItem{
		add: func(pipe redis.Pipeliner) redis.Cmder { return pipe.Ping(context.Background()) },
		ok:  func(redis.Cmder) { close(done) },
	})
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush implements adapter.Flusher: it returns once every broadcast made
// before it is in Redis.
func (a *pubSubAdapter) Flush(ctx context.Context) error { return a.pub.wait(ctx) }

// Flush implements adapter.Flusher: it returns once every broadcast made
// before it is in Redis.
func (a *shardedAdapter) Flush(ctx context.Context) error { return a.pub.wait(ctx) }

// Flush implements adapter.Flusher: it returns once every broadcast made
// before it is in the stream.
func (a *streamsAdapter) Flush(ctx context.Context) error { return a.pub.wait(ctx) }
