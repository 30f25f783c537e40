package engineio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
)

// The hostile-input suite: clients that break the protocol on purpose. For
// each attack the offender gets the reference server's answer (an HTTP
// status and {"code":N,"message":"..."}, or its session closed with the
// reference's reason), two well-behaved sessions opened before the attack,
// one per transport, go on exchanging messages, and no goroutine is left.
// The expectations were taken from engine.io 6.6.12 by sending it the same
// requests; where Duplex answers differently on purpose, the case says so.

// scene is the setting of one attack: a server that echoes messages and
// two bystanders opened before the attack.
type scene struct {
	*env
	wsVictim   *wsClient
	wsVictimS  *Session
	pollVictim *pollClient
	pollVictS  *Session
	checks     int
}

// newScene starts a server and its bystanders. Stop it with sc.close,
// deferred after leakcheck.Check.
func newScene(t *testing.T, opts *Options) *scene {
	t.Helper()
	e := newEnv(t, newRecorder(true), opts)
	sc := &scene{env: e}
	sc.wsVictim, _, sc.wsVictimS = e.wsHandshake()
	sc.pollVictim, _, sc.pollVictS = e.handshake()
	return sc
}

func (sc *scene) close() {
	sc.wsVictim.close()
	sc.env.close()
}

// wsEcho sends text over c and reads until it comes back, answering pings
// and skipping other frames.
func wsEcho(t testing.TB, c *wsClient, text string) {
	t.Helper()
	c.write("4" + text)
	for range 100 {
		kind, data, err := c.read()
		if err != nil {
			t.Fatalf("waiting for the echo of %q: %v", text, err)
		}
		if kind == websocket.TextMessage && string(data) == "2" {
			c.write("3")
			continue
		}
		if kind == websocket.TextMessage && string(data) == "4"+text {
			return
		}
	}
	t.Fatalf("no echo of %q", text)
}

// pollEcho posts text over c and polls until it comes back.
func pollEcho(t testing.TB, c *pollClient, text string) {
	t.Helper()
	c.post("4" + text)
	for range 100 {
		for _, p := range c.mustGet() {
			switch {
			case p.Type == parser.PacketPing:
				c.post("3")
			case p.Type == parser.PacketMessage && string(p.Data) == text:
				return
			}
		}
	}
	t.Fatalf("no echo of %q", text)
}

// checkBystanders checks that the sessions opened before the attack still
// exchange messages and were never closed.
func (sc *scene) checkBystanders(t testing.TB) {
	t.Helper()
	sc.checks++
	for i := range 3 {
		msg := fmt.Sprintf("bystander %d.%d", sc.checks, i)
		wsEcho(t, sc.wsVictim, msg)
		pollEcho(t, sc.pollVictim, msg)
	}
	for _, s := range []*Session{sc.wsVictimS, sc.pollVictS} {
		if n := sc.rec.closeCount(s); n != 0 {
			t.Fatalf("bystander %s (%s) closed", s.ID(), s.Transport())
		}
	}
}

// expectGone checks that requests for a closed session's id are refused.
func (sc *scene) expectGone(t testing.TB, sid string) {
	t.Helper()
	const unknown = `{"code":1,"message":"Session ID unknown"}`
	for _, method := range []string{"GET", "POST"} {
		res := sc.mustDo(method, "EIO=4&transport=polling&sid="+sid, "4x", nil)
		if res.status != 400 || res.body != unknown {
			t.Errorf("%s for closed session: %d %s, want 400 %s", method, res.status, res.body, unknown)
		}
	}
	expectRefusedWS(t, sc.env, "EIO=4&transport=websocket&sid="+sid, "Session ID unknown")
}

