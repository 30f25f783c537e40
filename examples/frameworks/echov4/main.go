// Command echov4 serves Socket.IO and a JSON API from one Echo v4
// instance (echo is the same on Echo v5).
//
//	cd examples/frameworks && go run ./echov4    # then curl localhost:8080/api/health
//	curl -d '{"message":"hello"}' -H 'Content-Type: application/json' localhost:8080/api/broadcast
//
// The Socket.IO server is an http.Handler:
//
//	e.Any("/socket.io/*", echo.WrapHandler(io))
//
// gives it every method (GET and POST for long-polling, OPTIONS for CORS
// preflights, the GET that upgrades to WebSocket) and every path under
// /socket.io/. Echo's Response can be hijacked, as the WebSocket upgrade
// needs.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/socketio"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
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

// isSocketIO tells the requests of the Socket.IO server, for the Skipper
// of middleware that must leave them alone.
func isSocketIO(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, "/socket.io/")
}

// newHandler returns the Echo instance: Socket.IO under /socket.io/ and
// the API under /api, whose handlers get apiTimeout to answer.
func newHandler(io *socketio.Server, apiTimeout time.Duration) http.Handler {
	e := echo.New()
	e.Use(middleware.RequestLogger(), middleware.Recover())
	// Gzip for every route but Socket.IO's: the Socket.IO server
	// compresses its polling responses itself, and Gzip would compress
	// them again, leaving clients with gzip bytes where they expect
	// packets.
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Skipper: isSocketIO}))

	// Not e.GET: the POSTs of long-polling and the OPTIONS preflights
	// would get 405.
	e.Any("/socket.io/*", echo.WrapHandler(io))

	// ContextTimeout on the API group only: its deadline on the request's
	// context would end a long-polling GET (which waits for up to the
	// ping interval, 25s by default) and its session. The deprecated
	// middleware.Timeout is worse anywhere near Socket.IO: it runs the
	// handler behind http.TimeoutHandler, whose ResponseWriter cannot be
	// hijacked, so every WebSocket upgrade fails.
	api := e.Group("/api", middleware.ContextTimeout(apiTimeout))
	api.GET("/health", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{
			"status":  "ok",
			"sockets": io.Of("/").SocketCount(),
			"proto":   c.Request().Proto,
		})
	})
	api.POST("/broadcast", func(c echo.Context) error {
		var body struct {
			Message string `json:"message"`
		}
		if err := c.Bind(&body); err != nil || body.Message == "" {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": `want {"message": "…"}`})
		}
		if err := io.Emit("news", body.Message); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int{"sockets": io.Of("/").SocketCount()})
	})
	return e
}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	io := newSocketServer(socketOptions())
	// An http.Server rather than e.Start, for the graceful shutdown. No
	// WriteTimeout: a long-polling GET is answered up to 25s after it
	// arrives.
	// MaxHeaderBytes: the Node server's 16 KB limit on request headers
	// (net/http's default is 1 MB).
	srv := &http.Server{Addr: *addr, Handler: newHandler(io, 10*time.Second), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("echov4: listening on http://%s", *addr)
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
