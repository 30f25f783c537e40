// Command eioserver is the Go side of the Engine.IO interop suite: a small
// server on package engineio implementing the contract in interop/README.md
// (echo, "close", "reason?<sid>", "transport?"), configured from the
// environment.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duplexio/duplex/engineio"
)

func main() {
	var (
		mu      sync.Mutex
		reasons = map[string]string{}
	)
	handler := engineio.HandlerFuncs{
		Message: func(s *engineio.Session, data []byte, binary bool) {
			if binary {
				_ = s.Send(data, true)
				return
			}
			msg := string(data)
			switch {
			case msg == "close":
				s.Close()
			case msg == "transport?":
				_ = s.Send([]byte(s.TransportName()), false)
			case strings.HasPrefix(msg, "reason?"):
				mu.Lock()
				r, ok := reasons[strings.TrimPrefix(msg, "reason?")]
				mu.Unlock()
				if !ok {
					r = "pending"
				}
				_ = s.Send([]byte(r), false)
			default:
				_ = s.Send(data, false)
			}
		},
		Close: func(s *engineio.Session, reason engineio.Reason) {
			mu.Lock()
			reasons[s.ID()] = string(reason)
			mu.Unlock()
		},
	}
	opts := &engineio.Options{
		PingInterval:      envDuration("PING_INTERVAL"),
		PingTimeout:       envDuration("PING_TIMEOUT"),
		MaxHTTPBufferSize: int64(envInt("MAX_PAYLOAD")),
		AllowEIO3:         os.Getenv("ALLOW_EIO3") == "1",
	}
	if t := os.Getenv("TRANSPORTS"); t != "" {
		opts.Transports = strings.Split(t, ",")
	}
	srv := engineio.NewServer(handler, opts)

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(envInt("PORT"))))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.Serve(ln))
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func envDuration(name string) time.Duration {
	return time.Duration(envInt(name)) * time.Millisecond
}
