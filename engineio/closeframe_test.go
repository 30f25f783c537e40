package engineio

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/gorilla/websocket"
)

// closeCode reads c until its connection ends and returns the close code
// the client sees: the code of the server's close frame, 1005 for one
// without a code, 1006 for a connection that ended without a frame.
func closeCode(t *testing.T, c *wsClient) int {
	t.Helper()
	for {
		_, _, err := c.read()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Fatalf("ws connection still open: %v", err)
		}
		return websocket.CloseAbnormalClosure
	}
}

// TestCloseFrameCodes: however the server ends a WebSocket session, the
// client gets a close frame with the code the reference's WebSocket
// library sends: none (1005) when the server closes, 1009 for a message
// too large, 1007 for text that is not UTF-8, the client's own code when
// it closed first; never a connection dropped without a frame (1006).
func TestCloseFrameCodes(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		act    func(t *testing.T, c *wsClient, s *Session)
		reason Reason
		code   int
	}{
		{"client close frame", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			msg := websocket.FormatCloseMessage(4001, "")
			if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}, ReasonTransportClose, 4001},
		{"close packet", Options{}, func(t *testing.T, c *wsClient, s *Session) { c.write("1") }, ReasonTransportClose, websocket.CloseNoStatusReceived},
		{"parse error", Options{}, func(t *testing.T, c *wsClient, s *Session) { c.write("x") }, ReasonParseError, websocket.CloseNoStatusReceived},
		{"ping from a v4 client", Options{}, func(t *testing.T, c *wsClient, s *Session) { c.write("2") }, ReasonTransportError, websocket.CloseNoStatusReceived},
		{"message too large", Options{MaxHTTPBufferSize: 100}, func(t *testing.T, c *wsClient, s *Session) {
			c.write("4" + strings.Repeat("a", 200))
		}, ReasonTransportError, websocket.CloseMessageTooBig},
		{"text not UTF-8", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			// gorilla's client does not check what it sends.
			c.write("4\xff\xfe")
		}, ReasonTransportError, websocket.CloseInvalidFramePayloadData},
		{"forced close", Options{}, func(t *testing.T, c *wsClient, s *Session) { s.Close() }, ReasonForcedClose, websocket.CloseNoStatusReceived},
		{"ping timeout", Options{PingInterval: 20 * time.Millisecond, PingTimeout: 20 * time.Millisecond}, func(t *testing.T, c *wsClient, s *Session) {}, ReasonPingTimeout, websocket.CloseNoStatusReceived},
		{"shutdown", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			ctx, cancel := contextWithTimeout()
			defer cancel()
			if err := s.srv.Shutdown(ctx); err != nil {
				t.Error(err)
			}
		}, ReasonServerShutdown, websocket.CloseNoStatusReceived},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			e := newEnv(t, newRecorder(false), &tt.opts)
			defer e.close()
			c, _, s := e.wsHandshake()
			defer c.close()
			tt.act(t, c, s)
			if code := closeCode(t, c); code != tt.code {
				t.Errorf("close code %d, want %d", code, tt.code)
			}
			e.rec.expectClose(t, s, tt.reason)
		})
	}
}

// TestCloseFrameCodesUpgrade: a WebSocket whose upgrade the server drops
// gets a close frame too, as the reference's does: refused (an upgrade
// under way already, or done), a packet other than the upgrade's, an
// invalid packet, the upgrade timing out, the session closing meanwhile;
// and 1009 for a message too large. The session stays on polling, but
// where it closed.
func TestCloseFrameCodesUpgrade(t *testing.T) {
	probe := func(t *testing.T, ws *wsClient) {
		t.Helper()
		ws.write("2probe")
		if got := ws.readText(); got != "3probe" {
			t.Fatalf("probe answer %q", got)
		}
	}
	tests := []struct {
		name string
		opts Options
		// act runs the failing upgrade: it returns the WebSocket whose
		// close is checked.
		act  func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient
		code int
	}{
		{"upgrade under way", Options{}, func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
			first := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			t.Cleanup(first.close)
			probe(t, first)
			return e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
		}, websocket.CloseNoStatusReceived},
		{"upgraded already", Options{}, func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
			first := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			t.Cleanup(first.close)
			probe(t, first)
			first.write("5")
			waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })
			return e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
		}, websocket.CloseNoStatusReceived},
		{"message instead of the upgrade", Options{}, func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
			ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			probe(t, ws)
			ws.write("4hello")
			return ws
		}, websocket.CloseNoStatusReceived},
		{"invalid packet", Options{}, func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
			ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			ws.write("x")
			return ws
		}, websocket.CloseNoStatusReceived},
		{"upgrade timeout", Options{UpgradeTimeout: 50 * time.Millisecond}, func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
			ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			probe(t, ws)
			return ws
		}, websocket.CloseNoStatusReceived},
		{"session closed", Options{}, func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
			ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			probe(t, ws)
			c.post("1")
			e.rec.expectClose(t, s, ReasonTransportClose)
			return ws
		}, websocket.CloseNoStatusReceived},
		{"message too large", Options{MaxHTTPBufferSize: 100}, func(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
			ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
			ws.write("4" + strings.Repeat("a", 200))
			return ws
		}, websocket.CloseMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			e := newEnv(t, newRecorder(false), &tt.opts)
			defer e.close()
			c, _, s := e.handshake()
			ws := tt.act(t, e, c, s)
			defer ws.close()
			if code := closeCode(t, ws); code != tt.code {
				t.Errorf("close code %d, want %d", code, tt.code)
			}
		})
	}
}

// TestCloseFrameRefusedHandshake: a WebSocket handshake whose session
// cannot be registered (its id taken) is closed with a close frame.
func TestCloseFrameRefusedHandshake(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{GenerateID: func(*http.Request) (string, error) { return "same", nil }})
	defer e.close()
	first, _, s := e.wsHandshake()
	defer first.close()
	second := e.mustDialWS("EIO=4&transport=websocket")
	defer second.close()
	if code := closeCode(t, second); code != websocket.CloseNoStatusReceived {
		t.Errorf("close code %d, want 1005", code)
	}
	first.close()
	e.rec.expectClose(t, s, ReasonTransportClose)
}
