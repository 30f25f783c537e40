package clustertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/duplexio/duplex/internal/clusterclient"
	"github.com/duplexio/duplex/socketio"
)

// GoNode is a Node: a socketio.Server with the handlers Node describes,
// served by an httptest.Server.
type GoNode struct {
	IO *socketio.Server // the node's Socket.IO server
	HS *httptest.Server // the HTTP server that serves it

	name string
	mu   sync.Mutex
	sse  []string // server-side events received, "event:arg"
}

// StartGoNode starts a GoNode named name on a server with opts (its
// adapter, its recovery); it is closed when the test ends.
func StartGoNode(t testing.TB, name string, opts *socketio.Options) *GoNode {
	t.Helper()
	n := &GoNode{name: name, IO: socketio.NewServer(opts)}
	n.IO.OnConnection(func(s *socketio.Socket) {
		if !s.Recovered() {
			auth, _ := s.Handshake().Auth.(map[string]any)
			s.SetData(map[string]any{"node": name, "name": auth["name"]})
		}
		s.On("join", func(room string, ack socketio.Ack) {
			s.Join(room)
			if ack != nil {
				ack()
			}
		})
		s.On("leave", func(room string, ack socketio.Ack) {
			s.Leave(room)
			if ack != nil {
				ack()
			}
		})
	})
	n.IO.Of("/").On("hello", func(arg string, ack socketio.Ack) {
		n.mu.Lock()
		n.sse = append(n.sse, "hello:"+arg)
		n.mu.Unlock()
		if ack != nil {
			ack(name)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", n.IO)
	n.HS = httptest.NewServer(mux)
	t.Cleanup(n.Close)
	return n
}

// Server is the node's Socket.IO server.
func (n *GoNode) Server() *socketio.Server { return n.IO }

// URL is the node's HTTP server's.
func (n *GoNode) URL() string { return n.HS.URL }

// Name is the node's name.
func (n *GoNode) Name() string { return n.name }

// Received returns the server-side events the node received.
func (n *GoNode) Received() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.sse...)
}

// Close shuts the node down; it may be called more than once.
func (n *GoNode) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), clusterclient.WaitTimeout)
	defer cancel()
	_ = n.IO.Shutdown(ctx)
	n.HS.Close()
}
