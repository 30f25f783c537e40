package engineio

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/gorilla/websocket"
)

func TestCloseReasonsWebSocket(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		act    func(t *testing.T, c *wsClient, s *Session)
		reason Reason
	}{
		{"client closes the connection", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			c.close()
		}, ReasonTransportClose},
		{"client sends a close frame", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}, ReasonTransportClose},
		{"client sends a close packet", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			c.write("1")
		}, ReasonTransportClose},
		{"malformed packet", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			c.write("x")
		}, ReasonParseError},
		{"empty frame", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			c.write("")
		}, ReasonParseError},
		{"bad base64", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			c.write("b!!")
		}, ReasonParseError},
		{"frame over MaxHTTPBufferSize", Options{MaxHTTPBufferSize: 100}, func(t *testing.T, c *wsClient, s *Session) {
			c.write("4" + strings.Repeat("a", 200))
		}, ReasonTransportError},
		{"ping from the client", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			c.write("2")
		}, ReasonTransportError},
		{"server closes", Options{}, func(t *testing.T, c *wsClient, s *Session) {
			s.Close()
		}, ReasonForcedClose},
		{"ping timeout", Options{PingInterval: 20 * time.Millisecond, PingTimeout: 20 * time.Millisecond}, func(t *testing.T, c *wsClient, s *Session) {
		}, ReasonPingTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			e := newEnv(t, newRecorder(false), &tt.opts)
			defer e.close()
			c, _, s := e.wsHandshake()
			defer c.close()
			tt.act(t, c, s)
			e.rec.expectClose(t, s, tt.reason)
			if n := e.srv.SessionCount(); n != 0 {
				t.Errorf("%d sessions left", n)
			}
			if e.srv.Session(s.ID()) != nil {
				t.Error("closed session still listed")
			}
			noRecv(t, e.rec.closes, 10*time.Millisecond, "second OnClose")
		})
	}
}