// expectRefusedWS checks that a WebSocket handshake is refused with 400 and
// the reference's message as text.
func expectRefusedWS(t testing.TB, e *env, query, message string) {
	t.Helper()
	c, res, err := e.dialWS(query)
	if err == nil {
		c.close()
		t.Fatalf("WebSocket ?%s accepted", query)
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || res == nil {
		t.Fatalf("WebSocket ?%s: %v", query, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || string(body) != message {
		t.Fatalf("WebSocket ?%s: %d %q, want 400 %q", query, res.StatusCode, body, message)
	}
}

// TestHostilePollingBodies posts malformed or oversized bodies to a polling
// session.
func TestHostilePollingBodies(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		body      string
		header    http.Header
		status    int
		answer    string
		delivered []string // messages handled before the session closed
		reason    Reason   // "" when the session stays open
	}{
		{name: "unknown packet type", body: "9hello", status: 200, answer: "ok", reason: ReasonParseError},
		{name: "type beyond the digits", body: ":x", status: 200, answer: "ok", reason: ReasonParseError},
		{name: "empty body", body: "", status: 200, answer: "ok", reason: ReasonParseError},
		{name: "empty record between packets", body: "4a\x1e\x1e4b", status: 200, answer: "ok", delivered: []string{"a"}, reason: ReasonParseError},
		{name: "trailing separator", body: "4a\x1e", status: 200, answer: "ok", delivered: []string{"a"}, reason: ReasonParseError},
		{name: "bad packet after good ones", body: "4a\x1e4b\x1eZ", status: 200, answer: "ok", delivered: []string{"a", "b"}, reason: ReasonParseError},
		// The reference skips the characters that are not base64 and
		// delivers what is left; Duplex refuses the packet.
		{name: "bad base64", body: "b!!", status: 200, answer: "ok", reason: ReasonParseError},
		{name: "base64 cut short", body: "bAQI=x", status: 200, answer: "ok", reason: ReasonParseError},
		{name: "ping from a v4 client", body: "2", status: 200, answer: "ok", reason: ReasonTransportError},
		{name: "probe ping over polling", body: "2probe", status: 200, answer: "ok", reason: ReasonTransportError},
		{name: "close packet stops the payload", body: "4a\x1e1\x1e4never", status: 200, answer: "ok", delivered: []string{"a"}, reason: ReasonTransportClose},
		{name: "binary body under v4", body: "4x", header: http.Header{"Content-Type": {"application/octet-stream"}}, status: 400, answer: "", reason: ReasonTransportError},
		{name: "body past MaxHTTPBufferSize", opts: Options{MaxHTTPBufferSize: 1000}, body: "4" + strings.Repeat("a", 1000), status: 413, answer: ""},
		{name: "body of exactly MaxHTTPBufferSize", opts: Options{MaxHTTPBufferSize: 1000}, body: "4" + strings.Repeat("a", 999), status: 200, answer: "ok", delivered: []string{strings.Repeat("a", 999)}},
		// Packets only the server sends, and a pong nobody asked for, are
		// ignored, as with the reference.
		{name: "server-only packets", body: "0\x1e5\x1e6\x1e3\x1e4kept", status: 200, answer: "ok", delivered: []string{"kept"}},
		{name: "invalid UTF-8", body: "4\xff\xfe", status: 200, answer: "ok", delivered: []string{"\xff\xfe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			sc := newScene(t, &tt.opts)
			defer sc.close()
			c, _, s := sc.handshake()

			res := sc.mustDo("POST", c.query(), tt.body, tt.header)
			if res.status != tt.status || res.body != tt.answer {
				t.Fatalf("POST %q: %d %q, want %d %q", tt.body, res.status, res.body, tt.status, tt.answer)
			}
			for _, want := range tt.delivered {
				if m := recv(t, sc.rec.msgs, "message"); m.s != s || m.data != want {
					t.Fatalf("message %q from %s, want %q from the offender", m.data, m.s.ID(), want)
				}
			}
			if tt.reason == "" {
				pollEcho(t, c, "still open")
				if n := sc.rec.closeCount(s); n != 0 {
					t.Fatal("session closed")
				}
			} else {
				sc.rec.expectClose(t, s, tt.reason)
				noRecv(t, sc.rec.msgs, 10*time.Millisecond, "message after the close")
				sc.expectGone(t, c.sid)
			}
			sc.checkBystanders(t)
		})
	}
}

// TestHostileRequests sends requests that are refused before they reach a
// session, or that a session refuses without closing.
func TestHostileRequests(t *testing.T) {
	const (
		unknownTransport = `{"code":0,"message":"Transport unknown"}`
		unknownSID       = `{"code":1,"message":"Session ID unknown"}`
		badMethod        = `{"code":2,"message":"Bad handshake method"}`
		badRequest       = `{"code":3,"message":"Bad request"}`
		badProtocol      = `{"code":5,"message":"Unsupported protocol version"}`
	)
	// {P} is the polling offender's sid, {W} the WebSocket offender's.
	tests := []struct {
		name, method, query string
		header              http.Header
		status              int
		body                string
	}{
		{"bogus sid GET", "GET", "EIO=4&transport=polling&sid=nope", nil, 400, unknownSID},
		{"bogus sid POST", "POST", "EIO=4&transport=polling&sid=nope", nil, 400, unknownSID},
		{"sid of 4000 bytes", "GET", "EIO=4&transport=polling&sid=" + strings.Repeat("x", 4000), nil, 400, unknownSID},
		{"sid naming a map method", "GET", "EIO=4&transport=polling&sid=__proto__", nil, 400, unknownSID},
		{"sid with a NUL", "GET", "EIO=4&transport=polling&sid=%00", nil, 400, unknownSID},
		{"transport in capitals", "GET", "EIO=4&transport=Polling", nil, 400, unknownTransport},
		{"empty transport", "GET", "EIO=4&transport=", nil, 400, unknownTransport},
		{"webtransport", "GET", "EIO=4&transport=webtransport", nil, 400, unknownTransport},
		{"transport with a space", "GET", "EIO=4&transport=polling%20", nil, 400, unknownTransport},
		{"unknown transport for a session", "GET", "EIO=4&transport=flash&sid={P}", nil, 400, unknownTransport},
		{"websocket without upgrade for a polling session", "GET", "EIO=4&transport=websocket&sid={P}", nil, 400, badRequest},
		{"polling GET for a WebSocket session", "GET", "EIO=4&transport=polling&sid={W}", nil, 400, badRequest},
		{"polling POST for a WebSocket session", "POST", "EIO=4&transport=polling&sid={W}", nil, 400, badRequest},
		{"other protocol revision for a session", "GET", "EIO=3&transport=polling&sid={P}", nil, 400, badRequest},
		// Repeated parameters: the last one counts, as with the reference.
		{"repeated sid, the last unknown", "GET", "EIO=4&transport=polling&sid={P}&sid=nope", nil, 400, unknownSID},
		{"repeated EIO, the last 3", "GET", "EIO=4&EIO=3&transport=polling", nil, 400, badProtocol},
		{"repeated transport, the last unknown", "GET", "EIO=4&transport=polling&transport=flash", nil, 400, unknownTransport},
		{"POST handshake", "POST", "EIO=4&transport=polling", nil, 400, badMethod},
		{"DELETE handshake", "DELETE", "EIO=4&transport=polling", nil, 400, badMethod},
		{"HEAD handshake", "HEAD", "EIO=4&transport=polling", nil, 400, ""},
		{"DELETE on a session", "DELETE", "EIO=4&transport=polling&sid={P}", nil, 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			sc := newScene(t, nil)
			defer sc.close()
			pc, _, ps := sc.handshake()
			wc, _, ws := sc.wsHandshake()
			defer wc.close()

			query := strings.NewReplacer("{P}", pc.sid, "{W}", ws.ID()).Replace(tt.query)
			body := ""
			if tt.method == "POST" {
				body = "4x"
			}
			res := sc.mustDo(tt.method, query, body, tt.header)
			if res.status != tt.status || res.body != tt.body {
				t.Fatalf("%s ?%s: %d %s, want %d %s", tt.method, tt.query, res.status, res.body, tt.status, tt.body)
			}
			if tt.body != "" && res.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", res.header.Get("Content-Type"))
			}
			// Neither offender's session noticed.
			pollEcho(t, pc, "still open")
			wsEcho(t, wc, "still open")
			if sc.rec.closeCount(ps)+sc.rec.closeCount(ws) != 0 {
				t.Fatal("a session was closed")
			}
			sc.checkBystanders(t)
		})
	}
}

