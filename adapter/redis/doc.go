// Package redisadapter scales a Duplex Socket.IO server out over Redis,
// speaking the wire formats of the official Node adapters so that Go and
// Node servers share one cluster:
//
//   - NewFactory: the pub/sub adapter of @socket.io/redis-adapter 8.x
//     (createAdapter). Broadcasts, broadcasts with acknowledgements,
//     FetchSockets, SocketsJoin/SocketsLeave, DisconnectSockets,
//     ServerSideEmit with acknowledgements; the node count is the number of
//     subscribers of the request channel.
//   - NewShardedFactory: its sharded variant (createShardedAdapter), on
//     Redis 7 sharded pub/sub.
//   - NewStreamsFactory: @socket.io/redis-streams-adapter. Broadcasts go
//     through a Redis stream, so none is lost while Redis restarts, and
//     connection state recovery works across nodes.
//   - NewEmitter: @socket.io/redis-emitter, for processes that serve no
//     clients.
//
// Each factory takes a go-redis client (a *redis.Client, or any
// redis.UniversalClient) and returns an adapter.Factory for
// socketio.Options.Adapter:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	io := socketio.NewServer(&socketio.Options{
//		Adapter: redisadapter.NewFactory(rdb, nil),
//	})
//
// Messages to other nodes are published by one goroutine per namespace,
// in order; while Redis is unreachable they wait in a bounded queue and
// the local sockets are served as usual. Requests that need answers
// (FetchSockets, ServerSideEmitWithAck) fail with an error wrapping
// ErrTimeout when some node does not answer in time.
package redisadapter
