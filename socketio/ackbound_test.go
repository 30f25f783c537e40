package socketio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// pendingAckCount is how many answers s waits for from its client.
func pendingAckCount(s *Socket) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks)
}

// A client that never answers and already owes MaxPendingAcks answers is
// left out of a room's EmitWithAck: the broadcast completes as soon as the
// other members answered, without waiting out its timeout, and the silent
// client does not get the event.
func TestBroadcastWithAckLeavesOutAFullSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{MaxPendingAcks: 2})
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	silent, ss := ts.connectSocket("/", conns)
	answering, as := ts.connectSocket("/", conns)
	ss.Join("r")
	as.Join("r")

	// The silent client's slots fill with answers it never sends.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pending := make(chan error, 2)
	for range 2 {
		go func() { _, err := ss.EmitWithAck(ctx, "owed"); pending <- err }()
	}
	silent.expectEvent()
	silent.expectEvent()
	waitFor(t, "two answers owed", func() bool { return pendingAckCount(ss) == 2 })

	type result struct {
		answers []Args
		err     error
	}
	done := make(chan result, 1)
	go func() {
		// Far longer than the test waits: only leaving the silent client
		// out lets it end in time.
		answers, err := ts.io.To("r").Timeout(time.Minute).EmitWithAck(context.Background(), "q")
		done <- result{answers, err}
	}()
	ev := answering.expectEvent()
	if ev.name != "q" || ev.id < 0 {
		t.Fatalf("answering client got %q (id %d), want q with an id", ev.name, ev.id)
	}
	answering.ack("/", ev.id, "ok")
	r := recv(t, done)
	if r.err != nil || len(r.answers) != 1 {
		t.Fatalf("EmitWithAck = %d answers, %v; want the one answer and no error", len(r.answers), r.err)
	}
	var got string
	if err := r.answers[0].Decode(&got); err != nil || got != "ok" {
		t.Fatalf("answer %q, %v; want ok", got, err)
	}
	// The silent client got nothing of the broadcast: its next event is
	// the marker.
	if err := ss.Emit("marker"); err != nil {
		t.Fatal(err)
	}
	if ev := silent.expectEvent(); ev.name != "marker" {
		t.Fatalf("silent client got %q, want marker (the broadcast left it out)", ev.name)
	}
	if n := pendingAckCount(ss); n != 2 {
		t.Fatalf("silent client owes %d answers, want still 2", n)
	}
	cancel()
	for range 2 {
		if err := recv(t, pending); !errors.Is(err, context.Canceled) {
			t.Fatalf("owed EmitWithAck: %v, want context.Canceled", err)
		}
	}
}

// The acknowledgements a room's EmitWithAck waits for are forgotten when
// it ends, whether it timed out, was cancelled or was answered: a client
// that never answers does not pile them up until it reaches
// MaxPendingAcks.
func TestBroadcastWithAckForgetsItsAcks(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{MaxPendingAcks: 3})
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	silent, ss := ts.connectSocket("/", conns)
	ss.Join("r")

	for i := range 5 { // more than MaxPendingAcks
		_, err := ts.io.To("r").Timeout(20*time.Millisecond).EmitWithAck(context.Background(), "q", i)
		if !errors.Is(err, ErrAckTimeout) {
			t.Fatalf("broadcast %d: %v, want ErrAckTimeout", i, err)
		}
		if ev := silent.expectEvent(); ev.name != "q" || ev.id < 0 {
			t.Fatalf("broadcast %d reached the client as %q (id %d)", i, ev.name, ev.id)
		}
		waitFor(t, "the timed-out broadcast's ack forgotten", func() bool { return pendingAckCount(ss) == 0 })
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := ts.io.To("r").EmitWithAck(ctx, "q"); done <- err }()
	silent.expectEvent()
	waitFor(t, "the broadcast's ack registered", func() bool { return pendingAckCount(ss) == 1 })
	cancel()
	if err := recv(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled broadcast: %v, want context.Canceled", err)
	}
	waitFor(t, "the cancelled broadcast's ack forgotten", func() bool { return pendingAckCount(ss) == 0 })

	go func() {
		_, err := ts.io.To("r").Timeout(waitTimeout).EmitWithAck(context.Background(), "q")
		done <- err
	}()
	ev := silent.expectEvent()
	silent.ack("/", ev.id)
	if err := recv(t, done); err != nil {
		t.Fatalf("answered broadcast: %v", err)
	}
	if n := pendingAckCount(ss); n != 0 {
		t.Fatalf("%d answers owed after the answered broadcast, want 0", n)
	}
}