// TestHostileRepeatedParameters: a request naming two sessions is about
// the last one, as with the reference.
func TestHostileRepeatedParameters(t *testing.T) {
	defer leakcheck.Check(t)()
	sc := newScene(t, nil)
	defer sc.close()
	c, _, s := sc.handshake()
	res := sc.mustDo("POST", "EIO=4&transport=polling&sid=nope&sid="+c.sid, "4for the last", nil)
	if res.status != 200 || res.body != "ok" {
		t.Fatalf("POST: %d %q", res.status, res.body)
	}
	if m := recv(t, sc.rec.msgs, "message"); m.s != s || m.data != "for the last" {
		t.Fatalf("message %+v", m)
	}
	// The last transport decides too: a handshake over polling.
	res = sc.mustDo("GET", "EIO=4&transport=websocket&transport=polling", "", nil)
	if res.status != 200 {
		t.Fatalf("handshake: %d %s", res.status, res.body)
	}
	parseOpen(t, res.body)
	sc.checkBystanders(t)
}

// TestHostileOverlappingRequests: a second GET while one is pending, or a
// second POST while one is being read, is a transport error (400), as with
// the reference; the pending GET gets the close packet.
func TestHostileOverlappingRequests(t *testing.T) {
	t.Run("GET", func(t *testing.T) {
		defer leakcheck.Check(t)()
		sc := newScene(t, nil)
		defer sc.close()
		c, _, s := sc.handshake()
		first := c.asyncGet()
		waitFor(t, "a pending poll", s.writableForTest)
		res, err := c.get()
		if err != nil || res.status != 400 || res.body != "" {
			t.Fatalf("second GET: %v %d %q", err, res.status, res.body)
		}
		sc.rec.expectClose(t, s, ReasonTransportError)
		if got := packetString(pollResult(t, first)); got != "1" {
			t.Errorf("first GET: %q", got)
		}
		sc.expectGone(t, c.sid)
		sc.checkBystanders(t)
	})
	t.Run("POST", func(t *testing.T) {
		defer leakcheck.Check(t)()
		sc := newScene(t, nil)
		defer sc.close()
		c, _, s := sc.handshake()
		pw, first := startSlowPost(t, sc.env, c, s)
		res := sc.mustDo("POST", c.query(), "4second", nil)
		if res.status != 400 || res.body != "" {
			t.Fatalf("second POST: %d %q", res.status, res.body)
		}
		sc.rec.expectClose(t, s, ReasonTransportError)
		pw.Close()
		recv(t, first, "first POST")
		sc.expectGone(t, c.sid)
		sc.checkBystanders(t)
	})
	t.Run("many GETs at once", func(t *testing.T) {
		defer leakcheck.Check(t)()
		sc := newScene(t, nil)
		defer sc.close()
		c, _, s := sc.handshake()
		const n = 8
		results := make(chan result, n)
		for range n {
			go func() {
				res, err := c.get()
				results <- result{res, err}
			}()
		}
		// Exactly one poll can be the pending one; every answer is either
		// the 400 of an overlap, the close packet, or the refusal of a
		// request that came after the close.
		sc.rec.expectClose(t, s, ReasonTransportError)
		overlaps := 0
		for range n {
			r := recv(t, results, "a GET's answer")
			switch {
			case r.err != nil:
				t.Fatalf("GET: %v", r.err)
			case r.res.status == 400 && r.res.body == "":
				overlaps++
			case r.res.status == 200 && r.res.body == "1":
			case r.res.status == 400 && r.res.body == `{"code":1,"message":"Session ID unknown"}`:
			default:
				t.Fatalf("GET answered %d %q", r.res.status, r.res.body)
			}
		}
		if overlaps == 0 {
			t.Error("no GET refused as overlapping")
		}
		sc.checkBystanders(t)
	})
}

