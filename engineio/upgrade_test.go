package engineio

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

func TestUpgrade(t *testing.T) {
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
	// The pending poll is released with a noop.
	if got := packetString(pollResult(t, pending)); got != "6" {
		t.Errorf("pending poll: %q", got)
	}
	if s.Transport() != TransportPolling {
		t.Errorf("transport %q before the upgrade packet", s.Transport())
	}
	ws.write("5")
	waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })

	if err := s.Send(textMsg("over ws"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := ws.readText(); got != "4over ws" {
		t.Errorf("after upgrade: %q", got)
	}
	ws.write("4from client")
	if m := recv(t, e.rec.msgs, "message"); m.data != "from client" || m.s != s {
		t.Errorf("message %+v", m)
	}
	// Polling is over for this session.
	res := e.mustDo("GET", c.query(), "", nil)
	if res.status != 400 || res.body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("poll after upgrade: %d %s", res.status, res.body)
	}
	// A second upgrade is refused: the WebSocket is closed, the session
	// goes on.
	ws2 := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	ws2.expectClosed()
	ws2.close()
	if err := s.Send(textMsg("still"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := ws.readText(); got != "4still" {
		t.Errorf("after refused upgrade: %q", got)
	}
	ws.close()
	e.rec.expectClose(t, s, ReasonTransportClose)
}

// TestUpgradeOrdering sends numbered messages while the client upgrades,
// in every window of the upgrade and then concurrently with it; the client
// must see each exactly once, in order, across both transports.
func TestUpgradeOrdering(t *testing.T) {
	t.Run("phased", func(t *testing.T) { testUpgradeOrdering(t, false) })
	for i := range 5 {
		t.Run("concurrent"+strconv.Itoa(i), func(t *testing.T) { testUpgradeOrdering(t, true) })
	}
}

func testUpgradeOrdering(t *testing.T, concurrent bool) {
	defer leakcheck.Check(t)()
	const total = 100
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()

	var next atomic.Int32 // the next number to send
	sendUpTo := func(n int32) {
		for ; next.Load() < n; next.Add(1) {
			if err := s.Send(textMsg(strconv.Itoa(int(next.Load()))), SendOptions{}); err != nil {
				t.Errorf("Send: %v", err)
				return
			}
		}
	}
	var wg sync.WaitGroup
	if concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Load() < total {
				sendUpTo(next.Load() + 1)
				if next.Load()%10 == 0 {
					time.Sleep(100 * time.Microsecond) // spread the sends over the upgrade
				}
			}
		}()
	}

	var mu sync.Mutex
	var got []int
	collect := func(packets []parser.Packet) error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range packets {
			switch p.Type {
			case parser.PacketMessage:
				n, err := strconv.Atoi(string(p.Data))
				if err != nil {
					return err
				}
				got = append(got, n)
			case parser.PacketNoop:
			default:
				t.Errorf("unexpected packet %v", p.Type)
			}
		}
		return nil
	}

	// The polling side, as the real client runs it: poll in a loop until
	// the probe succeeds, then finish the poll under way and stop.
	var paused atomic.Bool
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		for !paused.Load() {
			res, err := c.get()
			if err != nil || res.status != 200 {
				t.Errorf("poll: %v %d %q", err, res.status, res.body)
				return
			}
			var packets []parser.Packet
			_ = parser.DecodePayload([]byte(res.body), func(p parser.Packet) error {
				p.Data = append([]byte(nil), p.Data...)
				packets = append(packets, p)
				return nil
			})
			if err := collect(packets); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	if !concurrent {
		sendUpTo(25) // before the WebSocket
	}
	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	defer ws.close()
	if !concurrent {
		sendUpTo(50) // while the probe is open
	}
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	paused.Store(true)
	if !concurrent {
		sendUpTo(75) // between the probe and the upgrade packet
	}
	recv(t, pollDone, "the last poll")
	ws.write("5")
	if !concurrent {
		sendUpTo(total) // after the upgrade packet
	}
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= total || t.Failed() {
			break
		}
		kind, data := ws.readSkipPings()
		if kind != websocket.TextMessage {
			t.Fatalf("frame type %d", kind)
		}
		p, err := parser.DecodePacket([]byte(data), false)
		if err != nil {
			t.Fatal(err)
		}
		if err := collect([]parser.Packet{p}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, n := range got {
		if n != i {
			t.Fatalf("message %d is %d; got %v", i, n, got)
		}
	}
	if len(got) != total {
		t.Fatalf("got %d messages", len(got))
	}
	// The client may have had everything over polling before the server
	// read its upgrade packet.
	waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })
	ws.close()
	e.rec.expectClose(t, s, ReasonTransportClose)
}

