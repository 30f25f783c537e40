package engineio

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/gorilla/websocket"
)

// v3Handshake opens a v3 polling session; extra is added to the query.
func (e *env) v3Handshake(extra string) (*pollClient, handshakeData, *Session) {
	e.t.Helper()
	res := e.mustDo("GET", "EIO=3&transport=polling"+extra, "", nil)
	if res.status != 200 {
		e.t.Fatalf("handshake: %d %s", res.status, res.body)
	}
	// "<length>:0{...}", the length in UTF-16 units.
	n, packet, ok := strings.Cut(res.body, ":")
	if l, err := strconv.Atoi(n); !ok || err != nil || l != len(packet) {
		e.t.Fatalf("v3 handshake payload %q", res.body)
	}
	hd := parseOpen(e.t, packet)
	s := recv(e.t, e.rec.opens, "OnOpen")
	if s.Protocol() != 3 {
		e.t.Errorf("protocol %d", s.Protocol())
	}
	c := &pollClient{e: e, sid: hd.SID, eio: "3"}
	return c, hd, s
}

func TestEIO3Polling(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{AllowEIO3: true})
	defer e.close()
	c, hd, s := e.v3Handshake("")
	if hd.PingInterval != 25000 || hd.PingTimeout != 20000 || hd.Upgrades[0] != "websocket" {
		t.Errorf("open packet %+v", hd)
	}

	// The client pings; the server answers.
	c.post("1:2")
	res := e.mustDo("GET", c.query(), "", nil)
	if res.body != "1:3" {
		t.Errorf("pong: %q", res.body)
	}
	// Text messages, length-prefixed; the length counts UTF-16 units.
	c.post("6:4hello2:4é")
	if m := recv(t, e.rec.msgs, "message"); m.data != "hello" {
		t.Errorf("message %q", m.data)
	}
	if m := recv(t, e.rec.msgs, "message"); m.data != "é" {
		t.Errorf("message %q", m.data)
	}
	res = e.mustDo("GET", c.query(), "", nil)
	if res.body != "6:4hello2:4é" || res.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Errorf("echo: %q %q", res.body, res.header.Get("Content-Type"))
	}
	// A binary message makes the whole payload binary, as the reference.
	if err := s.Send(binaryMsg([]byte{1, 2, 3}), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	res = e.mustDo("GET", c.query(), "", nil)
	if res.body != "\x01\x04\xff\x04\x01\x02\x03" || res.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("binary: %q %q", res.body, res.header.Get("Content-Type"))
	}
	// And the client may post binary payloads.
	res = e.mustDo("POST", c.query(), "\x01\x04\xff\x04\x09\x08\x07", http.Header{"Content-Type": {"application/octet-stream"}})
	if res.status != 200 || res.body != "ok" {
		t.Errorf("binary POST: %d %q", res.status, res.body)
	}
	if m := recv(t, e.rec.msgs, "message"); m.data != "\x09\x08\x07" || !m.binary {
		t.Errorf("message %+v", m)
	}
	// In v3 the server never pings: a pong is a transport error.
	res = e.mustDo("GET", c.query(), "", nil) // the echo
	if res.body != "\x01\x04\xff\x04\x09\x08\x07" {
		t.Errorf("echo: %q", res.body)
	}
	c.post("1:3")
	e.rec.expectClose(t, s, ReasonTransportError)
}

// TestEIO3Base64: a v3 client that asked for base64 gets binary messages as
// "b4<base64>" in a text payload.
func TestEIO3Base64(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{AllowEIO3: true})
	defer e.close()
	c, _, s := e.v3Handshake("&b64=1")
	c.extra = "&b64=1"
	if err := s.Send(binaryMsg([]byte{1, 2, 3}), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	res := e.mustDo("GET", c.query(), "", nil)
	if res.body != "6:b4AQID" || res.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Errorf("binary: %q %q", res.body, res.header.Get("Content-Type"))
	}
	c.post("6:b4CQgH")
	if m := recv(t, e.rec.msgs, "message"); m.data != "\x09\x08\x07" || !m.binary {
		t.Errorf("message %+v", m)
	}
	// A malformed v3 payload is a parse error.
	c.post("9:4short")
	e.rec.expectClose(t, s, ReasonParseError)
}

// TestEIO3Heartbeat: a v3 client must ping within PingInterval+PingTimeout.
func TestEIO3Heartbeat(t *testing.T) {
	defer leakcheck.Check(t)()
	// A deadline of one second: long enough that a loaded machine never
	// misses it between two pings of the loop below.
	opts := Options{AllowEIO3: true, PingInterval: 200 * time.Millisecond, PingTimeout: 800 * time.Millisecond}
	e := newEnv(t, newRecorder(false), &opts)
	defer e.close()
	c, _, s := e.v3Handshake("")
	// Pinging more often than the deadline keeps the session open past
	// it.
	deadline := opts.PingInterval + opts.PingTimeout
	start := time.Now()
	for time.Since(start) < deadline*13/10 {
		c.post("1:2")
		if res := e.mustDo("GET", c.query(), "", nil); res.body != "1:3" {
			t.Fatalf("pong: %q", res.body)
		}
		time.Sleep(20 * time.Millisecond) // the client's own ping interval
	}
	if n := e.rec.closeCount(s); n != 0 {
		t.Fatal("session closed while pinging")
	}
	stopped := time.Now()
	e.rec.expectClose(t, s, ReasonPingTimeout)
	if d := time.Since(stopped); d < opts.PingTimeout/2 {
		t.Errorf("closed %v after the last ping", d)
	}
}

func TestEIO3WebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{AllowEIO3: true})
	defer e.close()

	// Direct.
	ws := e.mustDialWS("EIO=3&transport=websocket")
	defer ws.close()
	hd := parseOpen(t, ws.readText())
	s := recv(t, e.rec.opens, "OnOpen")
	if s.Protocol() != 3 || s.ID() != hd.SID {
		t.Errorf("session %d %s", s.Protocol(), s.ID())
	}
	ws.write("2")
	if got := ws.readText(); got != "3" {
		t.Errorf("pong %q", got)
	}
	// v3 binary frames start with the packet type as a byte.
	ws.writeBinary([]byte{4, 1, 2})
	if m := recv(t, e.rec.msgs, "message"); m.data != "\x01\x02" || !m.binary {
		t.Errorf("message %+v", m)
	}
	kind, data, err := ws.read()
	if err != nil || kind != websocket.BinaryMessage || string(data) != "\x04\x01\x02" {
		t.Errorf("echo: %d %q %v", kind, data, err)
	}

	// Upgraded from polling.
	c, _, ps := e.v3Handshake("")
	up := e.mustDialWS("EIO=3&transport=websocket&sid=" + c.sid)
	defer up.close()
	up.write("2probe")
	if got := up.readText(); got != "3probe" {
		t.Fatalf("probe %q", got)
	}
	up.write("5")
	up.write("4hi")
	if got := up.readText(); got != "4hi" {
		t.Errorf("echo %q", got)
	}
	if ps.Transport() != TransportWebSocket {
		t.Errorf("transport %q", ps.Transport())
	}
	// An upgrade with another protocol revision is refused.
	c, _, _ = e.v3Handshake("")
	_, res, err := e.dialWS("EIO=4&transport=websocket&sid=" + c.sid)
	if err == nil || res == nil || res.StatusCode != 400 {
		t.Errorf("EIO=4 upgrade of a v3 session: %v", err)
	}
}