// TestHostileAfterClose: requests for a session that closed are refused
// with code 1, over both transports.
func TestHostileAfterClose(t *testing.T) {
	defer leakcheck.Check(t)()
	sc := newScene(t, nil)
	defer sc.close()
	c, _, s := sc.handshake()
	c.post("1")
	sc.rec.expectClose(t, s, ReasonTransportClose)
	sc.expectGone(t, c.sid)

	w, _, ws := sc.wsHandshake()
	w.write("1")
	sc.rec.expectClose(t, ws, ReasonTransportClose)
	w.expectClosed()
	w.close()
	sc.expectGone(t, ws.ID())
	sc.checkBystanders(t)
}

// wsFrame is one frame a hostile WebSocket client sends.
type wsFrame struct {
	binary bool
	data   string
}

func textFrame(s string) wsFrame   { return wsFrame{data: s} }
func binaryFrame(s string) wsFrame { return wsFrame{binary: true, data: s} }

// tryWrite sends a text frame to a server that may have closed the
// connection already.
func (c *wsClient) tryWrite(text string) {
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(text))
}

func (c *wsClient) send(f wsFrame) {
	c.t.Helper()
	if f.binary {
		c.writeBinary([]byte(f.data))
	} else {
		c.write(f.data)
	}
}

// TestHostileWebSocketFrames sends malformed frames over a WebSocket
// session, v4 and v3.
func TestHostileWebSocketFrames(t *testing.T) {
	tests := []struct {
		name      string
		eio       int
		opts      Options
		frames    []wsFrame
		delivered []message // data and binary of what the handler got
		reason    Reason    // "" when the session stays open
		closeCode int       // the close frame's code, when the reference's is known to match
	}{
		{name: "unknown packet type", eio: 4, frames: []wsFrame{textFrame("9x")}, reason: ReasonParseError},
		{name: "empty text frame", eio: 4, frames: []wsFrame{textFrame("")}, reason: ReasonParseError},
		// The reference decodes what base64 it can; Duplex refuses.
		{name: "bad base64", eio: 4, frames: []wsFrame{textFrame("b!!")}, reason: ReasonParseError},
		{name: "ping from a v4 client", eio: 4, frames: []wsFrame{textFrame("2")}, reason: ReasonTransportError},
		{name: "probe on a WebSocket session", eio: 4, frames: []wsFrame{textFrame("2probe")}, reason: ReasonTransportError},
		{name: "pong without a ping", eio: 4, frames: []wsFrame{textFrame("3"), textFrame("4after")}, delivered: []message{{data: "after"}}},
		{name: "server-only packets", eio: 4, frames: []wsFrame{textFrame("0"), textFrame("5"), textFrame("6"), textFrame("4after")}, delivered: []message{{data: "after"}}},
		{name: "frame past MaxHTTPBufferSize", eio: 4, opts: Options{MaxHTTPBufferSize: 1000}, frames: []wsFrame{textFrame("4" + strings.Repeat("a", 1000))}, reason: ReasonTransportError, closeCode: websocket.CloseMessageTooBig},
		{name: "binary frame past MaxHTTPBufferSize", eio: 4, opts: Options{MaxHTTPBufferSize: 1000}, frames: []wsFrame{binaryFrame(strings.Repeat("a", 1001))}, reason: ReasonTransportError, closeCode: websocket.CloseMessageTooBig},
		{name: "frame of exactly MaxHTTPBufferSize", eio: 4, opts: Options{MaxHTTPBufferSize: 1000}, frames: []wsFrame{textFrame("4" + strings.Repeat("a", 999))}, delivered: []message{{data: strings.Repeat("a", 999)}}},
		{name: "binary frames are messages in v4", eio: 4, frames: []wsFrame{binaryFrame("\x00\x01"), binaryFrame("")}, delivered: []message{{data: "\x00\x01", binary: true}, {data: "", binary: true}}},
		{name: "close packet", eio: 4, frames: []wsFrame{textFrame("4a"), textFrame("1")}, delivered: []message{{data: "a"}}, reason: ReasonTransportClose},
		// v3 binary frames start with the packet type as a byte; the
		// reference ignores a frame of unknown type, Duplex refuses it.
		{name: "v3 binary frame of unknown type", eio: 3, opts: Options{AllowEIO3: true}, frames: []wsFrame{binaryFrame("\x09\x01")}, reason: ReasonParseError},
		{name: "v3 empty binary frame", eio: 3, opts: Options{AllowEIO3: true}, frames: []wsFrame{binaryFrame("")}, reason: ReasonParseError},
		{name: "v3 unknown text type", eio: 3, opts: Options{AllowEIO3: true}, frames: []wsFrame{textFrame("9")}, reason: ReasonParseError},
		{name: "v3 empty text frame", eio: 3, opts: Options{AllowEIO3: true}, frames: []wsFrame{textFrame("")}, reason: ReasonParseError},
		{name: "v3 pong from the client", eio: 3, opts: Options{AllowEIO3: true}, frames: []wsFrame{textFrame("3")}, reason: ReasonTransportError},
		{name: "v3 binary message", eio: 3, opts: Options{AllowEIO3: true}, frames: []wsFrame{binaryFrame("\x04\x07")}, delivered: []message{{data: "\x07", binary: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			sc := newScene(t, &tt.opts)
			defer sc.close()
			c := sc.mustDialWS(fmt.Sprintf("EIO=%d&transport=websocket", tt.eio))
			defer c.close()
			parseOpen(t, c.readText())
			s := recv(t, sc.rec.opens, "OnOpen")

			for _, f := range tt.frames {
				c.send(f)
			}
			for _, want := range tt.delivered {
				m := recv(t, sc.rec.msgs, "message")
				if m.s != s || m.data != want.data || m.binary != want.binary {
					t.Fatalf("message %q (binary %v), want %q (binary %v)", m.data, m.binary, want.data, want.binary)
				}
			}
			if tt.reason == "" {
				if tt.eio == 4 {
					wsEcho(t, c, "still open")
				}
				if n := sc.rec.closeCount(s); n != 0 {
					t.Fatal("session closed")
				}
			} else {
				sc.rec.expectClose(t, s, tt.reason)
				err := c.expectClosed()
				if tt.closeCode != 0 && !websocket.IsCloseError(err, tt.closeCode) {
					t.Errorf("connection closed with %v, want close code %d", err, tt.closeCode)
				}
				noRecv(t, sc.rec.msgs, 10*time.Millisecond, "message after the close")
				sc.expectGone(t, s.ID())
			}
			sc.checkBystanders(t)
		})
	}
}

// TestHostileEIO3Payloads posts malformed v3 payloads (length-prefixed
// text, and the binary format) to a v3 polling session.
func TestHostileEIO3Payloads(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		binary bool
		reason Reason // "" when the session stays open
	}{
		{"length longer than the data", "9:4short", false, ReasonParseError},
		{"no length", ":4x", false, ReasonParseError},
		{"letters for a length", "abc", false, ReasonParseError},
		{"length without a packet", "2:", false, ReasonParseError},
		{"length past any body", "999999999999:4a", false, ReasonParseError},
		{"negative length", "-1:4a", false, ReasonParseError},
		{"separator alone", ":", false, ReasonParseError},
		{"good packet then a short one", "2:4a3:4", false, ReasonParseError},
		{"unknown packet type", "2:9x", false, ReasonParseError},
		{"empty body", "", false, ReasonParseError},
		// The reference reads past what it cannot decode in the next
		// three; Duplex refuses them.
		{"bad base64", "3:b4!", false, ReasonParseError},
		{"base64 without a type", "1:b", false, ReasonParseError},
		{"binary length past the data", "\x01\x09\xff\x04\x01", true, ReasonParseError},
		{"empty binary body", "", true, ReasonParseError},
		{"binary packet of unknown type", "\x00\x03\xff\x09\x01", true, ReasonParseError},
		{"binary length without its end marker", "\x00\x03\x04\x01\x02", true, ReasonParseError},
		{"binary length of many digits", "\x00\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff\x04", true, ReasonParseError},
		{"pong from a v3 client", "1:3", false, ReasonTransportError},
		// An empty packet of length 0 is nothing to the reference either.
		{"zero length", "0:", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			sc := newScene(t, &Options{AllowEIO3: true})
			defer sc.close()
			c, _, s := sc.v3Handshake("")
			var h http.Header
			if tt.binary {
				h = http.Header{"Content-Type": {"application/octet-stream"}}
			}
			res := sc.mustDo("POST", c.query(), tt.body, h)
			if res.status != 200 || res.body != "ok" {
				t.Fatalf("POST: %d %q", res.status, res.body)
			}
			if tt.reason == "" {
				c.post("6:4alive")
				if m := recv(t, sc.rec.msgs, "message"); m.s != s || m.data != "alive" {
					t.Fatalf("message %+v", m)
				}
				if n := sc.rec.closeCount(s); n != 0 {
					t.Fatal("session closed")
				}
			} else {
				sc.rec.expectClose(t, s, tt.reason)
				sc.expectGone(t, c.sid)
			}
			sc.checkBystanders(t)
		})
	}
}

