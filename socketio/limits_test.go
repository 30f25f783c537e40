package socketio

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// A namespace name past MaxNamespaceLength is refused even when a
// dynamic namespace would match it, and the server keeps serving.
func TestMaxNamespaceLength(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{MaxNamespaceLength: 16})
	defer ts.Close()
	ts.io.OfRegexp(regexp.MustCompile(`^/d-`))

	c := ts.dial()
	long := "/d-" + strings.Repeat("x", 14) // 17 bytes
	c.sendConnect(long, nil)
	c.expect(`4` + long + `,{"message":"Invalid namespace"}`)
	c.sendConnect("/d-short", nil)
	c.expectConnect("/d-short")
}

// Past MaxDynamicNamespaces, new dynamic namespaces are refused; existing
// ones keep working, and with CleanupEmptyChildNamespaces an emptied one
// makes room again.
func TestMaxDynamicNamespacesAndCleanup(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{MaxDynamicNamespaces: 2, CleanupEmptyChildNamespaces: true})
	defer ts.Close()
	ts.io.OfRegexp(regexp.MustCompile(`^/room-\d+$`))

	a, b, c := ts.dial(), ts.dial(), ts.dial()
	a.connect("/room-1", nil)
	b.connect("/room-2", nil)
	c.sendConnect("/room-3", nil)
	c.expect(`4/room-3,{"message":"Invalid namespace"}`)
	c.sendConnect("/room-1", nil)
	c.expectConnect("/room-1") // an existing one is still open

	before := len(ts.io.Namespaces())
	b.send("41/room-2,") // the last socket of /room-2 leaves
	waitFor(t, "/room-2 removed", func() bool { return len(ts.io.Namespaces()) == before-1 })
	c.sendConnect("/room-3", nil)
	c.expectConnect("/room-3")
}

// EmitWithAck fails with ErrTooManyAcks once the socket owes
// MaxPendingAcks answers; answering one makes room.
func TestMaxPendingAcks(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{MaxPendingAcks: 2})
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make(chan error, 2)
	for range 2 {
		go func() { _, err := s.EmitWithAck(ctx, "q"); results <- err }()
	}
	first, second := c.expectEvent(), c.expectEvent()
	if _, err := s.EmitWithAck(ctx, "q"); !errors.Is(err, ErrTooManyAcks) {
		t.Fatalf("third EmitWithAck: %v, want ErrTooManyAcks", err)
	}
	c.ack("/", first.id)
	if err := recv(t, results); err != nil {
		t.Fatalf("answered EmitWithAck: %v", err)
	}
	go func() { _, err := s.EmitWithAck(ctx, "q"); results <- err }()
	third := c.expectEvent()
	c.ack("/", second.id)
	c.ack("/", third.id)
	for range 2 {
		if err := recv(t, results); err != nil {
			t.Fatalf("EmitWithAck: %v", err)
		}
	}
}

// A client sending events faster than its handlers run is held back at
// MaxPendingEvents queued events: nothing is dropped, every event is
// handled in order once the handler goes on, and other clients are served
// meanwhile.
func TestMaxPendingEventsHoldsTheReader(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{MaxPendingEvents: 4})
	defer ts.Close()
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // a failing test must not leave the handler blocked
	var handled atomic.Int32
	var order []int
	sockets := make(chan *Socket, 2)
	ts.io.OnConnection(func(s *Socket) {
		sockets <- s
		s.On("work", func(n int) {
			if n == 0 {
				<-release // the first event holds the handler
			}
			order = append(order, n)
			handled.Add(1)
		})
		s.On("ping", func(ack Ack) { _ = ack("pong") })
	})
	slow, other := ts.dial(), ts.dial()
	slow.connect("/", nil)
	held := recv(t, sockets)
	other.connect("/", nil)
	queued := func() int {
		held.mu.Lock()
		defer held.mu.Unlock()
		return len(held.tasks)
	}

	const total = 50
	sent := make(chan struct{})
	go func() {
		for i := range total {
			slow.emit("/", "work", i)
		}
		close(sent)
	}()
	// The other client is served while the slow one's reader waits.
	other.emitWithAck("/", 1, "ping")
	other.expect(`31["pong"]`)
	if handled.Load() != 0 {
		t.Fatalf("%d events handled while the handler was held", handled.Load())
	}
	// The queue fills up to the limit and no further: the rest waits in
	// the connection.
	waitFor(t, "a full queue", func() bool { return queued() == 4 })
	if n := queued(); n > 4 {
		t.Fatalf("%d events queued, limit 4", n)
	}
	free()
	<-sent
	waitFor(t, "every event handled", func() bool { return handled.Load() == total })
	for i, n := range order {
		if n != i {
			t.Fatalf("event %d handled in place %d: %v", n, i, order)
		}
	}
}
