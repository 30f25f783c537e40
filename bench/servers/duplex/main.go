// Command duplex is the Duplex reference server of the benchmarks: a
// Socket.IO server on package socketio with default options, implementing
// the contract that bench/servers/node/server.mjs and the load tool share:
//
//	echo(...args, ack)   acks with args
//	broadcast(...args)   emits "broadcast" with args to every socket of "/"
//	join(room, ack)      joins room, acks
//	to(room, ...args)    emits "broadcast" with args to room
//	gc(ack)              collects garbage (twice: sync.Pools too), returns memory to the OS, acks
//	                     {clients, goroutines, heap, rss}
//
// It listens on 127.0.0.1:$PORT (0 picks a port), prints "READY <port>",
// and serves net/http/pprof under /debug/pprof/.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/duplexio/duplex/socketio"
)

func main() {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(args socketio.Args, ack socketio.Ack) {
			if ack == nil {
				return
			}
			_ = ack(values(args)...)
		})
		s.On("broadcast", func(args socketio.Args) {
			_ = io.Emit("broadcast", values(args)...)
		})
		s.On("join", func(room string, ack socketio.Ack) {
			s.Join(room)
			if ack != nil {
				_ = ack()
			}
		})
		s.On("to", func(args socketio.Args) {
			var room string
			if len(args) == 0 || args[0].Decode(&room) != nil {
				return
			}
			_ = io.To(room).Emit("broadcast", values(args[1:])...)
		})
		s.On("gc", func(ack socketio.Ack) {
			// Two collections: the first moves what sync.Pools cache (net/http's
			// buffers among them) to their victim caches, the second frees it.
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ack != nil {
				_ = ack(map[string]any{
					"clients":    io.Engine().SessionCount(),
					"goroutines": runtime.NumGoroutine(),
					"heap":       ms.HeapInuse + ms.StackInuse,
				})
			}
		})
	})

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("PORT")))
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/socket.io/", io)
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	// Idle keep-alive connections close after 5 s, as the Node server's
	// do by default (http.Server keepAliveTimeout); net/http keeps them
	// forever unless told.
	hs := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second}
	log.Fatal(hs.Serve(ln))
}

// values passes the arguments on as they came, without decoding them.
func values(args socketio.Args) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}