// TestHostileUpgrades: upgrade races and probes out of order. The
// offender's session is a polling one; whatever happens to the WebSockets
// that try to take it over, it goes on over the transport it ends up on.
func TestHostileUpgrades(t *testing.T) {
	// probe opens a WebSocket for the session and waits until it holds the
	// session's probe slot.
	probe := func(t *testing.T, sc *scene, c *pollClient, s *Session) *wsClient {
		t.Helper()
		ws := sc.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
		waitFor(t, "the WebSocket holding the probe slot", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.probe != nil
		})
		return ws
	}
	// finish completes the upgrade over ws and checks messages both ways.
	finish := func(t *testing.T, sc *scene, ws *wsClient, s *Session) {
		t.Helper()
		ws.write("5")
		waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })
		wsEcho(t, ws, "over the WebSocket")
		res := sc.mustDo("GET", "EIO=4&transport=polling&sid="+s.ID(), "", nil)
		if res.status != 400 || res.body != `{"code":3,"message":"Bad request"}` {
			t.Errorf("poll after the upgrade: %d %s", res.status, res.body)
		}
	}
	// stillPolling checks that the session stayed on polling and works.
	stillPolling := func(t *testing.T, sc *scene, c *pollClient, s *Session) {
		t.Helper()
		waitFor(t, "the probe slot freed", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.probe == nil
		})
		if s.Transport() != TransportPolling {
			t.Fatalf("transport %q", s.Transport())
		}
		pollEcho(t, c, "still polling")
	}

	tests := []struct {
		name string
		opts Options
		run  func(t *testing.T, sc *scene, c *pollClient, s *Session)
	}{
		{"two WebSockets at once", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			b := sc.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			b.expectClosed() // as the reference: the handshake completes, then the connection closes
			b.close()
			a.write("2probe")
			if got := a.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			finish(t, sc, a, s)
		}},
		{"a second client probes mid-upgrade", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("2probe")
			if got := a.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			b := sc.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			b.tryWrite("2probe")
			b.expectClosed()
			b.close()
			finish(t, sc, a, s)
		}},
		{"a second client sends the upgrade packet mid-upgrade", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("2probe")
			if got := a.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			b := sc.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			b.tryWrite("5")
			b.expectClosed()
			b.close()
			if s.Transport() != TransportPolling {
				t.Fatal("the second client's upgrade packet took the session")
			}
			finish(t, sc, a, s)
		}},
		{"many WebSockets race for one session", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			const n = 6
			won := make(chan *wsClient, n)
			for range n {
				go func() {
					conn, _, err := websocket.DefaultDialer.Dial(sc.wsBase+"?EIO=4&transport=websocket&sid="+c.sid, nil)
					if err != nil {
						won <- nil
						return
					}
					_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
					_ = conn.WriteMessage(websocket.TextMessage, []byte("2probe"))
					_, data, err := conn.ReadMessage()
					if err != nil || string(data) != "3probe" {
						conn.Close()
						won <- nil
						return
					}
					_ = conn.WriteMessage(websocket.TextMessage, []byte("5"))
					won <- &wsClient{t: t, conn: conn}
				}()
			}
			// One holds the probe slot until it upgrades; the others are
			// closed, and once the session is on WebSocket no one else
			// can take it.
			var winners []*wsClient
			for range n {
				if w := recv(t, won, "an upgrade attempt"); w != nil {
					winners = append(winners, w)
				}
			}
			for _, w := range winners {
				defer w.close()
			}
			if len(winners) != 1 {
				t.Fatalf("%d WebSockets upgraded the session", len(winners))
			}
			waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })
			wsEcho(t, winners[0], "the winner")
		}},
		{"upgrade packet before the probe", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			// The reference upgrades all the same.
			a := probe(t, sc, c, s)
			defer a.close()
			finish(t, sc, a, s)
		}},
		{"probe twice", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("2probe")
			a.write("2probe")
			for range 2 {
				if got := a.readText(); got != "3probe" {
					t.Fatalf("probe answer %q", got)
				}
			}
			finish(t, sc, a, s)
		}},
		{"message before the upgrade packet", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("2probe")
			if got := a.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			a.write("4early")
			a.expectClosed()
			stillPolling(t, sc, c, s)
		}},
		{"pong instead of a probe", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("3probe")
			a.expectClosed()
			stillPolling(t, sc, c, s)
		}},
		{"binary frame during the probe", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("2probe")
			if got := a.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			a.writeBinary([]byte("2probe"))
			a.expectClosed()
			stillPolling(t, sc, c, s)
		}},
		{"malformed frame during the probe", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("")
			a.expectClosed()
			stillPolling(t, sc, c, s)
		}},
		{"prober vanishes after the probe", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			a.write("2probe")
			if got := a.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			a.close()
			stillPolling(t, sc, c, s)
			// And the session can still upgrade.
			b := probe(t, sc, c, s)
			defer b.close()
			b.write("2probe")
			if got := b.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			finish(t, sc, b, s)
		}},
		{"upgrade of an upgraded session", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			finish(t, sc, a, s)
			b := sc.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			b.tryWrite("2probe")
			b.expectClosed()
			b.close()
			wsEcho(t, a, "still upgraded")
		}},
		{"upgrade with another protocol revision", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			expectRefusedWS(t, sc.env, "EIO=3&transport=websocket&sid="+c.sid, "Bad request")
			stillPolling(t, sc, c, s)
		}},
		{"upgrade named polling", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			// The reference upgrades, then closes; Duplex refuses at once.
			expectRefusedWS(t, sc.env, "EIO=4&transport=polling&sid="+c.sid, "Transport unknown")
			stillPolling(t, sc, c, s)
		}},
		{"upgrade to an unknown session", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			expectRefusedWS(t, sc.env, "EIO=4&transport=websocket&sid=nope", "Session ID unknown")
			stillPolling(t, sc, c, s)
		}},
		{"upgrade with upgrades disabled", Options{DisableUpgrades: true}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := sc.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			a.tryWrite("2probe")
			a.expectClosed()
			a.close()
			stillPolling(t, sc, c, s)
		}},
		{"upgrade with the session closing", Options{}, func(t *testing.T, sc *scene, c *pollClient, s *Session) {
			a := probe(t, sc, c, s)
			defer a.close()
			a.write("2probe")
			if got := a.readText(); got != "3probe" {
				t.Fatalf("probe answer %q", got)
			}
			c.post("1")
			sc.rec.expectClose(t, s, ReasonTransportClose)
			a.tryWrite("5")
			a.expectClosed()
			sc.expectGone(t, c.sid)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			sc := newScene(t, &tt.opts)
			defer sc.close()
			c, _, s := sc.handshake()
			tt.run(t, sc, c, s)
			sc.checkBystanders(t)
		})
	}
}

