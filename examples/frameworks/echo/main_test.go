package main

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/duplexio/duplex/examples/frameworks/internal/siotest"
	"github.com/duplexio/duplex/socketio"
)

// start serves the example with opts on a loopback port until the test
// ends.
func start(t *testing.T, opts *socketio.Options, apiTimeout time.Duration) siotest.Server {
	t.Helper()
	io := newSocketServer(opts)
	ts := httptest.NewServer(newHandler(io, apiTimeout))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.Client().CloseIdleConnections()
		_ = io.Shutdown(ctx)
		ts.Close()
	})
	return siotest.Server{URL: ts.URL, Client: ts.Client()}
}

func TestWebSocket(t *testing.T) {
	siotest.WebSocket(t, start(t, siotest.Fast(socketOptions()), time.Second))
}

func TestPolling(t *testing.T) {
	siotest.Polling(t, start(t, siotest.Fast(socketOptions()), time.Second))
}

func TestBroadcast(t *testing.T) {
	siotest.Broadcast(t, start(t, siotest.Fast(socketOptions()), time.Second))
}

func TestPreflight(t *testing.T) {
	siotest.Preflight(t, start(t, siotest.Fast(socketOptions()), time.Second))
}

// TestPollOutlivesAPITimeout holds a long-polling GET open for longer than
// the API's timeout: middleware.ContextTimeout is on the /api group only, so the
// session lives on and gets the broadcast.
func TestPollOutlivesAPITimeout(t *testing.T) {
	siotest.PollOutlivesTimeout(t, start(t, socketOptions(), siotest.ShortTimeout))
}
