// Command example serves a Socket.IO server and its Prometheus metrics on
// one port:
//
//	go run . -addr localhost:8080
//	curl localhost:8080/metrics
//
// Clients connect to /socket.io/; each may "join" rooms and send
// "message" events to a room. /metrics shows the server's figures
// (duplex_*) beside the Go runtime's (go_*) and the process's (process_*).
// SIGINT or SIGTERM shut it down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	duplexprom "github.com/duplexio/duplex/metrics/prometheus"
	"github.com/duplexio/duplex/socketio"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr); err != nil {
		slog.Error("stopped", "err", err)
		os.Exit(1)
	}
}

// run serves on addr until ctx is done, then shuts down.
func run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(ctx, ln)
}

// serve serves on ln until ctx is done, then shuts down.
func serve(ctx context.Context, ln net.Listener) error {
	handler, io := newHandler()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errIO := io.Shutdown(sctx) // first: it closes the WebSockets
	errHTTP := srv.Shutdown(sctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, err)
	}
	return errors.Join(errIO, errHTTP)
}

// newHandler returns the HTTP handler, the Socket.IO endpoint at
// /socket.io/ and the metrics at /metrics, and the Socket.IO server.
func newHandler() (http.Handler, *socketio.Server) {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(room string) { s.Join(room) })
		s.On("message", func(room, text string) { _ = s.To(room).Emit("message", text) })
	})

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		duplexprom.NewCollector(io, nil),
	)

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux, io
}
