package engineio

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/gorilla/websocket"
)

var defaultID = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

func TestPollingHandshake(t *testing.T) {
	defer leakcheck.Check(t)()
	rec := newRecorder(false)
	seen := make(chan string, 1)
	rec.onOpen = func(c Conn) {
		r := c.Request()
		seen <- r.URL.Query().Get("EIO") + " " + r.Header.Get("Host") + " " + r.RemoteAddr
	}
	e := newEnv(t, rec, nil)
	defer e.close()

	res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if sc := res.header.Get("Set-Cookie"); sc != "" {
		t.Errorf("cookie without the option: %q", sc)
	}
	hd := parseOpen(t, res.body)
	want := handshakeData{SID: hd.SID, Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}
	if !defaultID.MatchString(hd.SID) || !slices.Equal(hd.Upgrades, want.Upgrades) ||
		hd.PingInterval != want.PingInterval || hd.PingTimeout != want.PingTimeout || hd.MaxPayload != want.MaxPayload {
		t.Errorf("open packet %+v, want %+v", hd, want)
	}
	// The exact bytes, field order included.
	wantBody := `0{"sid":"` + hd.SID + `","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if res.body != wantBody {
		t.Errorf("body %q, want %q", res.body, wantBody)
	}
	s := recv(t, e.rec.opens, "OnOpen")
	if s.ID() != hd.SID || s.Transport() != TransportPolling || s.Protocol() != 4 {
		t.Errorf("session %s %s %d", s.ID(), s.Transport(), s.Protocol())
	}
	if e.srv.Session(hd.SID) != s || e.srv.SessionCount() != 1 {
		t.Errorf("server does not list the session")
	}
	// The request is there during OnOpen (with its Host header), and let go after.
	host := strings.TrimPrefix(e.ts.URL, "http://")
	if got := recv(t, seen, "the request in OnOpen"); !strings.HasPrefix(got, "4 "+host+" 127.0.0.1:") {
		t.Errorf("in OnOpen: EIO, Host and RemoteAddr %q", got)
	}
	if r := s.Request(); r != nil {
		t.Errorf("the request is kept after OnOpen: %v", r.URL)
	}
	// The handler OnOpen returned gets the session's messages: it can keep
	// the session's state in its closure, as the recorder keeps s.
	c := &pollClient{e: e, sid: hd.SID, eio: "4"}
	c.post("4x")
	if m := recv(t, e.rec.msgs, "message"); m.s != s || m.data != "x" {
		t.Errorf("message %+v, want x for session %s", m, s.ID())
	}

	// A second handshake is a second session with another id.
	_, hd2, _ := e.handshake()
	if hd2.SID == hd.SID {
		t.Errorf("same sid twice: %s", hd.SID)
	}
}

func TestHandshakeOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // the open packet without the sid
	}{
		{"timings", Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxHTTPBufferSize: 5000},
			`"upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":5000}`},
		{"upgrades disabled", Options{DisableUpgrades: true},
			`"upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"polling only", Options{Transports: []Transport{TransportPolling}},
			`"upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(nopHandler, &tt.opts)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil))
			_, rest, ok := strings.Cut(w.Body.String(), `",`)
			if w.Code != 200 || !ok || rest != tt.want {
				t.Errorf("got %d %q, want %q", w.Code, w.Body, tt.want)
			}
			ctx, cancel := contextWithTimeout()
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWebSocketHandshake(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{PingInterval: time.Minute})
	defer e.close()
	c, hd, s := e.wsHandshake()
	defer c.close()
	if !defaultID.MatchString(hd.SID) || len(hd.Upgrades) != 0 || hd.PingInterval != 60000 || hd.PingTimeout != 20000 || hd.MaxPayload != 1e6 {
		t.Errorf("open packet %+v", hd)
	}
	if s.Transport() != TransportWebSocket {
		t.Errorf("transport %q", s.Transport())
	}
	c.write("4hello")
	if m := recv(t, e.rec.msgs, "message"); m.data != "hello" || m.binary || m.s != s {
		t.Errorf("message %+v", m)
	}
	if got := c.readText(); got != "4hello" {
		t.Errorf("echo %q", got)
	}
}

