package engineio

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/transport"
)

func TestWritablePolling(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	if s.Writable() {
		t.Error("writable without a pending poll")
	}
	for range 3 {
		ch := c.asyncGet()
		waitFor(t, "Writable with a pending poll", s.Writable)
		if err := s.Send([]byte("x"), false); err != nil {
			t.Fatal(err)
		}
		if got := packetString(pollResult(t, ch)); got != "4x" {
			t.Errorf("poll %q", got)
		}
		// The poll has been answered: the next packet waits.
		if s.Writable() {
			t.Error("writable after the poll was answered")
		}
	}
	ch := c.asyncGet()
	waitFor(t, "Writable with a pending poll", s.Writable)
	s.Close()
	if s.Writable() {
		t.Error("closing session writable")
	}
	pollResult(t, ch)
	e.rec.expectClose(t, s, ReasonForcedClose)
	if s.Writable() {
		t.Error("closed session writable")
	}
}

func TestWritableWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 64 << 20})
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	if !s.Writable() {
		t.Error("fresh WebSocket session not writable")
	}
	// The client stops reading: the queue grows until Writable says no.
	msg := []byte(strings.Repeat("m", 1023))
	sent := 0
	for ; s.Writable(); sent++ {
		if sent == 100000 {
			t.Fatal("still writable after 100 MB")
		}
		if err := s.Send(msg, false); err != nil {
			t.Fatal(err)
		}
	}
	// It reads again and catches up.
	done := make(chan error, 1)
	go func() {
		for i := 0; i < sent; i++ {
			if _, _, err := c.read(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if err := recv(t, done, "the client reading"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Writable once caught up", s.Writable)
	s.Close()
	if s.Writable() {
		t.Error("closing session writable")
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
}

// TestWritableLimit: the limit is lowered to half of a small MaxQueueBytes,
// so that a session still writable can always take a volatile packet.
func TestWritableLimit(t *testing.T) {
	for _, tt := range []struct {
		maxQueue, queued int
		want             bool
	}{
		{8 << 20, 64 << 10, true},
		{8 << 20, 64<<10 + 1, false},
		{1000, 500, true},
		{1000, 501, false},
	} {
		srv := NewServer(HandlerFuncs{}, &Options{MaxQueueBytes: tt.maxQueue})
		s := newSession(srv, "id", 4, httptest.NewRequest("GET", "/", nil), nil, "websocket")
		if s.Writable() {
			t.Error("writable without a WebSocket")
		}
		s.ws = &transport.WebSocket{} // never used: Writable only looks
		s.queued = tt.queued / 2
		s.sending = tt.queued - s.queued
		if got := s.Writable(); got != tt.want {
			t.Errorf("MaxQueueBytes %d, %d bytes behind: %v", tt.maxQueue, tt.queued, got)
		}
	}
}
