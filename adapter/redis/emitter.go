package redisadapter

import (
	"context"
	"errors"
	"fmt"

	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/redis/go-redis/v9"
)

// emitterUID is the uid the emitters of every language send with.
const emitterUID = "emitter"

// ErrReservedEvent is returned when emitting an event name that the
// protocol reserves ("connect", "disconnect", ...).
var ErrReservedEvent = errors.New("redisadapter: reserved event name")

// EmitterOptions configures an Emitter.
type EmitterOptions struct {
	// Key prefixes the channels, as Options.Key; default "socket.io".
	Key string
}

// Emitter sends events and commands into a cluster of servers from a
// process that serves no clients (NewEmitter).
type Emitter = cluster.Emitter

// EmitterOperator selects sockets for an Emitter.
type EmitterOperator = cluster.EmitterOperator

// NewEmitter returns an emitter for the namespace "/", for a cluster of
// servers using the pub/sub adapter (NewFactory, or
// @socket.io/redis-adapter in Node), as @socket.io/redis-emitter does.
// Its methods publish at once and return Redis's error, if any.
func NewEmitter(client redis.UniversalClient, opts *EmitterOptions) *Emitter {
	key := "socket.io"
	if opts != nil && opts.Key != "" {
		key = opts.Key
	}
	send := func(ctx context.Context, nsp string, o *cluster.Op) error {
		channel, payload, err := encodeEmitterOp(key, nsp, o)
		if err != nil {
			return err
		}
		if err := client.Publish(ctx, channel, payload).Err(); err != nil {
			return fmt.Errorf("redisadapter: emitter: %w", err)
		}
		return nil
	}
	return cluster.NewEmitter(send, ErrReservedEvent)
}

// encodeEmitterOp is an emitter's op in the format of
// @socket.io/redis-emitter, and the channel it goes on.
func encodeEmitterOp(key, nsp string, o *cluster.Op) (channel string, payload []byte, err error) {
	var msg map[string]any
	switch o.Kind {
	case cluster.OpBroadcast:
		channel = key + "#" + nsp + "#"
		if len(o.Opts.Rooms) == 1 {
			channel += o.Opts.Rooms[0] + "#"
		}
		payload, err = cluster.EncodeMsgpack([]any{emitterUID, o.Packet, cluster.EncodeOpts(o.Opts, true)})
		return channel, payload, err
	case cluster.OpJoin, cluster.OpLeave:
		typ := reqRemoteJoin
		if o.Kind == cluster.OpLeave {
			typ = reqRemoteLeave
		}
		msg = map[string]any{"type": typ, "opts": cluster.EncodeOpts(o.Opts, false), "rooms": cluster.StringsToAny(o.Rooms)}
	case cluster.OpDisconnect:
		msg = map[string]any{"type": reqRemoteDisconnect, "opts": cluster.EncodeOpts(o.Opts, false), "close": o.Close}
	case cluster.OpServerSideEmit:
		msg = map[string]any{"uid": emitterUID, "type": reqServerSideEmit, "data": o.Data}
	default:
		return "", nil, fmt.Errorf("redisadapter: emitter: op %v has no message", o.Kind)
	}
	payload, err = cluster.EncodeAny(msg)
	return key + "-request#" + nsp + "#", payload, err
}
