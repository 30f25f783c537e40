package engineio

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// hookOptions sets the session cookie and one cookie in each header hook:
// "initial=<transport>" in InitialHeaders, "every=<method>" in Headers
// (with "+sid" when the request names a session).
func hookOptions() *Options {
	return &Options{
		Cookie: &CookieOptions{},
		InitialHeaders: func(h http.Header, r *http.Request) {
			h.Add("Set-Cookie", "initial="+r.URL.Query().Get("transport"))
		},
		Headers: func(h http.Header, r *http.Request) {
			v := "every=" + r.Method
			if r.URL.Query().Get("sid") != "" {
				v += "+sid"
			}
			h.Add("Set-Cookie", v)
		},
	}
}

// expectCookies checks the Set-Cookie headers of a response, the session
// cookie's value cut to its name.
func expectCookies(t *testing.T, what string, h http.Header, want ...string) {
	t.Helper()
	var got []string
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, "io=") {
			c = "io"
		}
		got = append(got, c)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: Set-Cookie %q, want %q", what, got, want)
	}
}

// TestHeaderHooksPolling: InitialHeaders changes the handshake's headers,
// after the session cookie, and Headers those of every polling answer,
// the handshake's last; a GET held out of net/http keeps them. Refusals
// get neither.
func TestHeaderHooksPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	holdPollsAt(t, 50*time.Millisecond)
	e := newEnv(t, newRecorder(false), hookOptions())
	defer e.close()

	res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
	expectCookies(t, "handshake", res.header, "io", "initial=polling", "every=GET")
	hd := parseOpen(t, res.body)
	s := recv(t, e.rec.opens, "OnOpen")
	c := &pollClient{e: e, sid: hd.SID, eio: "4"}

	if err := s.Send(textMsg("a"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := c.get()
	if err != nil || r.body != "4a" {
		t.Fatalf("poll: %q %v", r.body, err)
	}
	expectCookies(t, "poll", r.header, "every=GET+sid")

	held := c.asyncGet()
	waitFor(t, "the poll held", s.heldForTest)
	if err := s.Send(textMsg("b"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	hr := recv(t, held, "held poll")
	if hr.err != nil || hr.res.body != "4b" {
		t.Fatalf("held poll: %q %v", hr.res.body, hr.err)
	}
	expectCookies(t, "held poll", hr.res.header, "every=GET+sid")

	r = e.mustDo("POST", c.query(), "4x", nil)
	expectCookies(t, "post", r.header, "every=POST+sid")
	recv(t, e.rec.msgs, "message")

	// Refused: a payload too large, an unknown session, a bad handshake.
	r = e.mustDo("POST", c.query(), "4"+strings.Repeat("x", 1e6), nil)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("large post: %d", r.status)
	}
	expectCookies(t, "413", r.header)
	r = e.mustDo("GET", "EIO=4&transport=polling&sid=nope", "", nil)
	expectCookies(t, "unknown sid", r.header)
	r = e.mustDo("GET", "EIO=4&transport=nope", "", nil)
	expectCookies(t, "unknown transport", r.header)

	c.post("1")
	e.rec.expectClose(t, s, ReasonTransportClose)
}

// TestHeaderHooksWebSocket: the same hooks over WebSocket: a WebSocket
// handshake gets both, an upgrade Headers only.
func TestHeaderHooksWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), hookOptions())
	defer e.close()

	ws, res, err := e.dialWS("EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	expectCookies(t, "WebSocket handshake", res.Header, "io", "initial=websocket", "every=GET")
	s := recv(t, e.rec.opens, "OnOpen")
	ws.close()
	e.rec.expectClose(t, s, ReasonTransportClose)

	c, _, s := e.handshake()
	up, res, err := e.dialWS("EIO=4&transport=websocket&sid=" + c.sid)
	if err != nil {
		t.Fatal(err)
	}
	expectCookies(t, "upgrade", res.Header, "every=GET+sid")
	up.write("2probe")
	if got := up.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	up.write("5")
	waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })
	up.close()
	e.rec.expectClose(t, s, ReasonTransportClose)
}

// TestUpgradeListeners: OnUpgrading is told when the probe is answered,
// OnUpgrade when the session has moved (Transport says so already); a
// failed upgrade tells OnUpgrading only, and a session opened over
// WebSocket tells neither.
func TestUpgradeListeners(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()

	listen := func(s *Session) (upgrading, upgraded chan Transport) {
		upgrading, upgraded = make(chan Transport, 4), make(chan Transport, 4)
		s.OnUpgrading(func(tr Transport) { upgrading <- tr })
		s.OnUpgrade(func(tr Transport) {
			if s.Transport() != tr {
				t.Errorf("Transport() %v in OnUpgrade(%v)", s.Transport(), tr)
			}
			upgraded <- tr
		})
		return upgrading, upgraded
	}

	// An upgrade that fails, then one that succeeds.
	c, _, s := e.handshake()
	upgrading, upgraded := listen(s)
	bad := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	bad.write("2probe")
	if got := bad.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	if tr := recv(t, upgrading, "OnUpgrading"); tr != TransportWebSocket {
		t.Errorf("OnUpgrading(%v)", tr)
	}
	bad.write("4not an upgrade")
	bad.expectClosed()
	bad.close()
	noRecv(t, upgraded, 20*time.Millisecond, "OnUpgrade of a failed upgrade")

	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	defer ws.close()
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	recv(t, upgrading, "OnUpgrading")
	noRecv(t, upgraded, 20*time.Millisecond, "OnUpgrade before the upgrade packet")
	ws.write("5")
	if tr := recv(t, upgraded, "OnUpgrade"); tr != TransportWebSocket {
		t.Errorf("OnUpgrade(%v)", tr)
	}
	ws.close()
	e.rec.expectClose(t, s, ReasonTransportClose)

	// Opened over WebSocket: nothing to tell.
	w, _, s2 := e.wsHandshake()
	upgrading, upgraded = listen(s2)
	w.write("4hi")
	recv(t, e.rec.msgs, "message")
	w.close()
	e.rec.expectClose(t, s2, ReasonTransportClose)
	noRecv(t, upgrading, 0, "OnUpgrading of a WebSocket session")
	noRecv(t, upgraded, 0, "OnUpgrade of a WebSocket session")
}

// TestHeaderHooksCluster: a request served for another node of a cluster
// gets Headers from the node that answers it: a GET, a POST, a WebSocket
// upgrade.
func TestHeaderHooksCluster(t *testing.T) {
	defer leakcheck.Check(t)()
	envs, stop := clusterEnvs(t, 2, *hookOptions())
	defer stop()
	a, b := envs[0], envs[1]
	c, _, s := a.handshake()
	cb := c.on(b)

	ch := cb.asyncGet()
	waitFor(t, "the remote poll pending", s.writableForTest)
	if err := s.Send(textMsg("hello"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	r := recv(t, ch, "poll at b")
	if r.err != nil || r.res.body != "4hello" {
		t.Fatalf("poll at b: %q %v", r.res.body, r.err)
	}
	expectCookies(t, "poll at b", r.res.header, "every=GET+sid")
	res := b.mustDo("POST", cb.query(), "4x", nil)
	expectCookies(t, "post at b", res.header, "every=POST+sid")
	recv(t, a.rec.msgs, "message at a")

	ws, up, err := b.dialWS("EIO=4&transport=websocket&sid=" + c.sid)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.close()
	expectCookies(t, "upgrade at b", up.Header, "every=GET+sid")
	ws.close()
	c.post("1")
	a.rec.expectClose(t, s, ReasonTransportClose)
}
