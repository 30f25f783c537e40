package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetrics connects a client that joins a room, then scrapes /metrics.
func TestMetrics(t *testing.T) {
	defer leakcheck.Check(t)()
	handler, sio := newHandler()
	ts := httptest.NewServer(handler)
	defer ts.Close()
	defer sio.Close()

	conn, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, open, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
		t.Fatalf("open packet %q, %v", open, err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if _, reply, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(reply), "40{") {
		t.Fatalf("CONNECT reply %q, %v", reply, err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`42["join","lobby"]`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sio.Stats().Namespaces[0].Rooms != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the client did not join its room")
		}
		time.Sleep(2 * time.Millisecond)
	}

	want := `# HELP duplex_sessions Open Engine.IO sessions (client connections), by transport.
# TYPE duplex_sessions gauge
duplex_sessions{transport="polling"} 0
duplex_sessions{transport="websocket"} 1
# HELP duplex_namespace_rooms Rooms with members in the namespace on this node, each socket's own room excepted.
# TYPE duplex_namespace_rooms gauge
duplex_namespace_rooms{nsp="/"} 1
`
	if err := testutil.ScrapeAndCompare(ts.URL+"/metrics", strings.NewReader(want), "duplex_sessions", "duplex_namespace_rooms"); err != nil {
		t.Error(err)
	}
	// The runtime's and the process's metrics are there too.
	res, err = http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, name := range []string{"\ngo_goroutines ", "\nprocess_open_fds ", "\nduplex_handshakes_total 1\n"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("no %q in /metrics", strings.TrimSpace(name))
		}
	}
}

// TestServe starts the program on a free port, scrapes it and stops it.
func TestServe(t *testing.T) {
	defer leakcheck.Check(t)()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() { done <- serve(ctx, ln) }()
	deadline := time.Now().Add(5 * time.Second)
	var res *http.Response
	for {
		res, err = http.Get("http://" + addr + "/metrics")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "\nduplex_handshakes_total 0\n") {
		t.Errorf("/metrics: %d\n%s", res.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
