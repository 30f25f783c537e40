// Package postgresadapter scales a Duplex Socket.IO server out over
// PostgreSQL LISTEN/NOTIFY, speaking the wire format of
// @socket.io/postgres-adapter 0.5 so that Go and Node servers share one
// cluster:
//
//   - NewFactory: the adapter (createAdapter). Broadcasts, broadcasts
//     with acknowledgements, FetchSockets, SocketsJoin/SocketsLeave,
//     DisconnectSockets, ServerSideEmit with acknowledgements; nodes find
//     each other with heartbeats (socket.io-adapter's
//     ClusterAdapterWithHeartbeat), and the node count is this node plus
//     those heard from within Options.HeartbeatTimeout.
//   - NewEmitter: as @socket.io/postgres-emitter, for processes that
//     serve no clients.
//
// Each namespace has the channel "<prefix>#<namespace>". A message is the
// JSON of socket.io-adapter's cluster message ({uid, nsp, type, data}) in
// a notification; one over the threshold (8000 bytes), or holding binary,
// is stored as MessagePack in the attachments table, and the
// notification names its row. The table must exist; CreateAttachmentsTable
// creates it:
//
//	pool, err := pgxpool.New(ctx, "postgres://localhost/app")
//	...
//	err = postgresadapter.CreateAttachmentsTable(ctx, pool, "")
//	io := socketio.NewServer(&socketio.Options{
//		Adapter: postgresadapter.NewFactory(pool, nil),
//	})
//
// Notifications are not stored: those sent while a node's listening
// connection is down are lost for it. The node connects again, LISTENs
// again and says hello, so the others count it again. Messages to other
// nodes are sent at once, each from the calling goroutine, and their
// errors returned (after the local sockets were served); there is no
// queue. Requests that need answers (FetchSockets, ServerSideEmitWithAck)
// fail with an error wrapping ErrTimeout when some node does not answer
// in time.
package postgresadapter
