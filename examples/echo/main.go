// Command echo is an Engine.IO echo server with a web page to try it: every
// message a client sends comes back to it.
//
//	go run ./examples/echo           # then open http://localhost:8080
//	go run ./examples/echo -addr :9000
package main

import (
	_ "embed"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/duplexio/duplex/engineio"
)

//go:embed index.html
var indexHTML []byte

// newHandler returns the example's routes: the page at / and the Engine.IO
// server at /engine.io/.
func newHandler() (http.Handler, *engineio.Server) {
	eio := engineio.NewServer(engineio.HandlerFuncs{
		Open: func(s *engineio.Session) {
			log.Printf("open %s over %s from %s", s.ID(), s.TransportName(), s.RemoteAddr())
		},
		Message: func(s *engineio.Session, data []byte, binary bool) {
			_ = s.Send(data, binary)
		},
		Close: func(s *engineio.Session, reason engineio.Reason) {
			log.Printf("close %s: %s", s.ID(), reason)
		},
	}, nil)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	return mux, eio
}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	h, _ := newHandler()
	log.Printf("echo: listening on http://%s", *addr)
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
