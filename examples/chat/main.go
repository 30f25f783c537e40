// Command chat is a small real-time chat on package socketio, the
// project's main example. It serves one page (index.html, plain HTML, CSS
// and JavaScript) and the Socket.IO server it talks to:
//
//	go run ./examples/chat            # then open http://localhost:8080 in two tabs
//
// Users join with a nickname, chat in rooms ("general" first), see who is
// in the room and who is typing, and share small files; images show in
// the page. The page uses the official JavaScript client, socket.io-client,
// which the Socket.IO server itself serves at /socket.io/socket.io.min.js
// (no network access needed), over WebSocket, or over HTTP long-polling
// only with ?transport=polling in its URL.
//
// Flags:
//
//	-addr  address to listen on (default localhost:8080)
//
// Once listening it prints "listening on http://HOST:PORT" on standard
// output; logs go to standard error. SIGINT or SIGTERM shut it down
// cleanly: every client is disconnected with "server shutting down".
package main

import (
	"context"
	_ "embed"
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

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/socketio"
)

//go:embed index.html
var indexHTML []byte

// maxPayload bounds one WebSocket message or polling request body. An
// attachment of maxFileBytes fits in it even base64-encoded, as binary
// attachments are over polling.
const maxPayload = 1 << 20

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()

	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr); err != nil {
		slog.Error("chat stopped", "err", err)
		os.Exit(1)
	}
}

// run serves the chat on addr until ctx is done, then shuts down.
func run(ctx context.Context, addr string) error {
	handler, io := newHandler()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Node's HTTP server, the reference's, refuses request headers
		// over 16 KiB; net/http's default allows 1 MiB (and net/http
		// reads 4 KiB past either before it answers 431).
		MaxHeaderBytes: 16 << 10,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Socket.IO first: it closes the WebSockets, which the HTTP server no
	// longer tracks, and answers the pending polling requests, which it
	// would wait for.
	errIO := io.Shutdown(sctx)
	errHTTP := srv.Shutdown(sctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, err)
	}
	return errors.Join(errIO, errHTTP)
}

// newHandler returns the chat's HTTP handler and its Socket.IO server:
// the page at "/", and at "/socket.io/" the Socket.IO endpoint and the
// client library, which socketio serves there by default. Shut the server
// down when done.
func newHandler() (http.Handler, *socketio.Server) {
	io := socketio.NewServer(&socketio.Options{
		Options: engineio.Options{
			MaxHTTPBufferSize: maxPayload,
			Logger:            slog.Default(),
		},
	})
	newChat(io, slog.Default())

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.HandleFunc("GET /{$}", serveIndex)
	return mux, io
}

// serveIndex serves the page.
func serveIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(indexHTML)
}
