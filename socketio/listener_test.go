package socketio

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// callLog records calls from handlers.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(format string, args ...any) {
	l.mu.Lock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// take returns the calls so far and forgets them.
func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

func TestOnAny(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	var log callLog
	removers := make(chan func(), 1)
	ts.io.OnConnection(func(s *Socket) {
		s.OnAny(func(event string, args Args) {
			var first any
			_ = args.Decode(&first)
			log.add("any1 %s %d %v", event, len(args), first)
		})
		remove := s.OnAny(func(event string, args Args) { log.add("any2 %s", event) })
		s.PrependAny(func(event string, args Args) { log.add("prepended %s", event) })
		s.OnAny(func(event string, args Args) {
			if event == "panic" {
				panic("in a listener")
			}
		})
		s.On("ev", func(n int) { log.add("handler %d", n) })
		s.On("sync", func(ack Ack) { ack() })
		removers <- remove
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	remove := recv(t, removers)
	sync := func(id int) []string {
		t.Helper()
		c.emitWithAck("/", id, "sync")
		c.expect(fmt.Sprintf("3%d[]", id))
		return log.take()
	}

	c.emit("/", "ev", 1)
	c.emit("/", "unhandled", "x")
	want := []string{
		"prepended ev", "any1 ev 1 1", "any2 ev", "handler 1",
		"prepended unhandled", "any1 unhandled 1 x", "any2 unhandled",
		"prepended sync", "any1 sync 0 <nil>", "any2 sync",
	}
	if got := sync(1); !slices.Equal(got, want) {
		t.Fatalf("calls\n%q\nwant\n%q", got, want)
	}

	// A panicking listener does not stop the handlers.
	c.emit("/", "panic")
	c.emit("/", "ev", 2)
	if got := sync(2); !slices.Contains(got, "handler 2") {
		t.Fatalf("calls %q lack the handler", got)
	}

	remove()
	remove() // twice is harmless
	c.emit("/", "ev", 3)
	want = []string{"prepended ev", "any1 ev 1 3", "handler 3", "prepended sync", "any1 sync 0 <nil>"}
	if got := sync(3); !slices.Equal(got, want) {
		t.Fatalf("after remove: calls\n%q\nwant\n%q", got, want)
	}
}

func TestOffAny(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	var log callLog
	ts.io.OnConnection(func(s *Socket) {
		s.OnAny(func(event string, _ Args) { log.add("any %s", event) })
		s.PrependAny(func(event string, _ Args) { log.add("prepended %s", event) })
		s.On("off", func(ack Ack) { s.OffAny(); ack() })
		s.On("ev", func() { log.add("handler") })
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	c.emitWithAck("/", 1, "off")
	c.expect("31[]")
	if got := log.take(); !slices.Equal(got, []string{"prepended off", "any off"}) {
		t.Fatalf("calls %q", got)
	}
	c.emitWithAck("/", 2, "off")
	c.expect("32[]")
	c.emit("/", "ev")
	c.emitWithAck("/", 3, "off")
	c.expect("33[]")
	if got := log.take(); !slices.Equal(got, []string{"handler"}) {
		t.Fatalf("calls after OffAny %q", got)
	}
}

func TestOnAnyOutgoing(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	var log callLog
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)
	s.OnAnyOutgoing(func(event string, args []any) { log.add("out2 %s", event) })
	// Prepended: called before the listener added first.
	remove := s.PrependAnyOutgoing(func(event string, args []any) { log.add("out1 %s %v", event, args) })

	if err := s.Emit("direct", 1, "a"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["direct",1,"a"]`)
	if err := ts.io.Emit("broadcast", true); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["broadcast",true]`)
	if err := ts.io.To(s.ID()).Emit("room"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["room"]`)
	if err := s.Broadcast().Emit("not to me"); err != nil {
		t.Fatal(err)
	}
	want := []string{"out1 direct [1 a]", "out2 direct", "out1 broadcast [true]", "out2 broadcast", "out1 room []", "out2 room"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("outgoing\n%q\nwant\n%q", got, want)
	}

	// Acknowledgements are not events.
	done := make(chan error, 1)
	go func() {
		_, err := s.Timeout(waitTimeout).EmitWithAck(t.Context(), "asked", 2)
		done <- err
	}()
	e := c.expectEvent()
	c.ack("/", e.id, "ok")
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); !slices.Equal(got, []string{"out1 asked [2]", "out2 asked"}) {
		t.Fatalf("outgoing with ack %q", got)
	}

	remove()
	if err := s.Emit("after remove"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["after remove"]`)
	if got := log.take(); !slices.Equal(got, []string{"out2 after remove"}) {
		t.Fatalf("after remove %q", got)
	}
	s.OffAnyOutgoing()
	if err := s.Emit("after off"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["after off"]`)
	if got := log.take(); len(got) != 0 {
		t.Fatalf("after OffAnyOutgoing %q", got)
	}
}

func TestPacketMiddleware(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	var log callLog
	errs := make(chan error, 4)
	ts.io.OnConnection(func(s *Socket) {
		s.Use(func(ev *Event) error {
			log.add("mw1 %s ack=%v", ev.Name, ev.Ack != nil)
			if ev.Name == "forbidden" {
				return errors.New("forbidden event")
			}
			return nil
		})
		s.Use(func(ev *Event) error {
			log.add("mw2 %s", ev.Name)
			if ev.Name == "answered" {
				// A middleware may answer in the handler's place.
				ev.Ack("from middleware")
				return errors.New("answered")
			}
			// A middleware may block: it waits here for another
			// goroutine's work.
			done := make(chan struct{})
			go func() { close(done) }()
			<-done
			return nil
		})
		s.OnAny(func(event string, _ Args) { log.add("any %s", event) })
		s.OnError(func(err error) { errs <- err })
		s.On("forbidden", func() { log.add("forbidden handler") })
		s.On("answered", func(ack Ack) { log.add("answered handler") })
		s.On("ok", func(ack Ack) { log.add("ok handler"); ack() })
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))

	c.emit("/", "forbidden")
	if err := recv(t, errs); err == nil || err.Error() != "forbidden event" {
		t.Fatalf("OnError got %v", err)
	}
	c.emitWithAck("/", 1, "answered")
	c.expect(`31["from middleware"]`)
	if err := recv(t, errs); err == nil || err.Error() != "answered" {
		t.Fatalf("OnError got %v", err)
	}
	c.emitWithAck("/", 2, "ok")
	c.expect("32[]")
	want := []string{
		"any forbidden", "mw1 forbidden ack=false",
		"any answered", "mw1 answered ack=true", "mw2 answered",
		"any ok", "mw1 ok ack=true", "mw2 ok", "ok handler",
	}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestPacketMiddlewarePanic(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	errs := make(chan error, 1)
	ts.io.OnConnection(func(s *Socket) {
		s.Use(func(ev *Event) error {
			if ev.Name == "boom" {
				panic("middleware panic")
			}
			return nil
		})
		s.OnError(func(err error) { errs <- err })
		s.On("boom", func() { t.Error("handler ran after its middleware panicked") })
		s.On("ok", func(ack Ack) { ack() })
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	c.emit("/", "boom")
	if err := recv(t, errs); err == nil || !strings.Contains(err.Error(), "middleware panic") {
		t.Fatalf("OnError got %v", err)
	}
	c.emitWithAck("/", 1, "ok")
	c.expect("31[]")
}
