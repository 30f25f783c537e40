// Command eioserver is the Go side of the Engine.IO interop suite: a small
// server on package engineio implementing the contract in interop/README.md
// (echo, "close", "reason?<sid>", "transport?", "upgrades?", a cookie set
// in each header hook), configured from the environment.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/parser"
)

func main() {
	var (
		mu      sync.Mutex
		reasons = map[string]string{}
	)
	handler := engineio.HandlerFunc(func(c engineio.Conn) engineio.SessionHandler {
		send := func(data []byte, binary bool) {
			_ = c.Send([]parser.Message{{Data: data, Binary: binary}}, engineio.SendOptions{})
		}
		// The upgrade events of the session, in order.
		var (
			upMu     sync.Mutex
			upgrades []string
		)
		record := func(event string) func(engineio.Transport) {
			return func(t engineio.Transport) {
				upMu.Lock()
				upgrades = append(upgrades, event+":"+t.String())
				upMu.Unlock()
			}
		}
		c.OnUpgrading(record("upgrading"))
		c.OnUpgrade(record("upgrade"))
		return engineio.SessionFuncs{
			Message: func(data []byte, binary bool) {
				if binary {
					send(data, true)
					return
				}
				msg := string(data)
				switch {
				case msg == "close":
					c.Close()
				case msg == "transport?":
					send([]byte(c.Transport().String()), false)
				case msg == "upgrades?":
					upMu.Lock()
					events := strings.Join(upgrades, ",")
					upMu.Unlock()
					if events == "" {
						events = "none"
					}
					send([]byte(events), false)
				case strings.HasPrefix(msg, "reason?"):
					mu.Lock()
					r, ok := reasons[strings.TrimPrefix(msg, "reason?")]
					mu.Unlock()
					if !ok {
						r = "pending"
					}
					send([]byte(r), false)
				default:
					send(data, false)
				}
			},
			Close: func(reason engineio.Reason) {
				mu.Lock()
				reasons[c.ID()] = string(reason)
				mu.Unlock()
			},
		}
	})
	opts := &engineio.Options{
		PingInterval:      envDuration("PING_INTERVAL"),
		PingTimeout:       envDuration("PING_TIMEOUT"),
		UpgradeTimeout:    envDuration("UPGRADE_TIMEOUT"),
		MaxHTTPBufferSize: int64(envInt("MAX_PAYLOAD")),
		AllowEIO3:         os.Getenv("ALLOW_EIO3") == "1",
		// A cookie from each hook: eio_initial on handshakes, eio_headers
		// (the request's method) on every response that serves a session.
		InitialHeaders: func(h http.Header, _ *http.Request) {
			h.Add("Set-Cookie", "eio_initial=1")
		},
		Headers: func(h http.Header, r *http.Request) {
			h.Add("Set-Cookie", "eio_headers="+r.Method)
		},
	}
	if t := os.Getenv("TRANSPORTS"); t != "" {
		for _, name := range strings.Split(t, ",") {
			tr, ok := transports[name]
			if !ok {
				log.Fatalf("TRANSPORTS: unknown transport %q", name)
			}
			opts.Transports = append(opts.Transports, tr)
		}
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
	go func() {
		if err := hs.Serve(ln); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	// SIGTERM closes the sessions as the Node server's close() does, then
	// the process ends.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = hs.Close()
}

// transports are the transports by the names TRANSPORTS lists.
var transports = map[string]engineio.Transport{
	engineio.TransportPolling.String():   engineio.TransportPolling,
	engineio.TransportWebSocket.String(): engineio.TransportWebSocket,
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func envDuration(name string) time.Duration {
	return time.Duration(envInt(name)) * time.Millisecond
}
