package socketio

import (
	"slices"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// TestRecoveryWhileStillConnected: a client that reconnects with its
// private id while the server still holds its old connection (it gave up
// on a connection whose loss the server has not seen, as happens behind a
// load balancer) gets its session back: the old connection is let go as a
// lost one, and the events sent meanwhile come with the CONNECT.
func TestRecoveryWhileStillConnected(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, conns, reasons := recoveryServer(t, nil)
	defer ts.Close()
	c := ts.dial()
	r := c.connect("/", nil)
	s := recv(t, conns)
	s.Join("r")
	if err := ts.io.To("r").Emit("first"); err != nil {
		t.Fatal(err)
	}
	offset := lastString(t, c.expectEvent())
	if err := ts.io.To("r").Emit("second"); err != nil {
		t.Fatal(err)
	}
	c.expectEvent() // the old connection got it too, the new one asks from offset

	c2 := ts.dial()
	defer c2.Close()
	c2.sendConnect("/", map[string]any{"pid": r.PID, "offset": offset})
	if e := c2.expectEvent(); e.name != "second" {
		t.Fatalf("missed event %+v, want second", e)
	}
	if r2 := c2.expectConnect("/"); r2 != r {
		t.Fatalf("CONNECT reply %+v, want the old ids %+v", r2, r)
	}
	if got := recv(t, reasons); got != ReasonTransportClose {
		t.Fatalf("old socket closed with %q, want %q", got, ReasonTransportClose)
	}
	s2 := recv(t, conns)
	if !s2.Recovered() || s2.ID() != s.ID() || !slices.Equal(sorted(s2.Rooms()), sorted([]string{s.ID(), "r"})) {
		t.Fatalf("recovered socket %s (recovered %v) in %v", s2.ID(), s2.Recovered(), s2.Rooms())
	}
	c.expectClosed()
}
