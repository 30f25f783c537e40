package engineio

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// waitStats waits until the server's Stats are exactly want: counters
// settle a little after the client sees the packets they count.
func waitStats(t testing.TB, srv *Server, want Stats) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := srv.Stats()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats:\n got  %+v\n want %+v", got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestStatsPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	waitStats(t, e.srv, Stats{})

	c, _, s := e.handshake()
	// The open packet is not counted.
	want := Stats{Sessions: 1, PollingSessions: 1, Handshakes: 1}
	waitStats(t, e.srv, want)

	// Two messages in one payload, the second binary (3 raw bytes).
	c.post("4hello\x1ebAQID")
	recv(t, e.rec.msgs, "message")
	recv(t, e.rec.msgs, "message")
	want.PacketsIn, want.BytesIn = 2, 6+4
	waitStats(t, e.srv, want)

	if err := s.Send(textMsg("hi"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(binaryMsg([]byte{1, 2, 3, 4}), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(c.mustGet()); got != "4hi|bin:01020304" {
		t.Fatalf("poll: %q", got)
	}
	want.PacketsOut, want.BytesOut = 2, 3+5
	waitStats(t, e.srv, want)

	c.post("1")
	e.rec.expectClose(t, s, ReasonTransportClose)
	want.Sessions, want.PollingSessions = 0, 0
	want.PacketsIn, want.BytesIn = 3, 11
	want.Closes.TransportClose = 1
	waitStats(t, e.srv, want)
}

func TestStatsWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	want := Stats{Sessions: 1, WebSocketSessions: 1, Handshakes: 1}
	waitStats(t, e.srv, want)

	c.write("4abc")
	c.writeBinary([]byte{1, 2, 3})
	recv(t, e.rec.msgs, "message")
	recv(t, e.rec.msgs, "message")
	want.PacketsIn, want.BytesIn = 2, 4+4
	waitStats(t, e.srv, want)

	for _, m := range []string{"x", "yz"} {
		if err := s.Send(textMsg(m), SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.readText() + c.readText(); got != "4x4yz" {
		t.Fatalf("read %q", got)
	}
	want.PacketsOut, want.BytesOut = 2, 2+3
	waitStats(t, e.srv, want)

	// A second session closed by the server.
	c2, _, s2 := e.wsHandshake()
	defer c2.close()
	s2.Close()
	e.rec.expectClose(t, s2, ReasonForcedClose)
	want.Handshakes = 2
	want.Closes.ForcedClose = 1
	waitStats(t, e.srv, want)

	c.close()
	e.rec.expectClose(t, s, ReasonTransportClose)
	want.Sessions, want.WebSocketSessions = 0, 0
	want.Closes.TransportClose = 1
	waitStats(t, e.srv, want)
}

// TestStatsUpgrade: the probes count as packets; the session moves from
// one gauge to the other.
func TestStatsUpgrade(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	pending := c.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)

	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	defer ws.close()
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	if got := packetString(pollResult(t, pending)); got != "6" {
		t.Fatalf("pending poll: %q", got)
	}
	want := Stats{
		Sessions: 1, PollingSessions: 1, Handshakes: 1,
		PacketsIn: 1, BytesIn: 6, // 2probe
		PacketsOut: 2, BytesOut: 6 + 1, // 3probe, 6
	}
	waitStats(t, e.srv, want)

	ws.write("5")
	waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })
	want.PollingSessions, want.WebSocketSessions, want.Upgrades = 0, 1, 1
	want.PacketsIn, want.BytesIn = 2, 7
	waitStats(t, e.srv, want)

	e.close()
	e.rec.expectClose(t, s, ReasonServerShutdown)
	want.Sessions, want.WebSocketSessions = 0, 0
	want.Closes.ServerShutdown = 1
	waitStats(t, e.srv, want)
}

// TestStatsPingTimeout: pings and pongs count; a ping queued for a client
// that never polls is not sent, so not counted.
func TestStatsPingTimeout(t *testing.T) {
	defer leakcheck.Check(t)()
	opts := fastHeartbeat
	e := newEnv(t, newRecorder(false), &opts)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	if got := c.readText(); got != "2" {
		t.Fatalf("got %q, want a ping", got)
	}
	c.write("3")
	if got := c.readText(); got != "2" {
		t.Fatalf("got %q, want a ping", got)
	}
	e.rec.expectClose(t, s, ReasonPingTimeout)

	silent := Options{PingInterval: 20 * time.Millisecond, PingTimeout: 20 * time.Millisecond}
	e2 := newEnv(t, newRecorder(false), &silent)
	defer e2.close()
	_, _, s2 := e2.handshake()
	e2.rec.expectClose(t, s2, ReasonPingTimeout)

	waitStats(t, e.srv, Stats{
		Handshakes: 1,
		PacketsIn:  1, BytesIn: 1,
		PacketsOut: 2, BytesOut: 2,
		Closes: Closes{PingTimeout: 1},
	})
	waitStats(t, e2.srv, Stats{Handshakes: 1, Closes: Closes{PingTimeout: 1}})
}

// TestStatsSlowConsumer: a client that stops polling is counted once, as a
// close for slow consumer; what was queued for it was never sent.
func TestStatsSlowConsumer(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 1000})
	defer e.close()
	_, _, s := e.handshake()
	msg := textMsg(strings.Repeat("m", 99))
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = s.Send(msg, SendOptions{})
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Send: %v", err)
	}
	e.rec.expectClose(t, s, ReasonSlowConsumer)
	waitStats(t, e.srv, Stats{Handshakes: 1, Closes: Closes{SlowConsumer: 1}})
}

