package engineio

import (
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// fastHeartbeat pings every 50ms. The timeout leaves room for a loaded
// machine running the race detector: clients that answer must never miss it.
var fastHeartbeat = Options{PingInterval: 50 * time.Millisecond, PingTimeout: 500 * time.Millisecond}

func TestHeartbeatWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	opts := fastHeartbeat
	e := newEnv(t, newRecorder(false), &opts)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()

	// A client that answers stays open over several intervals.
	start := time.Now()
	for range 6 {
		if got := c.readText(); got != "2" {
			t.Fatalf("got %q, want a ping", got)
		}
		c.write("3")
	}
	if d := time.Since(start); d < 5*opts.PingInterval {
		t.Errorf("6 pings in %v, interval %v", d, opts.PingInterval)
	}
	if n := e.rec.closeCount(s); n != 0 {
		t.Fatal("session closed while answering pings")
	}
	// Then it stops answering.
	if got := c.readText(); got != "2" {
		t.Fatalf("got %q, want a ping", got)
	}
	pinged := time.Now()
	e.rec.expectClose(t, s, ReasonPingTimeout)
	if d := time.Since(pinged); d < opts.PingTimeout/2 {
		t.Errorf("closed %v after the ping, timeout %v", d, opts.PingTimeout)
	}
	c.expectClosed()
}

func TestHeartbeatPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	opts := fastHeartbeat
	e := newEnv(t, newRecorder(false), &opts)
	defer e.close()
	c, _, s := e.handshake()
	for range 4 {
		if got := packetString(c.mustGet()); got != "2" {
			t.Fatalf("poll %q, want a ping", got)
		}
		c.post("3")
	}
	if n := e.rec.closeCount(s); n != 0 {
		t.Fatal("session closed while answering pings")
	}
	if got := packetString(c.mustGet()); got != "2" {
		t.Fatalf("poll %q, want a ping", got)
	}
	e.rec.expectClose(t, s, ReasonPingTimeout)
}

// TestHeartbeatSilentClient: a client that never answers is closed after
// one interval and one timeout.
func TestHeartbeatSilentClient(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	defer e.close()
	start := time.Now()
	_, _, s := e.handshake()
	e.rec.expectClose(t, s, ReasonPingTimeout)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("closed after %v, want at least 100ms", d)
	}
}

// TestHeartbeatRefresh: a packet received while a pong is awaited extends
// the timeout, as the reference does.
func TestHeartbeatRefresh(t *testing.T) {
	defer leakcheck.Check(t)()
	opts := Options{PingInterval: 50 * time.Millisecond, PingTimeout: 800 * time.Millisecond}
	e := newEnv(t, newRecorder(false), &opts)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	if got := c.readText(); got != "2" {
		t.Fatalf("got %q", got)
	}
	pinged := time.Now()
	// A message half way through the timeout pushes the deadline back by
	// a full timeout.
	time.Sleep(opts.PingTimeout / 2)
	c.write("4a")
	e.rec.expectClose(t, s, ReasonPingTimeout)
	if d := time.Since(pinged); d < opts.PingTimeout*5/4 {
		t.Errorf("closed %v after the ping; the message should have extended the %v timeout", d, opts.PingTimeout)
	}
}

// TestPingFromV4Client: in v4 only the server pings; a ping from the client
// is a transport error ("invalid heartbeat direction" in the reference).
func TestPingFromV4Client(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	c.write("2")
	e.rec.expectClose(t, s, ReasonTransportError)
	c.expectClosed()
}
