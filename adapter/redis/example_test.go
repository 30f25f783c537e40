package redisadapter_test

import (
	"context"
	"log"
	"net/http"
	"time"

	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/socketio"
	"github.com/redis/go-redis/v9"
)

// A node of a cluster on the pub/sub adapter: run several behind a load
// balancer with sticky sessions, next to Node servers using
// @socket.io/redis-adapter if you like. A broadcast from any node reaches
// the clients of every node.
func ExampleNewFactory() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	io := socketio.NewServer(&socketio.Options{
		Adapter: redisadapter.NewFactory(rdb, nil),
	})
	io.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(room string) { s.Join(room) })
		s.On("say", func(room, text string) {
			s.To(room).Emit("said", text) // on every node
		})
	})
	// Requests to other nodes wait for their answers, up to the adapter's
	// RequestsTimeout (5s) or the context's deadline.
	io.Of("/").On("whoami", func(ack socketio.Ack) {
		if ack != nil {
			ack("node-1")
		}
	})
	http.Handle("/socket.io/", io)
	go http.ListenAndServe(":3000", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if sockets, err := io.FetchSockets(ctx); err == nil {
		log.Printf("%d sockets in the cluster", len(sockets))
	}
	if answers, err := io.Of("/").ServerSideEmitWithAck(ctx, "whoami"); err == nil {
		log.Printf("%d other nodes answered", len(answers))
	}
}

// The Streams adapter with connection state recovery: a client that
// loses its connection and comes back to any node within two minutes gets
// its id, rooms, data and the events it missed; broadcasts sent while
// Redis restarts reach the other nodes once it is back.
func ExampleNewStreamsFactory() {
	const window = 2 * time.Minute
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	io := socketio.NewServer(&socketio.Options{
		Adapter: redisadapter.NewStreamsFactory(rdb, &redisadapter.StreamsOptions{
			RecoveryWindow: window, // the same as the server's
		}),
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: window},
	})
	http.Handle("/socket.io/", io)
	log.Fatal(http.ListenAndServe(":3000", nil))
}

// An emitter sends into the cluster from a process that serves no
// clients: a worker, a cron job, an HTTP API.
func ExampleNewEmitter() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	em := redisadapter.NewEmitter(rdb, nil)
	ctx := context.Background()
	if err := em.To("room1").Except("room2").Emit(ctx, "news", map[string]any{"title": "hello"}); err != nil {
		log.Print(err)
	}
	_ = em.Of("/admin").Emit(ctx, "alert", "disk almost full")
	_ = em.In("room1").SocketsJoin(ctx, "room3")
	_ = em.ServerSideEmit(ctx, "reload-config")
}
