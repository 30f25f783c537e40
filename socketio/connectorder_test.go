package socketio

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// connectOrderRuns is how many clients each case of
// TestConnectAcknowledgedAfterHandlers connects, one after the other.
const connectOrderRuns = 300

// A client that has read its CONNECT acknowledgement finds in place what
// the connection handler did: a broadcast to a room the handler joined,
// made by another goroutine the moment the client reads its CONNECT,
// always reaches it. Many clients per case, over WebSocket, over polling,
// and for sockets recovered by connection state recovery (whose handler
// joins another room).
func TestConnectAcknowledgedAfterHandlers(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{ConnectionStateRecovery: &RecoveryOptions{}})
	defer ts.Close()
	var recoveries atomic.Int32
	ts.io.OnConnection(func(s *Socket) {
		if s.Recovered() {
			// A room of its own each time: the rooms it had are restored
			// before the handler runs.
			s.Join(fmt.Sprintf("recovered-%d", recoveries.Add(1)-1))
		} else {
			s.Join("lobby")
		}
	})
	// broadcast is the other goroutine: it emits to room as soon as told,
	// and says when it has.
	type request struct {
		room string
		n    int
	}
	requests := make(chan request)
	emitted := make(chan error)
	go func() {
		for r := range requests {
			emitted <- ts.io.To(r.room).Emit("hello", r.n)
		}
	}()
	defer close(requests)
	broadcast := func(room string, n int) {
		t.Helper()
		requests <- request{room, n}
		if err := recv(t, emitted); err != nil {
			t.Fatalf("broadcast %d: %v", n, err)
		}
	}
	want := func(n int) string { return fmt.Sprintf(`2["hello",%d`, n) }

	t.Run("websocket", func(t *testing.T) {
		for n := range connectOrderRuns {
			c := ts.dial()
			c.connect("/", nil)
			broadcast("lobby", n)
			if got := c.expectText(); !strings.HasPrefix(got, want(n)) {
				t.Fatalf("client %d got %q, want %s…]", n, got, want(n))
			}
			c.Close()
		}
	})

	t.Run("polling", func(t *testing.T) {
		for n := range connectOrderRuns {
			p := ts.dialPolling(4)
			p.post("40")
			got := p.poll()
			if len(got) == 0 || !strings.HasPrefix(got[0], "40{") {
				t.Fatalf("client %d: %q, want its CONNECT acknowledgement", n, got)
			}
			broadcast("lobby", n)
			if len(got) == 1 {
				got = p.poll()
			} else {
				got = got[1:]
			}
			if len(got) == 0 || !strings.HasPrefix(got[0], "4"+want(n)) {
				t.Fatalf("client %d got %q, want 4%s…]", n, got, want(n))
			}
			p.post("41") // leave
		}
	})

	t.Run("recovered", func(t *testing.T) {
		c := ts.dial()
		r := c.connect("/", nil)
		for n := range connectOrderRuns / 3 {
			c.Close() // a lost connection: the socket's state is kept
			waitFor(t, "the socket gone", func() bool { return ts.io.Of("/").LocalSocket(r.SID) == nil })
			c = ts.dial()
			c.sendConnect("/", map[string]any{"pid": r.PID})
			// Events missed while away come before the CONNECT, as the
			// reference sends them: the previous round's hello.
			for {
				got := c.expectText()
				if strings.HasPrefix(got, "0{") {
					break
				}
			}
			broadcast(fmt.Sprintf("recovered-%d", n), n)
			if got := c.expectText(); !strings.HasPrefix(got, want(n)) {
				t.Fatalf("recovered client %d got %q, want %s…]", n, got, want(n))
			}
		}
		c.Close()
	})
}

// Packets a connection handler writes wait for the CONNECT
// acknowledgement; when they then take the session's queue past
// MaxQueueBytes, the client is disconnected as a slow consumer, and
// nothing hangs (the session's close disconnects the socket while its
// held packets are being sent).
func TestHeldPacketsPastTheQueueLimit(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{Options: engineio.Options{MaxQueueBytes: 4096}})
	defer ts.Close()
	reasons := make(chan Reason, 1)
	ts.io.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r Reason) { reasons <- r })
		for range 10 {
			_ = s.Emit("big", strings.Repeat("x", 1000))
		}
	})
	p := ts.dialPolling(4)
	p.post("40") // no GET pending: everything queues
	if r := recv(t, reasons); r != ReasonSlowConsumer {
		t.Fatalf("disconnected with %q, want %q", r, ReasonSlowConsumer)
	}
}

// A connection handler that waits for its own client's acknowledgement
// gets it: the client is told it is connected when the handler starts
// waiting, as it could not answer before, and what the handler did until
// then is in place.
func TestConnectionHandlerWaitsForItsClient(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	answers := make(chan string, 1)
	ts.io.OnConnection(func(s *Socket) {
		s.Join("early")
		args, err := s.Timeout(waitTimeout).EmitWithAck(context.Background(), "hello")
		var a string
		if err == nil {
			err = args.Decode(&a)
		}
		if err != nil {
			a = err.Error()
		}
		answers <- a
	})
	c := ts.dial()
	c.connect("/", nil)
	ev := c.expectEvent()
	if ev.name != "hello" || ev.id < 0 {
		t.Fatalf("got %q (id %d), want hello with an id", ev.name, ev.id)
	}
	if err := ts.io.To("early").Emit("in-early"); err != nil {
		t.Fatal(err)
	}
	if ev := c.expectEvent(); ev.name != "in-early" {
		t.Fatalf("got %q, want in-early", ev.name)
	}
	c.ack("/", ev.id, "hi")
	if got := recv(t, answers); got != "hi" {
		t.Fatalf("the handler's EmitWithAck got %q, want hi", got)
	}
}