func TestGenerateID(t *testing.T) {
	defer leakcheck.Check(t)()
	var n atomic.Int32
	e := newEnv(t, newRecorder(false), &Options{
		GenerateID: func(r *http.Request) (string, error) {
			if r.URL.Query().Get("EIO") != "4" {
				return "", errors.New("no request")
			}
			i := n.Add(1)
			if i > 2 {
				return "same", nil
			}
			return "custom-" + strconv.Itoa(int(i)), nil
		},
	})
	defer e.close()
	_, hd, _ := e.handshake()
	if hd.SID != "custom-1" {
		t.Errorf("sid %q", hd.SID)
	}
	c, hd, _ := e.wsHandshake()
	c.close()
	if hd.SID != "custom-2" {
		t.Errorf("sid %q", hd.SID)
	}
	recv(t, e.rec.closes, "close of the WebSocket session")
	_, hd, _ = e.handshake()
	if hd.SID != "same" {
		t.Errorf("sid %q", hd.SID)
	}
	// An id already in use is refused rather than given twice.
	res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
	if res.status != 400 || res.body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("duplicate id: %d %s", res.status, res.body)
	}
}

func TestCookie(t *testing.T) {
	tests := []struct {
		name string
		opts CookieOptions
		want string // with SID for the session id
	}{
		{"defaults", CookieOptions{}, "io=SID; Path=/; HttpOnly; SameSite=Lax"},
		{"custom", CookieOptions{Name: "eio", Path: "/app", Domain: "example.com", MaxAge: 60, Secure: true, SameSite: http.SameSiteStrictMode, DisableHTTPOnly: true},
			"eio=SID; Path=/app; Domain=example.com; Max-Age=60; Secure; SameSite=Strict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			e := newEnv(t, newRecorder(false), &Options{Cookie: &tt.opts})
			defer e.close()
			res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
			hd := parseOpen(t, res.body)
			if got, want := res.header.Values("Set-Cookie"), strings.ReplaceAll(tt.want, "SID", hd.SID); len(got) != 1 || got[0] != want {
				t.Errorf("polling Set-Cookie %q, want %q", got, want)
			}
			recv(t, e.rec.opens, "OnOpen")
			// Only the handshake sets the cookie.
			c := &pollClient{e: e, sid: hd.SID, eio: "4"}
			res = e.mustDo("POST", c.query(), "4x", nil)
			if got := res.header.Values("Set-Cookie"); len(got) != 0 {
				t.Errorf("POST sets a cookie: %q", got)
			}

			conn, wres, err := e.dialWS("EIO=4&transport=websocket")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.close()
			hd = parseOpen(t, conn.readText())
			if got, want := wres.Header.Values("Set-Cookie"), strings.ReplaceAll(tt.want, "SID", hd.SID); len(got) != 1 || got[0] != want {
				t.Errorf("websocket Set-Cookie %q, want %q", got, want)
			}
			recv(t, e.rec.opens, "OnOpen")
		})
	}
}

func TestCORS(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{CORS: &CORSOptions{
		Origins:     []string{"http://a.example"},
		Credentials: true,
	}})
	defer e.close()

	// An allowed origin is echoed, with credentials.
	res := e.mustDo("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"http://a.example"}})
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "http://a.example" ||
		res.header.Get("Access-Control-Allow-Credentials") != "true" || res.header.Get("Vary") != "Origin" {
		t.Errorf("allowed origin: %d %v", res.status, res.header)
	}
	hd := parseOpen(t, res.body)
	recv(t, e.rec.opens, "OnOpen")

	// Another origin gets no Allow-Origin; the request itself goes on, as
	// with the reference's cors middleware (the browser enforces CORS).
	res = e.mustDo("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"http://b.example"}})
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %d %v", res.status, res.header)
	}
	recv(t, e.rec.opens, "OnOpen")

	// Preflight.
	res = e.mustDo("OPTIONS", "EIO=4&transport=polling&sid="+hd.SID, "", http.Header{
		"Origin":                         {"http://a.example"},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"x-foo"},
	})
	h := res.header
	if res.status != 204 || res.body != "" || h.Get("Access-Control-Allow-Origin") != "http://a.example" ||
		h.Get("Access-Control-Allow-Methods") != "GET,HEAD,PUT,PATCH,POST,DELETE" ||
		h.Get("Access-Control-Allow-Headers") != "x-foo" || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!slices.Equal(h.Values("Vary"), []string{"Origin", "Access-Control-Request-Headers"}) {
		t.Errorf("preflight: %d %q %v", res.status, res.body, h)
	}
	// Errors carry the CORS headers too, so the page can read them.
	res = e.mustDo("GET", "EIO=4&transport=polling&sid=nope", "", http.Header{"Origin": {"http://a.example"}})
	if res.status != 400 || res.header.Get("Access-Control-Allow-Origin") != "http://a.example" {
		t.Errorf("error: %d %v", res.status, res.header)
	}
}

func TestCORSOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   CORSOptions
		origin string
		method string
		want   map[string]string // "" means absent
	}{
		{"star", CORSOptions{Origins: []string{"*"}}, "http://x.example", "GET",
			map[string]string{"Access-Control-Allow-Origin": "*", "Vary": "", "Access-Control-Allow-Credentials": ""}},
		{"function allows", CORSOptions{AllowOrigin: func(o string, _ *http.Request) bool { return strings.HasSuffix(o, ".example") }}, "http://x.example", "GET",
			map[string]string{"Access-Control-Allow-Origin": "http://x.example", "Vary": "Origin"}},
		{"function refuses", CORSOptions{AllowOrigin: func(o string, _ *http.Request) bool { return false }}, "http://x.example", "GET",
			map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"exposed", CORSOptions{Origins: []string{"*"}, ExposedHeaders: []string{"X-A", "X-B"}}, "http://x.example", "GET",
			map[string]string{"Access-Control-Expose-Headers": "X-A,X-B", "Access-Control-Allow-Methods": ""}},
		{"preflight options", CORSOptions{Origins: []string{"*"}, Methods: []string{"GET", "POST"}, AllowedHeaders: []string{"X-A"}, MaxAge: 10 * time.Minute}, "http://x.example", "OPTIONS",
			map[string]string{"Access-Control-Allow-Methods": "GET,POST", "Access-Control-Allow-Headers": "X-A", "Access-Control-Max-Age": "600"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(nopHandler, &Options{CORS: &tt.opts})
			req := httptest.NewRequest(tt.method, "/engine.io/?EIO=4&transport=polling&sid=nope", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Headers", "x-requested")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			for k, v := range tt.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			wantStatus := 400
			if tt.method == "OPTIONS" {
				wantStatus = 204
			}
			if w.Code != wantStatus {
				t.Errorf("status %d, want %d", w.Code, wantStatus)
			}
		})
	}
	c := &CORSOptions{Origins: []string{"http://a.example"}}
	for origin, want := range map[string]bool{"": true, "http://a.example": true, "http://b.example": false} {
		r := httptest.NewRequest("GET", "/", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := c.Allows(r); got != want {
			t.Errorf("Allows(%q) = %v", origin, got)
		}
	}
}

func TestAllowRequest(t *testing.T) {
	defer leakcheck.Check(t)()
	var calls atomic.Int32
	e := newEnv(t, newRecorder(false), &Options{
		AllowRequest: func(r *http.Request) error {
			calls.Add(1)
			if r.Header.Get("Authorization") != "Bearer ok" {
				return errors.New("unauthorized")
			}
			return nil
		},
	})
	defer e.close()
	res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
	if res.status != 403 || res.body != `{"code":4,"message":"unauthorized"}` {
		t.Errorf("refused: %d %s", res.status, res.body)
	}
	res = e.mustDo("GET", "EIO=4&transport=polling", "", http.Header{"Authorization": {"Bearer ok"}})
	if res.status != 200 {
		t.Fatalf("allowed: %d %s", res.status, res.body)
	}
	hd := parseOpen(t, res.body)
	recv(t, e.rec.opens, "OnOpen")
	// Only handshakes are vetted, not the requests of an open session.
	n := calls.Load()
	c := &pollClient{e: e, sid: hd.SID, eio: "4"}
	c.post("4x")
	if calls.Load() != n {
		t.Errorf("AllowRequest called for a POST")
	}
	if n != 2 {
		t.Errorf("AllowRequest called %d times, want 2", n)
	}
}

// TestPerMessageDeflate: WebSocket compression is negotiated only when the
// option is set.
func TestPerMessageDeflate(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			defer leakcheck.Check(t)()
			opts := &Options{}
			if on {
				opts.PerMessageDeflate = &PerMessageDeflateOptions{}
			}
			e := newEnv(t, newRecorder(true), opts)
			defer e.close()
			if on && e.srv.Options().PerMessageDeflate.Threshold != 1024 {
				t.Errorf("threshold %d", e.srv.Options().PerMessageDeflate.Threshold)
			}
			dialer := *websocket.DefaultDialer
			dialer.EnableCompression = true
			conn, res, err := dialer.Dial(e.wsBase+"?EIO=4&transport=websocket", nil)
			if err != nil {
				t.Fatal(err)
			}
			c := &wsClient{t: t, conn: conn}
			defer c.close()
			ext := res.Header.Get("Sec-WebSocket-Extensions")
			if strings.Contains(ext, "permessage-deflate") != on {
				t.Errorf("extensions %q", ext)
			}
			parseOpen(t, c.readText())
			recv(t, e.rec.opens, "OnOpen")
			big := "4" + strings.Repeat("deflate ", 300)
			c.write(big)
			if got := c.readText(); got != big {
				t.Errorf("echo of %d bytes", len(got))
			}
		})
	}
}
