package socketio

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

func recoveryServer(t *testing.T, ro *RecoveryOptions) (*testServer, chan *Socket, chan Reason) {
	t.Helper()
	if ro == nil {
		ro = &RecoveryOptions{}
	}
	ts := newTestServer(t, &Options{ConnectionStateRecovery: ro})
	conns := make(chan *Socket, 8)
	reasons := make(chan Reason, 8)
	ts.io.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r Reason) { reasons <- r })
		s.On("ping", func(ack Ack) { ack("pong") })
		conns <- s
	})
	return ts, conns, reasons
}

// lastString decodes the last argument of an event: its offset.
func lastString(t *testing.T, e wireEvent) string {
	t.Helper()
	var s string
	e.arg(t, len(e.args)-1, &s)
	return s
}

var offsetRE = regexp.MustCompile(`^[0-9a-f]{12}-[0-9]+$`)

func TestRecovery(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, conns, reasons := recoveryServer(t, nil)
	defer ts.Close()
	other := ts.dial()
	other.connect("/", nil)
	sOther := recv(t, conns)

	c := ts.dial()
	r := c.connect("/", nil)
	if r.PID == "" || r.PID == r.SID {
		t.Fatalf("CONNECT reply %+v lacks a private id", r)
	}
	s := recv(t, conns)
	s.Join("r")
	s.SetData(map[string]any{"user": "ann"})

	// Offsets are appended to events without acknowledgement.
	if err := s.Emit("direct", 1); err != nil {
		t.Fatal(err)
	}
	e := c.expectEvent()
	first := lastString(t, e)
	if e.name != "direct" || len(e.args) != 2 || !offsetRE.MatchString(first) {
		t.Fatalf("event %+v, want direct with an offset", e)
	}
	if err := ts.io.Emit("all"); err != nil {
		t.Fatal(err)
	}
	e1, e2 := c.expectEvent(), other.expectEvent()
	if lastString(t, e1) != lastString(t, e2) || lastString(t, e1) == first {
		t.Fatalf("broadcast offsets %q and %q, after %q", lastString(t, e1), lastString(t, e2), first)
	}
	// Not to events with an acknowledgement, nor to volatile ones.
	go func() { _, _ = s.Timeout(waitTimeout).EmitWithAck(context.Background(), "asked") }()
	c.expect(`20["asked"]`)
	c.ack("/", 0)
	if err := s.Volatile().Emit("volatile"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["volatile"]`)

	// The client loses its connection; events keep coming.
	c.Close()
	if got := recv(t, reasons); got != ReasonTransportClose {
		t.Fatalf("reason %q", got)
	}
	steps := []func() error{
		func() error { return ts.io.To("r").Emit("missed", 1) },
		func() error { return ts.io.Emit("missed", 2, []int{3}) },
		func() error { return ts.io.To("elsewhere").Emit("not for it") },
		func() error { return ts.io.Except("r").Emit("not for it") },
		func() error { return ts.io.Volatile().Emit("volatile, not kept") },
		func() error { return sOther.Emit("not for it") },
		func() error { return ts.io.To(s.ID()).Emit("missed", 3) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}

	// It comes back with its private id and the last offset it got.
	c2 := ts.dial()
	c2.sendConnect("/", map[string]any{"pid": r.PID, "offset": lastString(t, e1)})
	seen := map[string]bool{lastString(t, e1): true}
	for _, want := range []string{`["missed",1]`, `["missed",2,[3]]`, `["missed",3]`} {
		e := c2.expectEvent()
		if got := mustJSON(t, append([]any{e.name}, rawArgs(e.args[:len(e.args)-1])...)); got != want {
			t.Fatalf("missed event %s, want %s", got, want)
		}
		offset := lastString(t, e)
		if !offsetRE.MatchString(offset) || seen[offset] {
			t.Fatalf("missed event offset %q", offset)
		}
		seen[offset] = true
	}
	r2 := c2.expectConnect("/")
	if r2 != r {
		t.Fatalf("CONNECT reply %+v, want the old ids %+v", r2, r)
	}
	s2 := recv(t, conns)
	if s2.ID() != s.ID() || !s2.Recovered() {
		t.Fatalf("socket %q recovered=%v, want %q recovered", s2.ID(), s2.Recovered(), s.ID())
	}
	if got, want := sorted(s2.Rooms()), sorted([]string{s.ID(), "r"}); !slices.Equal(got, want) {
		t.Fatalf("rooms %q, want %q", got, want)
	}
	if d, _ := s2.Data().(map[string]any); d["user"] != "ann" {
		t.Fatalf("data %#v", s2.Data())
	}
	c2.emitWithAck("/", 1, "ping")
	c2.expect(`31["pong"]`)
	// Broadcasts reach the recovered socket.
	if err := ts.io.To("r").Emit("back"); err != nil {
		t.Fatal(err)
	}
	if e := c2.expectEvent(); e.name != "back" {
		t.Fatalf("event %+v", e)
	}

	// A session is recovered once.
	c2.Close()
	recv(t, reasons)
	c3 := ts.dial()
	c3.sendConnect("/", map[string]any{"pid": r.PID, "offset": lastString(t, e1)})
	for {
		got := c3.expectText()
		if got[0] == '0' {
			break
		}
	}
	s3 := recv(t, conns)
	if !s3.Recovered() {
		t.Fatal("the session persisted after the second loss was not recovered")
	}
}

func rawArgs(args []json.RawMessage) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

func TestRecoveryWithoutOffset(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, conns, reasons := recoveryServer(t, nil)
	defer ts.Close()
	c := ts.dial()
	r := c.connect("/", nil)
	s := recv(t, conns)
	s.Join("r")
	c.Close()
	recv(t, reasons)
	if err := ts.io.To("r").Emit("missed"); err != nil {
		t.Fatal(err)
	}
	// A client that got no event sends no offset: it gets every event sent
	// to it since it connected.
	c2 := ts.dial()
	c2.sendConnect("/", map[string]any{"pid": r.PID})
	if e := c2.expectEvent(); e.name != "missed" {
		t.Fatalf("event %+v", e)
	}
	if r2 := c2.expectConnect("/"); r2 != r {
		t.Fatalf("reply %+v, want %+v", r2, r)
	}
	if s2 := recv(t, conns); !s2.Recovered() || s2.ID() != s.ID() {
		t.Fatalf("socket %q recovered=%v", s2.ID(), s2.Recovered())
	}
}

func TestRecoveryRefused(t *testing.T) {
	tests := []struct {
		name string
		// lose ends the first connection; it returns the auth to send.
		lose func(t *testing.T, c *testClient, r connectReplyData, offset string, reasons chan Reason) map[string]any
	}{
		{"unknown pid", func(t *testing.T, c *testClient, r connectReplyData, offset string, reasons chan Reason) map[string]any {
			c.Close()
			recv(t, reasons)
			return map[string]any{"pid": "unknown", "offset": offset}
		}},
		{"unknown offset", func(t *testing.T, c *testClient, r connectReplyData, offset string, reasons chan Reason) map[string]any {
			c.Close()
			recv(t, reasons)
			return map[string]any{"pid": r.PID, "offset": "ffffffffffff-1"}
		}},
		{"offset from the future", func(t *testing.T, c *testClient, r connectReplyData, offset string, reasons chan Reason) map[string]any {
			c.Close()
			recv(t, reasons)
			return map[string]any{"pid": r.PID, "offset": offset[:13] + "999"}
		}},
		{"client namespace disconnect", func(t *testing.T, c *testClient, r connectReplyData, offset string, reasons chan Reason) map[string]any {
			c.send("1") // a deliberate disconnection is not recoverable
			recv(t, reasons)
			return map[string]any{"pid": r.PID, "offset": offset}
		}},
		{"server namespace disconnect", func(t *testing.T, c *testClient, r connectReplyData, offset string, reasons chan Reason) map[string]any {
			c.emit("/", "kick")
			c.expect("1")
			recv(t, reasons)
			return map[string]any{"pid": r.PID, "offset": offset}
		}},
		{"expired", func(t *testing.T, c *testClient, r connectReplyData, offset string, reasons chan Reason) map[string]any {
			c.Close()
			recv(t, reasons)
			lost := time.Now()
			waitFor(t, "the recovery window to pass", func() bool { return time.Since(lost) > 60*time.Millisecond })
			return map[string]any{"pid": r.PID, "offset": offset}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			ts, conns, reasons := recoveryServer(t, &RecoveryOptions{MaxDisconnectionDuration: 50 * time.Millisecond})
			defer ts.Close()
			ts.io.OnConnection(func(s *Socket) { s.On("kick", func() { s.Disconnect(false) }) })
			c := ts.dial()
			r := c.connect("/", nil)
			s := recv(t, conns)
			s.Join("r")
			if err := s.Emit("ev"); err != nil {
				t.Fatal(err)
			}
			offset := lastString(t, c.expectEvent())
			auth := tt.lose(t, c, r, offset, reasons)

			c2 := ts.dial()
			r2 := c2.connect("/", auth)
			s2 := recv(t, conns)
			if s2.Recovered() || r2.SID == r.SID || r2.PID == r.PID || r2.PID == "" || s2.ID() != r2.SID {
				t.Fatalf("reply %+v after %+v, recovered=%v: want a new socket", r2, r, s2.Recovered())
			}
			if got := s2.Rooms(); !slices.Equal(got, []string{s2.ID()}) {
				t.Fatalf("new socket in rooms %q", got)
			}
			if s2.Data() != nil {
				t.Fatalf("new socket has data %v", s2.Data())
			}
		})
	}
}

func TestRecoveryMiddlewares(t *testing.T) {
	for _, skip := range []bool{false, true} {
		name := map[bool]string{false: "middlewares run", true: "SkipMiddlewares"}[skip]
		t.Run(name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			ts, conns, reasons := recoveryServer(t, &RecoveryOptions{SkipMiddlewares: skip})
			defer ts.Close()
			var calls atomic.Int32
			ts.io.Use(func(s *Socket) error {
				calls.Add(1)
				if !s.Recovered() && s.Handshake().Auth.(map[string]any)["pid"] != nil {
					t.Error("a middleware sees a socket coming back as not recovered")
				}
				return nil
			})
			c := ts.dial()
			r := c.connect("/", nil)
			recv(t, conns)
			c.Close()
			recv(t, reasons)
			c2 := ts.dial()
			c2.connect("/", map[string]any{"pid": r.PID, "offset": ""})
			if s := recv(t, conns); !s.Recovered() {
				t.Fatal("not recovered")
			}
			want := int32(2)
			if skip {
				want = 1
			}
			if n := calls.Load(); n != want {
				t.Fatalf("middleware ran %d times, want %d", n, want)
			}
		})
	}
}

func TestRecoveryRefusedByMiddleware(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, conns, reasons := recoveryServer(t, nil)
	defer ts.Close()
	ts.io.Use(func(s *Socket) error {
		if s.Recovered() {
			return NewConnectError("no way back", nil)
		}
		return nil
	})
	c := ts.dial()
	r := c.connect("/", nil)
	s := recv(t, conns)
	s.Join("r")
	c.Close()
	recv(t, reasons)

	c2 := ts.dial()
	c2.sendConnect("/", map[string]any{"pid": r.PID, "offset": ""})
	c2.expect(`4{"message":"no way back"}`)
	if rooms := ts.io.Of("/").Adapter().Rooms(); len(rooms) != 0 {
		t.Fatalf("a refused socket left rooms %q in the adapter", rooms)
	}
	if n := len(ts.io.Of("/").Adapter().Sockets(nil)); n != 0 {
		t.Fatalf("a refused socket left %d sockets in the adapter", n)
	}
}

func TestRecoveryOverShutdown(t *testing.T) {
	// The state of sockets closed by a shutdown is kept too, as the
	// reference does: with a shared adapter, another node can recover it.
	defer leakcheck.Check(t)()
	ts, conns, reasons := recoveryServer(t, nil)
	defer ts.Close()
	c := ts.dial()
	r := c.connect("/", nil)
	s := recv(t, conns)
	if err := ts.io.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, reasons); got != ReasonServerShutdown {
		t.Fatalf("reason %q", got)
	}
	session, err := ts.io.Of("/").Adapter().RestoreSession(context.Background(), r.PID, "")
	if err != nil || session.SID != s.ID() {
		t.Fatalf("RestoreSession = %+v, %v", session, err)
	}
}

// TestRecoveryConnectionLostWhileRestoring: a client whose connection
// closes while its restored socket is not connected yet (here, in a
// middleware) finds its session again on its next try; restoring took it
// from the adapter, and the client never heard of it.
func TestRecoveryConnectionLostWhileRestoring(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, conns, reasons := recoveryServer(t, nil)
	defer ts.Close()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var block atomic.Bool
	ts.io.Use(func(s *Socket) error {
		if s.Recovered() && block.Load() {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	c := ts.dial()
	r := c.connect("/", nil)
	s := recv(t, conns)
	s.Join("r")
	if err := ts.io.To("r").Emit("ev", 1); err != nil {
		t.Fatal(err)
	}
	offset := lastString(t, c.expectEvent())
	c.Close()
	recv(t, reasons)
	if err := ts.io.To("r").Emit("ev", 2); err != nil {
		t.Fatal(err)
	}

	block.Store(true)
	c2 := ts.dial()
	c2.sendConnect("/", map[string]any{"pid": r.PID, "offset": offset})
	recv(t, entered)
	c2.Close()
	waitFor(t, "the connection to close", func() bool { return ts.io.Engine().SessionCount() == 0 })
	block.Store(false)
	close(release)

	c3 := ts.dial()
	c3.sendConnect("/", map[string]any{"pid": r.PID, "offset": offset})
	// The missed event first, then the CONNECT, as the reference sends them.
	if e := c3.expectEvent(); e.name != "ev" || len(e.args) != 2 || string(e.args[0]) != "2" {
		t.Fatalf("missed event %+v, want ev 2", e)
	}
	got := c3.expectConnect("/")
	s3 := recv(t, conns)
	if !s3.Recovered() || got.SID != r.SID || !slices.Contains(s3.Rooms(), "r") {
		t.Fatalf("recovered %v, sid %q (want %q), rooms %q", s3.Recovered(), got.SID, r.SID, s3.Rooms())
	}
}