// TestUpgradeTimeout: a probe that does not finish in UpgradeTimeout is
// dropped; the session stays on polling.
func TestUpgradeTimeout(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{UpgradeTimeout: 250 * time.Millisecond})
	defer e.close()
	c, _, s := e.handshake()

	// Probed but never upgraded.
	start := time.Now()
	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	ws.expectClosed()
	ws.close()
	if d := time.Since(start); d < e.srv.Options().UpgradeTimeout {
		t.Errorf("probe closed after %v", d)
	}
	// Not even probed.
	ws = e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	ws.expectClosed()
	ws.close()

	if s.Transport() != TransportPolling || e.rec.closeCount(s) != 0 {
		t.Fatalf("session %s, %d closes", s.Transport(), e.rec.closeCount(s))
	}
	// The probe's noop may be waiting; then the session works as before.
	c.post("4still here")
	recv(t, e.rec.msgs, "message")
	var got []parser.Packet
	for len(got) == 0 {
		for _, p := range c.mustGet() {
			if p.Type != parser.PacketNoop {
				got = append(got, p)
			}
		}
	}
	if packetString(got) != "4still here" {
		t.Errorf("poll %q", packetString(got))
	}
	// And it can still upgrade.
	ws = e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	defer ws.close()
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	ws.write("5")
	ws.write("4over ws")
	if got := ws.readText(); got != "4over ws" {
		t.Errorf("echo %q", got)
	}
}

// TestUpgradeBadProbe: anything but the probe or the upgrade packet drops
// the new WebSocket and leaves the session alone.
func TestUpgradeBadProbe(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	for _, first := range []string{"4hello", "2notprobe", "x"} {
		ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
		ws.write(first)
		ws.expectClosed()
		ws.close()
	}
	// The probe slot is free again once a dropped probe is cleaned up.
	waitFor(t, "the probe dropped", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.probe == nil
	})
	if s.Transport() != TransportPolling || e.rec.closeCount(s) != 0 {
		t.Fatalf("session %s, %d closes", s.Transport(), e.rec.closeCount(s))
	}
	noRecv(t, e.rec.msgs, 10*time.Millisecond, "message from a probe")
}

func TestUpgradeDisabled(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{DisableUpgrades: true})
	defer e.close()
	c, hd, s := e.handshake()
	if len(hd.Upgrades) != 0 {
		t.Errorf("upgrades %v", hd.Upgrades)
	}
	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	ws.write("2probe")
	ws.expectClosed()
	ws.close()
	if s.Transport() != TransportPolling {
		t.Errorf("transport %q", s.Transport())
	}
}

// TestUpgradeDuringClose: a session closed from the server while the probe
// is under way hands its close over to the WebSocket once upgraded.
func TestUpgradeDuringClose(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	defer ws.close()
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	if err := s.Send(textMsg("last"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ws.write("5")
	if got := ws.readText(); got != "4last" {
		t.Errorf("got %q", got)
	}
	_, _, err := ws.read()
	if !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
		t.Errorf("read: %v, want a close frame without status, as the reference sends", err)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
}

// TestUpgradeAfterClose: the probe of a session that closed meanwhile is
// dropped.
func TestUpgradeAfterClose(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + c.sid)
	defer ws.close()
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	c.post("1")
	e.rec.expectClose(t, s, ReasonTransportClose)
	ws.expectClosed()
}
