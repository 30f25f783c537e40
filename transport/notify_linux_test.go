//go:build linux

package transport

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// armRead arms ws and returns a channel that gets what the started
// function read: every packet that had arrived, then the error that
// stopped it (ErrWouldBlock when it read all there was).
func armRead(t *testing.T, ws *WebSocket) <-chan readResult {
	t.Helper()
	ch := make(chan readResult, 1)
	if !ws.OnReadable(func() {
		var r readResult
		for {
			p, err := ws.ReadPacketNow()
			if err != nil {
				r.err = err
				break
			}
			r.packets = append(r.packets, string(p.Data))
		}
		ch <- r
	}) {
		t.Fatal("OnReadable refused a plain socket on Linux")
	}
	return ch
}

type readResult struct {
	packets []string
	err     error
}

func waitRead(t *testing.T, ch <-chan readResult, what string) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the armed function did not start", what)
		return readResult{}
	}
}

// TestOnReadable: the armed function starts when bytes come, reads them
// all without waiting, and can be armed again, many times; it does not
// start before.
func TestOnReadable(t *testing.T) {
	ws, client := wsPair(t, WebSocketOptions{}, parser.ProtocolV4, nil)
	if !ws.CanWait() {
		t.Fatal("a plain socket cannot be waited on")
	}
	for i := range 200 {
		ch := armRead(t, ws)
		select {
		case r := <-ch:
			t.Fatalf("round %d: started with nothing to read: %+v", i, r)
		default:
		}
		if err := client.WriteMessage(websocket.TextMessage, []byte("4a")); err != nil {
			t.Fatal(err)
		}
		if err := client.WriteMessage(websocket.TextMessage, []byte("4b")); err != nil {
			t.Fatal(err)
		}
		r := waitRead(t, ch, "data")
		got := r.packets
		if !errors.Is(r.err, ErrWouldBlock) {
			t.Fatalf("round %d: read stopped with %v", i, r.err)
		}
		// The two frames may come in one read or two.
		if len(got) == 1 {
			r = waitRead(t, armRead(t, ws), "second frame")
			got = append(got, r.packets...)
		}
		if len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Fatalf("round %d: read %q", i, got)
		}
	}
}

// TestOnReadableClose: an armed function starts when the server closes the
// connection (and sees it closed), and at once when armed after the close.
func TestOnReadableClose(t *testing.T) {
	ws, _ := wsPair(t, WebSocketOptions{}, parser.ProtocolV4, nil)
	ch := armRead(t, ws)
	ws.Close()
	if r := waitRead(t, ch, "close"); r.err == nil || errors.Is(r.err, ErrWouldBlock) {
		t.Fatalf("read after Close: %v", r.err)
	}
	if r := waitRead(t, armRead(t, ws), "armed after close"); r.err == nil || errors.Is(r.err, ErrWouldBlock) {
		t.Fatalf("read after Close: %v", r.err)
	}

	// Closed before ever armed.
	ws2, _ := wsPair(t, WebSocketOptions{}, parser.ProtocolV4, nil)
	ws2.Close()
	if r := waitRead(t, armRead(t, ws2), "closed before armed"); r.err == nil || errors.Is(r.err, ErrWouldBlock) {
		t.Fatalf("read after Close: %v", r.err)
	}
}

// TestOnReadablePeerClose: the peer going away starts the function, which
// reads the end of the connection.
func TestOnReadablePeerClose(t *testing.T) {
	ws, client := wsPair(t, WebSocketOptions{}, parser.ProtocolV4, nil)
	ch := armRead(t, ws)
	client.UnderlyingConn().Close()
	if r := waitRead(t, ch, "peer close"); r.err == nil || errors.Is(r.err, ErrWouldBlock) {
		t.Fatalf("read after the peer closed: %v", r.err)
	}
}

// TestOnReadableReusedDescriptor: a closed connection's watch never fires
// for the connection that gets its descriptor number next.
func TestOnReadableReusedDescriptor(t *testing.T) {
	for i := range 50 {
		old, _ := wsPair(t, WebSocketOptions{}, parser.ProtocolV4, nil)
		oldCh := armRead(t, old)
		old.Close()
		waitRead(t, oldCh, "old connection closed")

		ws, client := wsPair(t, WebSocketOptions{}, parser.ProtocolV4, nil)
		ch := armRead(t, ws)
		if err := client.WriteMessage(websocket.TextMessage, []byte("4new")); err != nil {
			t.Fatal(err)
		}
		if r := waitRead(t, ch, "new connection"); len(r.packets) != 1 || r.packets[0] != "new" {
			t.Fatalf("round %d: new connection read %+v", i, r)
		}
		select {
		case r := <-oldCh:
			t.Fatalf("round %d: the old watch started again: %+v", i, r)
		default:
		}
		ws.Close()
	}
}

// TestOnReadableHoldsNoGoroutine: armed idle connections hold no
// goroutine each.
func TestOnReadableHoldsNoGoroutine(t *testing.T) {
	const n = 200
	up := NewUpgrader(WebSocketOptions{})
	server := make(chan *WebSocket, n)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil, parser.ProtocolV4)
		if err != nil {
			t.Errorf("Upgrade: %v", err)
		}
		server <- ws
	}))
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http")
	dial := func() (*WebSocket, *websocket.Conn) {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ws := <-server
		if ws == nil {
			t.FailNow()
		}
		t.Cleanup(func() { ws.Close() })
		return ws, c
	}
	// The notifier's own goroutine is started by the first connection.
	first, _ := dial()
	armRead(t, first)
	before := runtime.NumGoroutine()
	chs := make([]<-chan readResult, n)
	clients := make([]*websocket.Conn, n)
	for i := range n {
		var ws *WebSocket
		ws, clients[i] = dial()
		chs[i] = armRead(t, ws)
	}
	// The handlers of the upgrades may still be on their way out.
	deadline := time.Now().Add(5 * time.Second)
	grew := runtime.NumGoroutine() - before
	for grew > n/10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		grew = runtime.NumGoroutine() - before
	}
	if grew > n/10 {
		t.Fatalf("%d armed idle connections hold %d goroutines", n, grew)
	}
	for _, c := range clients {
		if err := c.WriteMessage(websocket.TextMessage, []byte("4x")); err != nil {
			t.Fatal(err)
		}
	}
	for i, ch := range chs {
		if r := waitRead(t, ch, "idle connection"); len(r.packets) != 1 || r.packets[0] != "x" {
			t.Fatalf("connection %d read %+v", i, r)
		}
	}
}
