// Package socketio is a Socket.IO server (protocol v5, and v4 for
// socket.io 2.x clients as an option) that the official JavaScript
// clients, and every client compatible with them, connect to unchanged.
//
// # Where it sits
//
// Server is an http.Handler: mount it at Options.Path ("/socket.io/") on
// any mux. Under it, package engineio keeps each client's connection open
// over long-polling or WebSocket; the server sees a connection only as an
// engineio.Conn, and receives its messages as the connection's
// engineio.SessionHandler. Above the connection, a client joins
// namespaces (Server.Of; "/" is the main one), each with its own
// middlewares, connection handlers and rooms; a client's presence in one
// namespace is a Socket. Who is in which room, and how a broadcast reaches
// every matching socket, is the business of each namespace's
// adapter.Adapter: the in-memory one by default, or a cluster adapter
// (adapter/redis) that carries broadcasts to the other nodes.
//
//	io := socketio.NewServer(nil)
//	io.OnConnection(func(s *socketio.Socket) {
//		s.On("chat", func(room, text string) { s.To(room).Emit("chat", text) })
//	})
//	http.Handle("/socket.io/", io)
//
// Like the reference, it also serves the official browser client there
// (Path + "socket.io.min.js" and its siblings, from package clientdist)
// unless Options.DisableServeClient is set.
//
// # Goroutines
//
// Each connection has one goroutine reading it (the engine's) and at
// most one writing it (the engine's writer, woken only when a client is
// behind: a packet to a client that keeps up is written by the goroutine
// that sends it). The reader decodes packets and hands each event to its
// socket's queue; a socket's handlers then run one at a time, in the
// order the client sent the events, in a goroutine of the socket's that
// exists only while there is something to run. Acknowledgements from the
// client are handled by the reader at once. A namespace's middlewares and
// connection handlers run in the goroutine of the connection attempt,
// which goes on to run the socket's first events.
//
// # What may block
//
// Handlers, middlewares and connection handlers may block: the client's
// connection keeps being read and its heartbeats answered meanwhile, and
// other sockets are not held up. Emit, the broadcasts and the room
// operations never wait for a client: they queue what they send and
// return. What waits takes a context first: EmitWithAck, FetchSockets,
// ServerSideEmit, ServerSideEmitWithAck, Shutdown. The client is told it
// is connected once the connection handlers have returned, so a
// connection handler that blocks delays its own client's connection.
//
// # Backpressure
//
// A client that sends events faster than its handlers run is read no
// further once Options.MaxPendingEvents of its events wait: that client
// slows down, and no other. A client that reads slower than the server
// writes to it has its packets queued, up to Options.MaxQueueBytes; past
// that its connection is closed (ReasonSlowConsumer), and volatile
// packets (Volatile) are dropped for it well before. A broadcast never
// waits for one slow client.
//
// Every method of Server, Namespace, Socket, BroadcastOperator and
// Emitter is safe for concurrent use.
package socketio
