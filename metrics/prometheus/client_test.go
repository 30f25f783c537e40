package duplexprom

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// This file holds a small Socket.IO client that speaks the wire protocol
// by hand, over WebSocket or long-polling, so that the tests know the
// exact packets exchanged.

const waitTimeout = 5 * time.Second

// wsClient is a Socket.IO client over WebSocket.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
}

// dialWS opens a session over WebSocket at base (http://host) and joins
// namespace nsp. It returns the client and the server's CONNECT reply.
func dialWS(t testing.TB, base, query, nsp string) (*wsClient, string) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket" + query
	conn, res, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	res.Body.Close()
	c := &wsClient{t: t, conn: conn}
	if query == "" {
		if open := c.read(); !strings.HasPrefix(open, "0{") {
			t.Fatalf("open packet %q", open)
		}
	}
	if nsp == "" {
		return c, ""
	}
	c.write("40" + nsPrefix(nsp))
	reply := c.read()
	if !strings.HasPrefix(reply, "40"+nsPrefix(nsp)+"{") {
		t.Fatalf("CONNECT reply %q", reply)
	}
	return c, reply
}

func (c *wsClient) read() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	return string(data)
}

func (c *wsClient) write(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) Close() error { return c.conn.Close() }

// pollClient is a Socket.IO client over long-polling.
type pollClient struct {
	t    testing.TB
	http *http.Client
	url  string // with the sid
	sid  string
}

// dialPolling opens a session over polling at base and joins nsp. It
// returns the client and the server's CONNECT reply.
func dialPolling(t testing.TB, base, nsp string) (*pollClient, string) {
	t.Helper()
	p := &pollClient{t: t, http: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout}}
	u := base + "/socket.io/?EIO=4&transport=polling"
	packets := p.get(u)
	var hs struct {
		SID string `json:"sid"`
	}
	if len(packets) != 1 || !strings.HasPrefix(packets[0], "0") || json.Unmarshal([]byte(packets[0][1:]), &hs) != nil {
		t.Fatalf("handshake %q", packets)
	}
	p.sid, p.url = hs.SID, u+"&sid="+hs.SID
	p.post("40" + nsPrefix(nsp))
	packets = p.get(p.url)
	if len(packets) != 1 || !strings.HasPrefix(packets[0], "40"+nsPrefix(nsp)+"{") {
		t.Fatalf("CONNECT reply %q", packets)
	}
	return p, packets[0]
}

func (p *pollClient) get(u string) []string {
	p.t.Helper()
	res, err := p.http.Get(u)
	if err != nil {
		p.t.Fatalf("GET: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		p.t.Fatalf("GET: %d %q %v", res.StatusCode, body, err)
	}
	var out []string
	err = parser.DecodePayload(body, func(pk parser.Packet) error {
		out = append(out, string(parser.AppendPacket(nil, pk)))
		return nil
	})
	if err != nil {
		p.t.Fatalf("payload %q: %v", body, err)
	}
	return out
}

func (p *pollClient) post(packet string) {
	p.t.Helper()
	res, err := p.http.Post(p.url, "text/plain;charset=UTF-8", strings.NewReader(packet))
	if err != nil {
		p.t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusOK || string(b) != "ok" {
		p.t.Fatalf("POST: %d %q", res.StatusCode, b)
	}
}

// upgrade moves the session to WebSocket and returns the new connection.
func (p *pollClient) upgrade(base string) *wsClient {
	p.t.Helper()
	ws, _ := dialWS(p.t, base, "&sid="+p.sid, "")
	ws.write("2probe")
	if got := ws.read(); got != "3probe" {
		p.t.Fatalf("probe answer %q", got)
	}
	ws.write("5")
	return ws
}

func (p *pollClient) Close() error {
	p.http.CloseIdleConnections()
	return nil
}

func nsPrefix(nsp string) string {
	if nsp == "/" {
		return ""
	}
	return nsp + ","
}

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
