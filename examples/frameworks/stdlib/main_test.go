package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/examples/frameworks/internal/sioclient"
	"github.com/duplexio/duplex/examples/frameworks/internal/siotest"
	"github.com/duplexio/duplex/socketio"
)

// start serves the example with opts on a loopback port until the test
// ends.
func start(t *testing.T, opts *socketio.Options, apiTimeout time.Duration) (siotest.Server, *httptest.Server, *socketio.Server) {
	t.Helper()
	io := newSocketServer(opts)
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = newServer("", newHandler(io, apiTimeout))
	ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// A connection dialed for a request that was then canceled counts
		// as busy for 5s; closing the client's idle ones spares the wait.
		ts.Client().CloseIdleConnections()
		_ = shutdown(ctx, ts.Config, io)
		ts.Close()
	})
	return siotest.Server{URL: ts.URL, Client: ts.Client()}, ts, io
}

func TestWebSocket(t *testing.T) {
	s, _, _ := start(t, siotest.Fast(socketOptions()), time.Second)
	siotest.WebSocket(t, s)
}

func TestPolling(t *testing.T) {
	s, _, _ := start(t, siotest.Fast(socketOptions()), time.Second)
	siotest.Polling(t, s)
}

func TestBroadcast(t *testing.T) {
	s, _, _ := start(t, siotest.Fast(socketOptions()), time.Second)
	siotest.Broadcast(t, s)
}

func TestPreflight(t *testing.T) {
	s, _, _ := start(t, siotest.Fast(socketOptions()), time.Second)
	siotest.Preflight(t, s)
}

// TestPollOutlivesAPITimeout holds a long-polling GET open for longer than
// the API's timeout: http.TimeoutHandler wraps the API only, so the
// session lives on and gets the broadcast.
func TestPollOutlivesAPITimeout(t *testing.T) {
	s, _, _ := start(t, socketOptions(), siotest.ShortTimeout)
	siotest.PollOutlivesTimeout(t, s)
}

// TestWrapperWithoutHijacker shows the pitfall that statusRecorder avoids:
// a middleware whose ResponseWriter wrapper hides Hijack breaks every
// WebSocket upgrade, while long-polling still works.
func TestWrapperWithoutHijacker(t *testing.T) {
	io := newSocketServer(siotest.Fast(socketOptions()))
	type hidingWriter struct{ http.ResponseWriter }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ServeHTTP(hidingWriter{w}, r)
	})
	ts := httptest.NewServer(h)
	t.Cleanup(func() { io.Close(); ts.Close() })

	_, err := sioclient.DialWebSocket(siotest.Context(t), ts.URL, nil)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("WebSocket through a writer without Hijack: err = %v, want HTTP 500", err)
	}
	siotest.Polling(t, siotest.Server{URL: ts.URL})
}

// TestShutdown stops the servers in shutdown's order while a WebSocket and
// a long-polling GET are open: both clients are closed at once, and the
// HTTP server does not wait for the ping interval (25s) to release the
// GET.
func TestShutdown(t *testing.T) {
	io := newSocketServer(socketOptions())
	var polls atomic.Int32 // polling GETs in progress
	h := newHandler(io, time.Second)
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = newServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("transport") == "polling" && r.URL.Query().Has("sid") {
			polls.Add(1)
			defer polls.Add(-1)
		}
		h.ServeHTTP(w, r)
	}))
	ts.Start()
	defer ts.Close()
	s := siotest.Server{URL: ts.URL, Client: ts.Client()}
	ws := siotest.DialWebSocket(t, s)
	poll := siotest.DialPolling(t, s)
	for polls.Load() == 0 { // the client's next GET, which waits for the server
		select {
		case <-poll.Done():
			t.Fatal("polling client closed")
		case <-time.After(5 * time.Millisecond):
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- shutdown(ctx, ts.Config, io) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("shutdown: %v after %v", err, time.Since(began))
			}
			for name, c := range map[string]*sioclient.Conn{"websocket": ws, "polling": poll} {
				select {
				case <-c.Done():
				case <-ctx.Done():
					t.Fatalf("%s client still open after shutdown", name)
				}
			}
			return
		case <-time.After(20 * time.Millisecond):
			// The polling client's next request, canceled by the close
			// while its connection was being dialed, leaves that
			// connection open and unused, which net/http's Shutdown
			// counts as busy for 5s. The client drops it, as a browser
			// does when its page goes.
			ts.Client().CloseIdleConnections()
		}
	}
}

// TestHeaderLimit sends 20 KB of request headers: the server refuses them
// as the Node server does (431), where net/http's default would read them.
func TestHeaderLimit(t *testing.T) {
	s, _, _ := start(t, siotest.Fast(socketOptions()), time.Second)
	req, err := http.NewRequest(http.MethodGet, s.URL+"/socket.io/?EIO=4&transport=polling", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("x", 20<<10))
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	// Headers within the limit still open a session.
	req.Header.Set("X-Big", strings.Repeat("x", 8<<10))
	resp, err = s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d with 8 KB of headers, want 200", resp.StatusCode)
	}
}
