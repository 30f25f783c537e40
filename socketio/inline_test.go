package socketio

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// TestSlowHandlerDelaysNothingElse: a handler may run in the goroutine
// that read its event (a WebSocket burst), but one that blocks must not
// delay the session's heartbeat or the next event of another namespace
// on the same connection; the same socket's next event waits for it, in
// order.
func TestSlowHandlerDelaysNothingElse(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{Options: engineio.Options{PingInterval: 20 * time.Millisecond, PingTimeout: 200 * time.Millisecond}})
	defer ts.Close()
	var mu sync.Mutex
	var release chan struct{}
	var order []string
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	ts.io.Of("/").OnConnection(func(s *Socket) {
		s.On("slow", func() {
			mu.Lock()
			ch := release
			mu.Unlock()
			<-ch
			record("slow")
		})
		s.On("after", func(ack Ack) {
			record("after")
			_ = ack()
		})
	})
	ts.io.Of("/other").OnConnection(func(s *Socket) {
		s.On("fast", func(ack Ack) { _ = ack("ok") })
	})
	c := ts.dial()
	c.connect("/", nil)
	c.connect("/other", nil)
	for round := range 20 {
		mu.Lock()
		release = make(chan struct{})
		order = order[:0]
		mu.Unlock()
		c.emit("/", "slow")
		c.emitWithAck("/", 2*round, "after")
		c.emitWithAck("/other", 2*round+1, "fast")
		// While "slow" blocks: the other namespace's event is handled...
		c.expect(fmt.Sprintf(`3/other,%d["ok"]`, 2*round+1))
		// ... and the heartbeat goes on (a pong left unread would close
		// the session after 200 ms; the server pings again only after
		// reading the last pong).
		pings := c.pings.Load()
		waitFor(t, "three more heartbeats", func() bool { return c.pings.Load() >= pings+3 })
		mu.Lock()
		if len(order) != 0 {
			t.Fatalf("round %d: %v ran while slow blocked", round, order)
		}
		close(release)
		mu.Unlock()
		c.expect(fmt.Sprintf(`3%d[]`, 2*round))
		mu.Lock()
		if got := fmt.Sprint(order); got != "[slow after]" {
			t.Fatalf("round %d: handlers ran in order %s", round, got)
		}
		mu.Unlock()
	}
}
