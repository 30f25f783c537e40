package natsadapter_test

import (
	"context"
	"log"
	"net/http"
	"time"

	natsadapter "github.com/duplexio/duplex/adapter/nats"
	"github.com/duplexio/duplex/socketio"
	"github.com/nats-io/nats.go"
)

// A node of a Go cluster on NATS: run several behind a load balancer
// with sticky sessions. A broadcast from any node reaches the clients of
// every node; one to a single room reaches only the nodes with a member
// in it.
func ExampleNewFactory() {
	// Reconnect forever: the adapter subscribes again by itself.
	nc, err := nats.Connect(nats.DefaultURL, nats.Name("node-1"), nats.MaxReconnects(-1))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close() // after the server
	io := socketio.NewServer(&socketio.Options{
		Adapter: natsadapter.NewFactory(nc, nil),
	})
	io.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(room string) { s.Join(room) })
		s.On("say", func(room, text string) {
			s.To(room).Emit("said", text) // on every node with a member in room
		})
	})
	http.Handle("/socket.io/", io)
	go http.ListenAndServe(":3000", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if sockets, err := io.FetchSockets(ctx); err == nil {
		log.Printf("%d sockets in the cluster", len(sockets))
	}
}

// An emitter sends into the cluster from a process that serves no
// clients: a worker, a cron job, an HTTP API.
func ExampleNewEmitter() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	em := natsadapter.NewEmitter(nc, nil)
	ctx := context.Background()
	if err := em.To("room1").Except("room2").Emit(ctx, "news", map[string]any{"title": "hello"}); err != nil {
		log.Print(err)
	}
	_ = em.Of("/admin").Emit(ctx, "alert", "disk almost full")
	_ = em.In("room1").SocketsJoin(ctx, "room3")
	_ = em.ServerSideEmit(ctx, "reload-config")
	_ = nc.Flush() // before the process exits
}
