// Command gin serves Socket.IO and a JSON API from one gin engine.
//
//	cd examples/frameworks && go run ./gin    # then curl localhost:8080/api/health
//	curl -d '{"message":"hello"}' localhost:8080/api/broadcast
//
// The Socket.IO server is an http.Handler:
//
//	r.Any("/socket.io/*any", gin.WrapH(io))
//
// gives it every method (GET and POST for long-polling, OPTIONS for CORS
// preflights, the GET that upgrades to WebSocket) and every path under
// /socket.io/. gin's ResponseWriter can be hijacked, as the WebSocket
// upgrade needs, before anything is written.
package main

import (
	"context"
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
	"github.com/gin-gonic/gin"
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
		// A Socket.IO handler runs long after the HTTP request that
		// opened the session: it must not keep a *gin.Context, which gin
		// reuses for other requests. What the handshake carried (headers,
		// query, auth payload) is in s.Handshake().
		s.On("echo", func(msg any, ack socketio.Ack) {
			if ack != nil {
				_ = ack(msg)
			}
		})
	})
	return io
}

// newHandler returns the engine: Socket.IO under /socket.io/ and the API
// under /api, whose handlers get apiTimeout to answer.
func newHandler(io *socketio.Server, apiTimeout time.Duration) http.Handler {
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())

	// Not r.GET: the POSTs of long-polling and the OPTIONS preflights
	// would get 404 or 405.
	r.Any("/socket.io/*any", gin.WrapH(io))

	// Middleware that ends requests or buffers responses goes on the API
	// group only: a deadline on the request's context ends a long-polling
	// GET (which waits for up to the ping interval, 25s by default) and
	// its session, and a writer that buffers the response must also pass
	// Hijack through or the WebSocket upgrade fails. gzip belongs here
	// too: the Socket.IO server compresses its polling responses itself.
	api := r.Group("/api", timeout(apiTimeout))
	api.GET("/health", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{
			"status":  "ok",
			"sockets": io.Of("/").SocketCount(),
			"proto":   c.Request.Proto,
		})
	})
	api.POST("/broadcast", func(c *gin.Context) {
		var body struct {
			Message string `json:"message" binding:"required"`
		}
		if err := c.ShouldBindJSON(&body); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": `want {"message": "…"}`})
			return
		}
		if err := io.Emit("news", body.Message); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"sockets": io.Of("/").SocketCount()})
	})
	return r
}

// timeout gives each request of the group a context that ends after d.
func timeout(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	io := newSocketServer(socketOptions())
	// An http.Server rather than r.Run, for the graceful shutdown. No
	// WriteTimeout: a long-polling GET is answered up to 25s after it
	// arrives.
	// MaxHeaderBytes: the Node server's 16 KB limit on request headers
	// (net/http's default is 1 MB).
	srv := &http.Server{Addr: *addr, Handler: newHandler(io, 10*time.Second), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("gin: listening on http://%s", *addr)
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
