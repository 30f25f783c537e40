package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/socketio"
	"github.com/gorilla/websocket"
)

// This file holds a small Socket.IO client that speaks the wire protocol
// over WebSocket, enough to play the Admin UI and the clients it watches.

const waitTimeout = 5 * time.Second

// testServer is a socketio.Server behind an httptest.Server.
type testServer struct {
	t  *testing.T
	io *socketio.Server
	hs *httptest.Server

	mu      sync.Mutex
	clients []*wsClient
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	io := socketio.NewServer(nil)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	return &testServer{t: t, io: io, hs: httptest.NewServer(mux)}
}

// Close shuts the server down and closes the clients.
func (ts *testServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ts.io.Shutdown(ctx); err != nil && !errors.Is(err, socketio.ErrServerClosed) {
		ts.t.Errorf("Shutdown: %v", err)
	}
	ts.mu.Lock()
	clients := ts.clients
	ts.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
	ts.hs.Close()
}

// packet is a Socket.IO packet the client received, in text.
type packet struct {
	typ  byte // '0' CONNECT, '1' DISCONNECT, '2' EVENT, '4' CONNECT_ERROR...
	nsp  string
	data json.RawMessage
}

// event decodes an EVENT's name and arguments.
func (p packet) event() (string, []json.RawMessage) {
	var all []json.RawMessage
	if p.typ != '2' || json.Unmarshal(p.data, &all) != nil || len(all) == 0 {
		return "", nil
	}
	var name string
	_ = json.Unmarshal(all[0], &name)
	return name, all[1:]
}

// wsClient is one Engine.IO session over WebSocket.
type wsClient struct {
	t       *testing.T
	conn    *websocket.Conn
	sid     string
	packets chan packet
	done    chan struct{}
	wmu     sync.Mutex
	once    sync.Once
}

// dial opens a session.
func (ts *testServer) dial() *wsClient {
	t := ts.t
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, resp, err := (&websocket.Dialer{HandshakeTimeout: waitTimeout}).Dial(u, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	_, open, err := conn.ReadMessage()
	if err != nil || len(open) == 0 || open[0] != '0' {
		t.Fatalf("open packet %q: %v", open, err)
	}
	var hs struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal(open[1:], &hs)
	c := &wsClient{t: t, conn: conn, sid: hs.SID, packets: make(chan packet, 4096), done: make(chan struct{})}
	ts.mu.Lock()
	ts.clients = append(ts.clients, c)
	ts.mu.Unlock()
	go c.read()
	return c
}

func (c *wsClient) read() {
	defer close(c.done)
	defer close(c.packets)
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case string(msg) == "2":
			c.sendRaw("3")
		case len(msg) >= 2 && msg[0] == '4':
			c.packets <- parsePacket(string(msg[1:]))
		}
	}
}

func parsePacket(s string) packet {
	p := packet{typ: s[0], nsp: "/"}
	s = s[1:]
	if strings.HasPrefix(s, "/") {
		nsp, rest, _ := strings.Cut(s, ",")
		p.nsp, s = nsp, rest
	}
	if i := strings.IndexAny(s, "[{\""); i > 0 {
		s = s[i:] // an ack id
	}
	p.data = json.RawMessage(s)
	return p
}

func (c *wsClient) sendRaw(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

// Close closes the connection.
func (c *wsClient) Close() {
	c.once.Do(func() {
		_ = c.conn.Close()
		<-c.done
	})
}

func prefix(nsp string) string {
	if nsp == "/" {
		return ""
	}
	return nsp + ","
}

// connect joins nsp with auth and returns the server's CONNECT or
// CONNECT_ERROR packet.
func (c *wsClient) connect(nsp string, auth any) packet {
	c.t.Helper()
	b, _ := json.Marshal(auth)
	if auth == nil {
		b = nil
	}
	c.sendRaw("40" + prefix(nsp) + string(b))
	for {
		p := c.next()
		if p.nsp == nsp && (p.typ == '0' || p.typ == '4') {
			return p
		}
	}
}

// connectID joins nsp and returns the socket id.
func (c *wsClient) connectID(nsp string, auth any) string {
	c.t.Helper()
	p := c.connect(nsp, auth)
	var r struct {
		SID string `json:"sid"`
	}
	if p.typ != '0' || json.Unmarshal(p.data, &r) != nil || r.SID == "" {
		c.t.Fatalf("connect %s: got %c %s", nsp, p.typ, p.data)
	}
	return r.SID
}

// emit sends an event.
func (c *wsClient) emit(nsp, event string, args ...any) {
	c.t.Helper()
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw("42" + prefix(nsp) + string(b))
}

// next returns the next packet.
func (c *wsClient) next() packet {
	c.t.Helper()
	select {
	case p, ok := <-c.packets:
		if !ok {
			c.t.Fatal("connection closed")
		}
		return p
	case <-time.After(waitTimeout):
		c.t.Fatal("no packet within the timeout")
	}
	return packet{}
}

// waitEvent skips packets until event arrives, and returns its arguments.
func (c *wsClient) waitEvent(event string) []json.RawMessage {
	c.t.Helper()
	return c.waitEventWhere(event, func([]json.RawMessage) bool { return true })
}

// waitEventWhere skips packets until an event named event whose
// arguments satisfy match arrives.
func (c *wsClient) waitEventWhere(event string, match func([]json.RawMessage) bool) []json.RawMessage {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		p := c.next()
		if name, args := p.event(); name == event && match(args) {
			return args
		}
	}
	c.t.Fatalf("no %q event within the timeout", event)
	return nil
}

// waitPacket skips packets until one of type typ for nsp arrives.
func (c *wsClient) waitPacket(typ byte, nsp string) packet {
	c.t.Helper()
	for {
		if p := c.next(); p.typ == typ && p.nsp == nsp {
			return p
		}
	}
}

// decode unmarshals raw into a value of type T.
func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// str decodes raw as a string.
func str(t *testing.T, raw json.RawMessage) string { t.Helper(); return decode[string](t, raw) }

// argsAre reports whether the arguments, as strings, start with want.
func argsAre(want ...string) func([]json.RawMessage) bool {
	return func(args []json.RawMessage) bool {
		if len(args) < len(want) {
			return false
		}
		for i, w := range want {
			var s string
			if json.Unmarshal(args[i], &s) != nil || s != w {
				return false
			}
		}
		return true
	}
}

func describe(args []json.RawMessage) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = string(a)
	}
	return fmt.Sprintf("[%s]", strings.Join(parts, ", "))
}
