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
	"github.com/duplexio/duplex/parser"
)

//go:embed index.html
var indexHTML []byte

// newHandler returns the example's routes: the page at / and the Engine.IO
// server at /engine.io/.
func newHandler() (http.Handler, *engineio.Server) {
	eio := engineio.NewServer(engineio.HandlerFunc(func(c engineio.Conn) engineio.SessionHandler {
		log.Printf("open %s over %s from %s", c.ID(), c.Transport(), c.Request().RemoteAddr)
		return engineio.SessionFuncs{
			Message: func(data []byte, binary bool) {
				_ = c.Send([]parser.Message{{Data: data, Binary: binary}}, engineio.SendOptions{})
			},
			Close: func(reason engineio.Reason) {
				log.Printf("close %s: %s", c.ID(), reason)
			},
		}
	}), nil)
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
	// MaxHeaderBytes: the Node server's 16 KB limit on request headers
	// (net/http's default is 1 MB).
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	log.Fatal(srv.ListenAndServe())
}
