// Command chi serves Socket.IO and a JSON API from one chi router.
//
//	cd examples/frameworks && go run ./chi    # then curl localhost:8080/api/health
//	curl -d '{"message":"hello"}' localhost:8080/api/broadcast
//
// The Socket.IO server is an http.Handler: r.Handle("/socket.io/*", io)
// gives it every method (GET and POST for long-polling, OPTIONS for CORS
// preflights, the GET that upgrades to WebSocket) and every path under
// /socket.io/. chi does not rewrite r.URL.Path, also under r.Mount or
// r.Route, so the server's Path option is the full path clients use.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/socketio"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
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

// newHandler returns the router: Socket.IO under /socket.io/ and the API
// under /api, whose handlers get apiTimeout to answer.
func newHandler(io *socketio.Server, apiTimeout time.Duration) http.Handler {
	r := chi.NewRouter()
	// Middleware for every route. Logger and Recoverer wrap the
	// ResponseWriter with middleware.WrapResponseWriter, which keeps
	// Hijack (the WebSocket upgrade) and Flush.
	r.Use(middleware.RequestID, middleware.Logger, middleware.Recoverer)

	r.Handle("/socket.io/*", io)

	r.Route("/api", func(r chi.Router) {
		// Only here: middleware.Timeout gives the request a context with a
		// deadline. A long-polling GET waits for up to the ping interval
		// (25s by default); its context ending closes the session with
		// "transport error". Throttle would be as wrong around Socket.IO,
		// where each long-polling client holds a slot all the time.
		r.Use(middleware.Timeout(apiTimeout), middleware.Compress(5))
		r.Get("/health", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{
				"status":  "ok",
				"sockets": io.Of("/").SocketCount(),
				"proto":   r.Proto,
			})
		})
		r.Post("/broadcast", func(w http.ResponseWriter, r *http.Request) {
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
	})
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	io := newSocketServer(socketOptions())
	// No WriteTimeout: a long-polling GET is answered up to 25s after it
	// arrives.
	// MaxHeaderBytes: the Node server's 16 KB limit on request headers
	// (net/http's default is 1 MB).
	srv := &http.Server{Addr: *addr, Handler: newHandler(io, 10*time.Second), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("chi: listening on http://%s", *addr)
	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	// Socket.IO first: it closes the WebSockets, which srv.Shutdown does
	// not track, and answers the long-polling GETs it would wait for.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := errors.Join(io.Shutdown(sctx), srv.Shutdown(sctx)); err != nil {
		log.Fatal(err)
	}
}
