package engineio

import (
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
	"github.com/gorilla/websocket"
)

// volatilePacket is a packet of three messages, the second binary, all
// marked with tag.
func volatilePacket(tag string) []parser.Message {
	return []parser.Message{
		{Data: []byte(tag + ".a")},
		{Data: []byte(tag + ".b"), Binary: true},
		{Data: []byte(tag + ".c")},
	}
}

// volatileWire is volatilePacket(tag) as packetString renders it.
func volatileWire(tag string) string {
	return packetString([]parser.Packet{
		{Type: parser.PacketMessage, Data: []byte(tag + ".a")},
		{Type: parser.PacketMessage, Data: []byte(tag + ".b"), Binary: true},
		{Type: parser.PacketMessage, Data: []byte(tag + ".c")},
	})
}

// TestVolatilePolling: over polling, a volatile packet is sent, whole,
// only while a GET is pending; otherwise it is dropped, whole, counted
// once, and never delivered.
func TestVolatilePolling(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	volatile := SendOptions{Volatile: true}
	dropped := uint64(0)
	drop := func(msgs []parser.Message, why string) {
		t.Helper()
		if err := s.Send(msgs, volatile); !errors.Is(err, ErrDropped) {
			t.Errorf("volatile Send %s: %v, want ErrDropped", why, err)
		}
		dropped++
		if n := e.srv.Stats().VolatileDropped; n != dropped {
			t.Errorf("VolatileDropped %d after a drop %s, want %d", n, why, dropped)
		}
	}

	if s.writableForTest() {
		t.Error("writable without a pending poll")
	}
	drop(textMsg("lost"), "without a pending poll")
	drop(volatilePacket("lost"), "of three messages without a pending poll")
	for i := range 3 {
		tag := strconv.Itoa(i)
		ch := c.asyncGet()
		waitFor(t, "a pending poll", s.writableForTest)
		if err := s.Send(volatilePacket(tag), volatile); err != nil {
			t.Fatalf("volatile Send with a pending poll: %v", err)
		}
		if got, want := packetString(pollResult(t, ch)), volatileWire(tag); got != want {
			t.Errorf("poll %q, want %q", got, want)
		}
		// The poll has been answered: the next volatile packet is dropped.
		if s.writableForTest() {
			t.Error("writable after the poll was answered")
		}
		drop(volatilePacket("lost"+tag), "after the poll was answered")
	}
	// None of the dropped packets comes later.
	if err := s.Send(textMsg("kept"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(c.mustGet()); got != "4kept" {
		t.Errorf("poll %q, want only the packet that was not dropped", got)
	}

	ch := c.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)
	s.Close()
	if err := s.Send(textMsg("x"), volatile); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("volatile Send to a closing session: %v, want ErrSessionClosed", err)
	}
	pollResult(t, ch)
	e.rec.expectClose(t, s, ReasonForcedClose)
	if err := s.Send(textMsg("x"), volatile); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("volatile Send to a closed session: %v, want ErrSessionClosed", err)
	}
	if n := e.srv.Stats().VolatileDropped; n != dropped {
		t.Errorf("VolatileDropped %d, want %d: a closed session drops nothing", n, dropped)
	}
}

