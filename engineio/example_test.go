package engineio_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/duplexio/duplex/engineio"
)

// An echo server: every message a client sends comes back to it, over
// polling or WebSocket, whichever the client uses.
func ExampleNewServer() {
	eio := engineio.NewServer(engineio.HandlerFuncs{
		Open: func(s *engineio.Session) {
			log.Printf("%s open over %s", s.ID(), s.TransportName())
		},
		Message: func(s *engineio.Session, data []byte, binary bool) {
			_ = s.Send(data, binary) // the session keeps data: do not change it
		},
		Close: func(s *engineio.Session, reason engineio.Reason) {
			log.Printf("%s closed: %s", s.ID(), reason)
		},
	}, &engineio.Options{PingInterval: 20 * time.Second})

	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()

	// On Ctrl-C: close the sessions ("server shutting down"), then stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = eio.Shutdown(shutdown)
	_ = srv.Shutdown(shutdown)
}