// TestSessionCloseWebSocket: Close sends what is queued, then a normal
// close frame.
func TestSessionCloseWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	for _, m := range []string{"a", "b", "c"} {
		if err := s.Send(textMsg(m), SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for _, want := range []string{"4a", "4b", "4c"} {
		if got := c.readText(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	_, _, err := c.read()
	if !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
		t.Errorf("read: %v, want a close frame without status, as the reference sends", err)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
}

func TestShutdown(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()

	ws, _, wsSess := e.wsHandshake()
	defer ws.close()
	if err := wsSess.Send(textMsg("queued"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	pc, _, pollSess := e.handshake()
	pending := pc.asyncGet()
	waitFor(t, "a pending poll", pollSess.writableForTest)
	_, _, idleSess := e.handshake()

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Every session is closed with the shutdown reason, once.
	got := map[*Session]Reason{}
	for range 3 {
		ev := recv(t, e.rec.closes, "OnClose")
		got[ev.s] = ev.reason
	}
	for _, s := range []*Session{wsSess, pollSess, idleSess} {
		if got[s] != ReasonServerShutdown {
			t.Errorf("session %s: %q", s.ID(), got[s])
		}
	}
	if n := e.srv.SessionCount(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	// The WebSocket client gets what was queued and a close frame; the
	// pending poll gets the close packet.
	if got := ws.readText(); got != "4queued" {
		t.Errorf("ws: %q", got)
	}
	if _, _, err := ws.read(); !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
		t.Errorf("ws read: %v", err)
	}
	if got := packetString(pollResult(t, pending)); got != "1" {
		t.Errorf("poll: %q", got)
	}
	// New requests are refused.
	res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
	if res.status != http.StatusServiceUnavailable {
		t.Errorf("handshake after Shutdown: %d %q", res.status, res.body)
	}
	if _, res, err := e.dialWS("EIO=4&transport=websocket"); err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("WebSocket after Shutdown: %v", err)
	}
	noRecv(t, e.rec.opens, 10*time.Millisecond, "session opened after Shutdown")
	if err := e.srv.Shutdown(ctx); !errors.Is(err, ErrServerClosed) {
		t.Errorf("second Shutdown: %v", err)
	}
}

// blockingRecorder is a recorder whose OnMessage blocks until release is
// closed, after saying so on entered.
func blockingRecorder() (rec *recorder, entered chan struct{}, release chan struct{}) {
	rec = newRecorder(false)
	entered = make(chan struct{}, 1)
	release = make(chan struct{})
	rec.onMsg = func(*Session, []byte, bool) {
		entered <- struct{}{}
		<-release
	}
	return rec, entered, release
}

// TestShutdownWaits: Shutdown returns only once the handlers still running
// for the server have returned.
func TestShutdownWaits(t *testing.T) {
	defer leakcheck.Check(t)()
	rec, entered, release := blockingRecorder()
	e := newEnv(t, rec, nil)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	c.write("4block")
	recv(t, entered, "OnMessage")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithTimeout()
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	e.rec.expectClose(t, s, ReasonServerShutdown)
	noRecv(t, done, 50*time.Millisecond, "Shutdown returning while a handler runs")
	close(release)
	if err := recv(t, done, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownDeadline: out of time, Shutdown returns the context's error.
func TestShutdownDeadline(t *testing.T) {
	defer leakcheck.Check(t)()
	rec, entered, release := blockingRecorder()
	e := newEnv(t, rec, nil)
	defer e.close()
	defer close(release)
	c, _, s := e.wsHandshake()
	defer c.close()
	c.write("4block")
	recv(t, entered, "OnMessage")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the context's error", err)
	}
	e.rec.expectClose(t, s, ReasonServerShutdown)
}

// TestShutdownDuringPollWrite: a poll that has taken its packets and is
// still writing them does not hold back a Shutdown's close. The session
// used to stay "closing" forever, its OnClose never called.
func TestShutdownDuringPollWrite(t *testing.T) {
	defer leakcheck.Check(t)()
	rec := newRecorder(false)
	e := newEnv(t, rec, &Options{HTTPCompression: HTTPCompressionOptions{Disable: true}, MaxQueueBytes: 64 << 20})
	defer e.close()
	c, _, s := e.handshake()
	// More than the socket buffers hold, so that the write blocks until the
	// client reads.
	big := strings.Repeat("x", 8<<20)
	if err := s.Send(textMsg(big), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := conn.Write([]byte("GET /engine.io/?" + c.query() + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poll taking its packets", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.queued == 0
	})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithTimeout()
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	// The session is closed at once, while the answer is being written.
	e.rec.expectClose(t, s, ReasonServerShutdown)
	// The client goes away; the write fails and Shutdown returns.
	conn.Close()
	if err := recv(t, done, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestCloseReasonsPolling: the reasons a polling session closes with.
func TestCloseReasonsPolling(t *testing.T) {
	tests := []struct {
		name   string
		act    func(t *testing.T, e *env, c *pollClient, s *Session)
		reason Reason
	}{
		{"close packet", func(t *testing.T, e *env, c *pollClient, s *Session) { c.post("1") }, ReasonTransportClose},
		{"parse error", func(t *testing.T, e *env, c *pollClient, s *Session) { c.post("9") }, ReasonParseError},
		{"ping from v4 client", func(t *testing.T, e *env, c *pollClient, s *Session) { c.post("2") }, ReasonTransportError},
		{"forced close", func(t *testing.T, e *env, c *pollClient, s *Session) {
			ch := c.asyncGet()
			waitFor(t, "a pending poll", s.writableForTest)
			s.Close()
			if got := packetString(pollResult(t, ch)); got != "1" {
				t.Errorf("poll %q", got)
			}
		}, ReasonForcedClose},
		{"shutdown", func(t *testing.T, e *env, c *pollClient, s *Session) {
			ctx, cancel := contextWithTimeout()
			defer cancel()
			if err := e.srv.Shutdown(ctx); err != nil {
				t.Error(err)
			}
		}, ReasonServerShutdown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			e := newEnv(t, newRecorder(false), nil)
			defer e.close()
			c, _, s := e.handshake()
			tt.act(t, e, c, s)
			e.rec.expectClose(t, s, tt.reason)
			noRecv(t, e.rec.closes, 10*time.Millisecond, "second OnClose")
		})
	}
}

// TestSendAfterClose covers the errors of Send and the packets dropped once
// a session is closed.
func TestSendAfterClose(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.wsHandshake()
	c.close()
	e.rec.expectClose(t, s, ReasonTransportClose)
	if err := s.Send(textMsg("x"), SendOptions{}); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Send: %v", err)
	}
	s.Close() // no second OnClose
	noRecv(t, e.rec.closes, 10*time.Millisecond, "second OnClose")
}

// TestForcedCloseReasonWebSocket: the client answers the server's close
// frame at once; the session's reason is still the server's.
func TestForcedCloseReasonWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	const n = 30
	sessions := make([]*Session, n)
	readers := make(chan error, n)
	for i := range sessions {
		c, _, s := e.wsHandshake()
		defer c.close()
		sessions[i] = s
		go func() { // reading, the client answers the close frame
			for {
				if _, _, err := c.read(); err != nil {
					readers <- err
					return
				}
			}
		}()
	}
	for _, s := range sessions {
		s.Close()
	}
	for range n {
		if ev := recv(t, e.rec.closes, "OnClose"); ev.reason != ReasonForcedClose {
			t.Errorf("session %s: %q", ev.s.ID(), ev.reason)
		}
		if err := recv(t, readers, "client close"); !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
			t.Errorf("client read: %v", err)
		}
	}
}

// TestClosingReasonStands: once the server is closing a session, the way
// the connection then ends does not change the reason.
func TestClosingReasonStands(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 64 << 20})
	defer e.close()
	c, _, s := e.wsHandshake()
	// The client does not read: the writer blocks on this message.
	if err := s.Send(textMsg(strings.Repeat("x", 8<<20)), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the writer taking the message", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.queued == 0 && s.sending > 0
	})
	s.Close()
	c.close() // the connection drops while the close is under way
	e.rec.expectClose(t, s, ReasonForcedClose)
}

// TestShutdownEndsClosingPoll: a polling session closing while it waits for
// the client's next poll is ended by Shutdown rather than left to its 30s
// timer.
func TestShutdownEndsClosingPoll(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	_, _, s := e.handshake()
	s.Close()
	noRecv(t, e.rec.closes, 10*time.Millisecond, "OnClose before the poll")
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
}

// TestParseErrorCloseFrame: a malformed packet over WebSocket gets a close
// frame without status (the client sees 1005), as with the reference,
// rather than a dropped connection.
func TestParseErrorCloseFrame(t *testing.T) {
	defer leakcheck.Check(t)()
	for _, f := range []string{"9x", "", "b!!"} {
		e := newEnv(t, newRecorder(false), nil)
		c, _, s := e.wsHandshake()
		c.write(f)
		e.rec.expectClose(t, s, ReasonParseError)
		if err := c.expectClosed(); !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
			t.Errorf("%q: %v, want a close frame without status", f, err)
		}
		c.close()
		e.close()
	}
}

// TestInvalidUTF8TextFrame: a text frame that is not UTF-8 closes the
// connection with 1007 and the session with transport error, as the
// reference's WebSocket library does.
func TestInvalidUTF8TextFrame(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	c.write("4\xff\xfe")
	e.rec.expectClose(t, s, ReasonTransportError)
	if err := c.expectClosed(); !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
		t.Errorf("%v, want close 1007", err)
	}
}
