package engineio

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/gorilla/websocket"
)

func TestErrorCodeTable(t *testing.T) {
	tests := []struct {
		code    ErrorCode
		message string
		status  int
	}{
		{CodeUnknownTransport, "Transport unknown", 400},
		{CodeUnknownSID, "Session ID unknown", 400},
		{CodeBadHandshakeMethod, "Bad handshake method", 400},
		{CodeBadRequest, "Bad request", 400},
		{CodeForbidden, "Forbidden", 403},
		{CodeUnsupportedProtocolVersion, "Unsupported protocol version", 400},
	}
	for i, tt := range tests {
		if int(tt.code) != i || tt.code.String() != tt.message || tt.code.Status() != tt.status {
			t.Errorf("code %d: %q %d, want %q %d", int(tt.code), tt.code.String(), tt.code.Status(), tt.message, tt.status)
		}
	}
	if got := ErrorCode(9).String(); got != "ErrorCode(9)" {
		t.Errorf("ErrorCode(9).String() = %q", got)
	}
}

// TestHTTPErrors checks each refused request's status and exact JSON body,
// as the reference server answers them.
func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		name   string
		opts   *Options
		method string
		query  string
		header http.Header
		status int
		body   string
	}{
		{"unknown transport", nil, "GET", "EIO=4&transport=foo", nil,
			400, `{"code":0,"message":"Transport unknown"}`},
		{"no transport", nil, "GET", "EIO=4", nil,
			400, `{"code":0,"message":"Transport unknown"}`},
		{"transport not enabled", &Options{Transports: []Transport{TransportWebSocket}}, "GET", "EIO=4&transport=polling", nil,
			400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid GET", nil, "GET", "EIO=4&transport=polling&sid=nope", nil,
			400, `{"code":1,"message":"Session ID unknown"}`},
		{"unknown sid POST", nil, "POST", "EIO=4&transport=polling&sid=nope", nil,
			400, `{"code":1,"message":"Session ID unknown"}`},
		{"POST handshake", nil, "POST", "EIO=4&transport=polling", nil,
			400, `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", nil, "PUT", "EIO=4&transport=polling", nil,
			400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", nil, "GET", "EIO=4&transport=websocket", nil,
			400, `{"code":3,"message":"Bad request"}`},
		{"invalid origin", nil, "GET", "EIO=4&transport=polling", http.Header{"Origin": {"http://a\x01b"}},
			400, `{"code":3,"message":"Bad request"}`},
		{"forbidden", &Options{AllowRequest: func(*http.Request) error { return errors.New("nope") }}, "GET", "EIO=4&transport=polling", nil,
			403, `{"code":4,"message":"nope"}`},
		{"forbidden without text", &Options{AllowRequest: func(*http.Request) error { return errors.New("") }}, "GET", "EIO=4&transport=polling", nil,
			403, `{"code":4,"message":"Forbidden"}`},
		{"EIO=3 refused", nil, "GET", "EIO=3&transport=polling", nil,
			400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no EIO", nil, "GET", "transport=polling", nil,
			400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO=5", nil, "GET", "EIO=5&transport=polling", nil,
			400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"id generation fails", &Options{GenerateID: func(*http.Request) (string, error) { return "", errors.New("no") }}, "GET", "EIO=4&transport=polling", nil,
			400, `{"code":3,"message":"Bad request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []*RequestError
			opts := &Options{}
			if tt.opts != nil {
				*opts = *tt.opts
			}
			opts.OnError = func(e *RequestError) { seen = append(seen, e) }
			srv := NewServer(HandlerFunc(func(c Conn) SessionHandler {
				t.Errorf("session %s opened", c.ID())
				return nil
			}), opts)
			req := httptest.NewRequest(tt.method, "/engine.io/?"+tt.query, nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("got %d %s, want %d %s", w.Code, w.Body, tt.status, tt.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if len(seen) != 1 || int(seen[0].Code.Status()) != tt.status || !strings.Contains(tt.body, `"message":"`+seen[0].Message+`"`) {
				t.Errorf("OnError calls %+v", seen)
			} else if seen[0].Request == nil || seen[0].Error() != "engineio: "+seen[0].Message {
				t.Errorf("RequestError %+v, Error() %q", seen[0], seen[0].Error())
			}
		})
	}
}

func TestOutsidePathIs404(t *testing.T) {
	srv := NewServer(nopHandler, &Options{Path: "/socket.io"})
	if got := srv.Options().Path; got != "/socket.io/" {
		t.Errorf("Path %q", got)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/other/?EIO=4&transport=polling", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("status %d", w.Code)
	}
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil))
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "0{") {
		t.Errorf("handshake: %d %q", w.Code, w.Body)
	}
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSessionErrors checks the errors that need an open session: a
// transport or protocol that does not match the session's.
func TestSessionErrors(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	for _, tt := range []struct {
		method, query, body string
	}{
		{"GET", "EIO=4&transport=websocket&sid=" + c.sid, `{"code":3,"message":"Bad request"}`},
		{"GET", "EIO=3&transport=polling&sid=" + c.sid, `{"code":3,"message":"Bad request"}`},
		{"POST", "transport=polling&sid=" + c.sid, `{"code":3,"message":"Bad request"}`},
	} {
		res := e.mustDo(tt.method, tt.query, "", nil)
		if res.status != 400 || res.body != tt.body {
			t.Errorf("%s ?%s: %d %s, want 400 %s", tt.method, tt.query, res.status, res.body, tt.body)
		}
	}
	// None of these touched the session.
	if err := s.Send(textMsg("still"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(c.mustGet()); got != "4still" {
		t.Errorf("poll: %q", got)
	}
	// A method other than GET and POST on a session.
	res := e.mustDo("PUT", c.query(), "", nil)
	if res.status != http.StatusInternalServerError {
		t.Errorf("PUT: %d", res.status)
	}
}

// TestWebSocketHandshakeErrors checks that a refused WebSocket handshake
// gets a plain-text 400 with the code's message, as with the reference.
func TestWebSocketHandshakeErrors(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{
		AllowRequest: func(r *http.Request) error {
			if r.URL.Query().Get("deny") != "" {
				return errors.New("denied here")
			}
			return nil
		},
	})
	defer e.close()
	for _, tt := range []struct{ query, body string }{
		{"EIO=4&transport=websocket&sid=nope", "Session ID unknown"},
		{"EIO=4&transport=foo", "Transport unknown"},
		{"EIO=4&transport=polling", "Transport unknown"},
		{"EIO=3&transport=websocket", "Unsupported protocol version"},
		{"EIO=4&transport=websocket&deny=1", "denied here"},
	} {
		_, res, err := e.dialWS(tt.query)
		if !errors.Is(err, websocket.ErrBadHandshake) || res == nil {
			t.Errorf("?%s: err %v", tt.query, err)
			continue
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || string(body) != tt.body || res.Header.Get("Content-Type") != "text/html" {
			t.Errorf("?%s: %d %q %q, want 400 %q", tt.query, res.StatusCode, res.Header.Get("Content-Type"), body, tt.body)
		}
	}
	if n := e.srv.SessionCount(); n != 0 {
		t.Errorf("%d sessions", n)
	}
}