// TestHostileWebSocketSessionUpgrade: a WebSocket that names the sid of a
// session opened over WebSocket is closed at once; the session goes on.
// (The reference answers its probe, and would let it take the session.)
func TestHostileWebSocketSessionUpgrade(t *testing.T) {
	defer leakcheck.Check(t)()
	sc := newScene(t, nil)
	defer sc.close()
	w, _, s := sc.wsHandshake()
	defer w.close()
	b := sc.mustDialWS("EIO=4&transport=websocket&sid=" + s.ID())
	b.tryWrite("2probe")
	b.expectClosed()
	b.close()
	b = sc.mustDialWS("EIO=4&transport=websocket&sid=" + s.ID())
	b.tryWrite("5")
	b.expectClosed()
	b.close()
	wsEcho(t, w, "still mine")
	if n := sc.rec.closeCount(s); n != 0 {
		t.Fatal("session closed")
	}
	sc.checkBystanders(t)
}

// TestHostileConcurrent runs attacks from many clients at once while the
// bystanders talk: each offender gets its own close, nobody else's.
func TestHostileConcurrent(t *testing.T) {
	defer leakcheck.Check(t)()
	sc := newScene(t, &Options{MaxHTTPBufferSize: 1000})
	defer sc.close()

	// Each attack opens its own session and returns its sid and the reason
	// it must close with.
	type attack func() (sid string, reason Reason, err error)
	pollAttack := func(body string, reason Reason) attack {
		return func() (string, Reason, error) {
			res, err := sc.do("GET", "EIO=4&transport=polling", nil, nil)
			if err != nil || res.status != 200 {
				return "", "", fmt.Errorf("handshake: %v %d", err, res.status)
			}
			sid, err := sidOf(res.body)
			if err != nil {
				return "", "", err
			}
			res, err = sc.do("POST", "EIO=4&transport=polling&sid="+sid, strings.NewReader(body), nil)
			if err != nil || res.status != 200 {
				return "", "", fmt.Errorf("POST: %v %d", err, res.status)
			}
			return sid, reason, nil
		}
	}
	wsAttack := func(frame string, reason Reason) attack {
		return func() (string, Reason, error) {
			conn, _, err := websocket.DefaultDialer.Dial(sc.wsBase+"?EIO=4&transport=websocket", nil)
			if err != nil {
				return "", "", err
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
			_, open, err := conn.ReadMessage()
			if err != nil {
				return "", "", err
			}
			sid, err := sidOf(string(open))
			if err != nil {
				return "", "", err
			}
			if err := conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
				return "", "", err
			}
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
						return "", "", fmt.Errorf("%s: connection still open", frame)
					}
					return sid, reason, nil
				}
			}
		}
	}
	attacks := []attack{
		pollAttack("9x", ReasonParseError),
		pollAttack("", ReasonParseError),
		pollAttack("b!!", ReasonParseError),
		pollAttack("2", ReasonTransportError),
		pollAttack("4a\x1e1", ReasonTransportClose),
		wsAttack("9x", ReasonParseError),
		wsAttack("", ReasonParseError),
		wsAttack("2", ReasonTransportError),
		wsAttack("4"+strings.Repeat("a", 2000), ReasonTransportError),
		wsAttack("1", ReasonTransportClose),
	}
	const rounds = 4
	type outcome struct {
		sid    string
		reason Reason
		err    error
	}
	outcomes := make(chan outcome, rounds*len(attacks))
	var wg sync.WaitGroup
	for range rounds {
		for _, a := range attacks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sid, reason, err := a()
				outcomes <- outcome{sid, reason, err}
			}()
		}
	}
	// The bystanders talk meanwhile.
	for i := range 5 {
		wsEcho(t, sc.wsVictim, fmt.Sprintf("during %d", i))
		pollEcho(t, sc.pollVictim, fmt.Sprintf("during %d", i))
	}
	wg.Wait()
	close(outcomes)
	want := map[string]Reason{}
	for o := range outcomes {
		if o.err != nil {
			t.Fatal(o.err)
		}
		want[o.sid] = o.reason
	}
	got := map[string]Reason{}
	for len(got) < len(want) {
		ev := recv(t, sc.rec.closes, "OnClose")
		got[ev.s.ID()] = ev.reason
	}
	for sid, reason := range want {
		if got[sid] != reason {
			t.Errorf("session %s closed with %q, want %q", sid, got[sid], reason)
		}
	}
	if n := sc.srv.SessionCount(); n != 2 {
		t.Errorf("%d sessions open, want the 2 bystanders", n)
	}
	sc.checkBystanders(t)
}

// sidOf reads the sid of an open packet.
func sidOf(open string) (string, error) {
	var hd handshakeData
	if !strings.HasPrefix(open, "0") {
		return "", fmt.Errorf("not an open packet: %q", open)
	}
	if err := json.Unmarshal([]byte(open[1:]), &hd); err != nil {
		return "", err
	}
	return hd.SID, nil
}
