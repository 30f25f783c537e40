// Command stdlib serves Socket.IO and a JSON API from one net/http
// ServeMux, behind a request-logging middleware.
//
//	cd examples/frameworks && go run ./stdlib    # then curl localhost:8080/api/health
//	curl -d '{"message":"hello"}' localhost:8080/api/broadcast
//
// The Socket.IO server is an http.Handler. Its pattern, "/socket.io/",
// names no method and ends with a slash, so it gets every method (GET and
// POST for long-polling, OPTIONS for CORS preflights, the GET that
// upgrades to WebSocket) and every path under /socket.io/.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
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

// socketOptions configures Socket.IO: a front end served from another
// origin (a dev server on port 5173) may connect.
func socketOptions() *socketio.Options {
	return &socketio.Options{Options: engineio.Options{
		CORS: &engineio.CORSOptions{Origins: []string{"http://localhost:5173"}},
	}}
}

// newSocketServer returns the Socket.IO server: an "echo" event answers
// the client's acknowledgement with its argument.
func newSocketServer(opts *socketio.Options) *socketio.Server {
	io := socketio.NewServer(opts)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(msg any, ack socketio.Ack) {
			if ack != nil {
				_ = ack(msg)
			}
		})
	})
	return io
}

// newHandler returns the routes: Socket.IO under /socket.io/ and the API
// under /api/, whose handlers get apiTimeout to answer.
func newHandler(io *socketio.Server, apiTimeout time.Duration) http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"status":  "ok",
			"sockets": io.Of("/").SocketCount(),
			"proto":   r.Proto,
		})
	})
	api.HandleFunc("POST /api/broadcast", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Message string `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Message == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"message": "…"}`})
			return
		}
		if err := io.Emit("news", body.Message); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"sockets": io.Of("/").SocketCount()})
	})

	mux := http.NewServeMux()
	// Not "GET /socket.io/": POST and OPTIONS would get 405.
	mux.Handle("/socket.io/", io)
	// http.TimeoutHandler buffers the response and its ResponseWriter
	// cannot be hijacked: around the Socket.IO server it would cut every
	// long-polling GET at the timeout and refuse every WebSocket upgrade.
	// It goes around the API only.
	mux.Handle("/api/", http.TimeoutHandler(api, apiTimeout, `{"error":"timeout"}`))
	return logRequests(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// logRequests logs each request with the status it was answered with.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		slog.Info("http", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}

// statusRecorder records the status of a response. A wrapper that embeds
// http.ResponseWriter hides the methods of the writer it wraps: this one
// passes Hijack through, since the WebSocket upgrade needs it (without it
// the upgrade fails with 500 "websocket: response does not implement
// http.Hijacker"; an Unwrap method alone does not help, the upgrade checks
// the interface). Unwrap lets http.ResponseController reach the other
// methods, such as Flush and SetWriteDeadline.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status and sends it.
func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write sends body bytes; a response without WriteHeader is a 200.
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Hijack hands the connection over to the WebSocket upgrade.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// newServer returns the HTTP server. ReadHeaderTimeout bounds slow
// clients. WriteTimeout stays zero: it counts from the arrival of a
// request, and a long-polling GET waits for up to the ping interval (25s
// by default) before it is answered, so a shorter WriteTimeout loses the
// answer and the client's connection drops. WebSockets are not affected:
// the server clears the deadlines of a hijacked connection.
func newServer(addr string, h http.Handler) *http.Server {
	// MaxHeaderBytes: the Node server's 16 KB limit on request headers
	// (net/http's default is 1 MB).
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10, IdleTimeout: 2 * time.Minute}
}

// shutdown stops the Socket.IO server first, then the HTTP server:
// io.Shutdown closes the WebSockets, which srv.Shutdown does not track
// (they are hijacked), and answers the pending long-polling GETs, which
// srv.Shutdown would wait for.
func shutdown(ctx context.Context, srv *http.Server, io *socketio.Server) error {
	return errors.Join(io.Shutdown(ctx), srv.Shutdown(ctx))
}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	io := newSocketServer(socketOptions())
	srv := newServer(*addr, newHandler(io, 10*time.Second))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("stdlib: listening on http://%s", *addr)
	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(sctx, srv, io); err != nil {
		log.Fatal(err)
	}
}