// TestStatsCloseReasons closes sessions for each reason a client can
// cause and checks that every one is counted once, under its reason.
func TestStatsCloseReasons(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()

	parse, _, s := e.wsHandshake() // an undecodable packet
	defer parse.close()
	parse.write("x")
	e.rec.expectClose(t, s, ReasonParseError)

	ping, _, s := e.wsHandshake() // a ping from a v4 client
	defer ping.close()
	ping.write("2")
	e.rec.expectClose(t, s, ReasonTransportError)

	c, _, s := e.handshake() // a polling session closed by the server
	s.Close()
	if got := packetString(c.mustGet()); got != "1" {
		t.Fatalf("poll after Close: %q", got)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
	e.handshake() // and one left open

	st := e.srv.Stats()
	want := Closes{ParseError: 1, TransportError: 1, ForcedClose: 1}
	if st.Closes != want {
		t.Errorf("Closes %+v, want %+v", st.Closes, want)
	}
	if st.Handshakes != uint64(st.Sessions)+st.Closes.Total() || st.Sessions != 1 {
		t.Errorf("%d handshakes, %d open, %d closed", st.Handshakes, st.Sessions, st.Closes.Total())
	}
	for r, n := range st.Closes.All() {
		if n != st.Closes.Count(r) {
			t.Errorf("All: %q %d, Count %d", r, n, st.Closes.Count(r))
		}
		if n != map[Reason]uint64{ReasonParseError: 1, ReasonTransportError: 1, ReasonForcedClose: 1}[r] {
			t.Errorf("%q: %d", r, n)
		}
	}
}

func TestClosesAll(t *testing.T) {
	c := Closes{TransportClose: 1, TransportError: 2, PingTimeout: 3, ParseError: 4, ForcedClose: 5, ServerShutdown: 6, SlowConsumer: 7}
	var got []string
	for r, n := range c.All() {
		got = append(got, fmt.Sprintf("%s=%d", r, n))
	}
	want := "transport close=1 transport error=2 ping timeout=3 parse error=4 forced close=5 server shutting down=6 slow consumer=7"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("All: %s", s)
	}
	if c.Total() != 28 {
		t.Errorf("Total %d", c.Total())
	}
	if c.Count("no such reason") != 0 || c.Count(ReasonSlowConsumer) != 7 {
		t.Error("Count")
	}
	for range c.All() {
		break // stopping early must not panic
	}
}

// TestStatsVolatileDropped: a dropped volatile packet counts once,
// however many messages it was made of.
func TestStatsVolatileDropped(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	_, _, s := e.handshake()
	// No poll pending: a volatile packet is dropped.
	if s.writableForTest() {
		t.Fatal("writable with no poll pending")
	}
	volatile := SendOptions{Volatile: true}
	if err := s.Send(textMsg("one"), volatile); !errors.Is(err, ErrDropped) {
		t.Errorf("Send: %v, want ErrDropped", err)
	}
	three := []parser.Message{{Data: []byte("a")}, {Data: []byte{1}, Binary: true}, {Data: []byte("c")}}
	if err := s.Send(three, volatile); !errors.Is(err, ErrDropped) {
		t.Errorf("Send of three messages: %v, want ErrDropped", err)
	}
	if n := e.srv.Stats().VolatileDropped; n != 2 {
		t.Errorf("VolatileDropped %d, want 2", n)
	}
}

// BenchmarkCounters measures what a packet costs the counters: two atomic
// adds for each packet read, two for each batch written, from every CPU
// at once (the worst case: one cache line shared by all).
func BenchmarkCounters(b *testing.B) {
	var c counters
	p := parser.Packet{Type: parser.PacketMessage, Data: make([]byte, 32)}
	batch := []parser.Packet{p, p, p, p}
	b.Run("received", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.received(&p)
			}
		})
	})
	b.Run("sent4", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.sent(batch)
			}
		})
	})
}

// BenchmarkStats measures taking a snapshot.
func BenchmarkStats(b *testing.B) {
	srv := NewServer(nopHandler, nil)
	b.ReportAllocs()
	var n int
	for range b.N {
		n += srv.Stats().Sessions
	}
	if n != 0 {
		b.Fatal(n)
	}
}

// BenchmarkSendWebSocket measures Session.Send to a WebSocket client that
// reads everything: queueing, the writer and the write.
func BenchmarkSendWebSocket(b *testing.B) {
	e := newEnv(b, newRecorder(false), &Options{MaxQueueBytes: 1 << 30})
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	msg := textMsg(strings.Repeat("m", 32))
	done := make(chan int, 1)
	go func() {
		n := 0
		for {
			_, data, err := c.conn.ReadMessage()
			if err != nil || string(data) == "4end" {
				done <- n
				return
			}
			n++
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.Send(msg, SendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Send(textMsg("end"), SendOptions{}); err != nil {
		b.Fatal(err)
	}
	recv(b, done, "the client's count")
}

// BenchmarkReceiveWebSocket measures messages from a WebSocket client to
// the handler: the read loop, decoding and OnMessage.
func BenchmarkReceiveWebSocket(b *testing.B) {
	var n, want atomic.Int64
	all := make(chan struct{}, 1)
	srv := NewServer(HandlerFunc(func(Conn) SessionHandler {
		return SessionFuncs{Message: func([]byte, bool) {
			if n.Add(1) == want.Load() {
				all <- struct{}{}
			}
		}}
	}), nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := conn.ReadMessage(); err != nil { // the open packet
		b.Fatal(err)
	}
	want.Store(int64(b.N))
	msg := []byte("4" + strings.Repeat("m", 32))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
	}
	recv(b, all, "every message")
}