// TestVolatileWebSocket: over WebSocket, volatile packets are sent while
// the client keeps up and dropped once it falls behind, each whole: the
// client gets exactly the packets Send did not drop, in order, and Stats
// counts the others once each.
func TestVolatileWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 64 << 20})
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	volatile := SendOptions{Volatile: true}
	// expect reads the messages of packet tag.
	expect := func(tag string) {
		t.Helper()
		for _, m := range volatilePacket(tag) {
			kind, data := c.readSkipPings()
			wantKind, want := websocket.TextMessage, "4"+string(m.Data)
			if m.Binary {
				wantKind, want = websocket.BinaryMessage, string(m.Data)
			}
			if kind != wantKind || data != want {
				t.Fatalf("frame %d %.20q, want %d %q", kind, data, wantKind, want)
			}
		}
	}

	if !s.writableForTest() {
		t.Error("fresh WebSocket session not writable")
	}
	if err := s.Send(volatilePacket("fresh"), volatile); err != nil {
		t.Fatalf("volatile Send to a fresh session: %v", err)
	}
	expect("fresh")

	// The client stops reading: volatile packets are sent until it is too
	// far behind, then dropped. Each is sent or dropped whole.
	pad := strings.Repeat("m", 1000)
	var sent []string
	dropped := 0
	for i := 0; dropped < 20; i++ {
		if i == 100000 {
			t.Fatal("no volatile packet dropped after 300 MB")
		}
		tag := strconv.Itoa(i) + pad
		switch err := s.Send(volatilePacket(tag), volatile); {
		case err == nil:
			sent = append(sent, tag)
		case errors.Is(err, ErrDropped):
			dropped++
		default:
			t.Fatalf("volatile Send: %v", err)
		}
	}
	if n := e.srv.Stats().VolatileDropped; n != uint64(dropped) {
		t.Errorf("VolatileDropped %d, want %d", n, dropped)
	}
	// It reads again: the packets sent, and only those, arrive in order.
	for _, tag := range sent {
		expect(tag)
	}
	if err := s.Send(textMsg("end"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if kind, data := c.readSkipPings(); kind != websocket.TextMessage || data != "4end" {
		t.Fatalf("frame %d %.20q after the packets sent, want 4end", kind, data)
	}
	// Caught up, it takes volatile packets again.
	waitFor(t, "writable once caught up", s.writableForTest)
	if err := s.Send(volatilePacket("again"), volatile); err != nil {
		t.Fatalf("volatile Send once caught up: %v", err)
	}
	expect("again")

	s.Close()
	if err := s.Send(volatilePacket("late"), volatile); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("volatile Send to a closing session: %v, want ErrSessionClosed", err)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
	if n := e.srv.Stats().VolatileDropped; n != uint64(dropped) {
		t.Errorf("VolatileDropped %d, want %d: a closing session drops nothing", n, dropped)
	}
}

// TestVolatileLimit: the limit is lowered to half of a small MaxQueueBytes,
// so that a session that takes a volatile packet always has room for it.
func TestVolatileLimit(t *testing.T) {
	for _, tt := range []struct {
		maxQueue, queued int
		want             bool
	}{
		{8 << 20, 64 << 10, true},
		{8 << 20, 64<<10 + 1, false},
		{1000, 500, true},
		{1000, 501, false},
	} {
		srv := NewServer(nopHandler, &Options{MaxQueueBytes: tt.maxQueue})
		s := newSession(srv, "id", 4, httptest.NewRequest("GET", "/", nil), nil, TransportWebSocket)
		if err := s.Send(textMsg("x"), SendOptions{Volatile: true}); !errors.Is(err, ErrDropped) {
			t.Errorf("volatile Send without a WebSocket: %v, want ErrDropped", err)
		}
		s.ws = &transport.WebSocket{} // never written to: see flushing
		s.flushing = true             // as if a writer ran: Send only queues
		s.queued = tt.queued / 2
		s.sending = tt.queued - s.queued
		err := s.Send(volatilePacket("v"), SendOptions{Volatile: true})
		switch {
		case tt.want && err != nil:
			t.Errorf("MaxQueueBytes %d, %d bytes behind: %v, want the packet queued", tt.maxQueue, tt.queued, err)
		case !tt.want && !errors.Is(err, ErrDropped):
			t.Errorf("MaxQueueBytes %d, %d bytes behind: %v, want ErrDropped", tt.maxQueue, tt.queued, err)
		}
		// Queued whole, or not at all.
		wantQueue := 0
		if tt.want {
			wantQueue = 3
		}
		if len(s.queue) != wantQueue {
			t.Errorf("MaxQueueBytes %d, %d bytes behind: %d messages queued, want %d", tt.maxQueue, tt.queued, len(s.queue), wantQueue)
		}
		wantDropped := uint64(2 - wantQueue/3)
		if n := srv.Stats().VolatileDropped; n != wantDropped {
			t.Errorf("MaxQueueBytes %d, %d bytes behind: VolatileDropped %d, want %d", tt.maxQueue, tt.queued, n, wantDropped)
		}
	}
}
