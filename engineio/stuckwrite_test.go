package engineio

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// TestStuckWriteClosedByHeartbeat: a WebSocket client that stops reading
// but keeps sending pongs without reading the pings (so the heartbeat alone
// would never time it out) leaves the server's writer stuck in a write.
// Writes have no deadline; the heartbeat notices the same write still
// going one period later and closes the session with "transport error",
// while another client goes on.
func TestStuckWriteClosedByHeartbeat(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{
		PingInterval:  100 * time.Millisecond,
		PingTimeout:   100 * time.Millisecond,
		MaxQueueBytes: 64 << 20, // never a slow consumer here
	})
	defer e.close()
	stuck, _, stuckSess := e.wsHandshake()
	defer stuck.close()
	other, _, _ := e.wsHandshake()
	defer other.close()
	// The other client reads, answering pings.
	otherGot := make(chan string, 16)
	var otherWrite sync.Mutex
	go func() {
		defer close(otherGot)
		for {
			_, data, err := other.conn.ReadMessage()
			if err != nil {
				return
			}
			if string(data) == "2" {
				otherWrite.Lock()
				err := other.conn.WriteMessage(1, []byte("3"))
				otherWrite.Unlock()
				if err != nil {
					return
				}
				continue
			}
			otherGot <- string(data)
		}
	}()

	// Blind pongs, never reading.
	stop := make(chan struct{})
	pongs := make(chan struct{})
	go func() {
		defer close(pongs)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if stuck.conn.WriteMessage(1, []byte("3")) != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-pongs }()

	// Fill the kernel's buffers: 64 MiB is far more than loopback holds.
	msg := textMsg(strings.Repeat("x", 64<<10))
	for range 512 {
		if stuckSess.Send(msg, SendOptions{}) != nil {
			break
		}
	}
	e.rec.expectClose(t, stuckSess, ReasonTransportError)

	// The other client is still served.
	otherWrite.Lock()
	err := other.conn.WriteMessage(1, []byte("4still here"))
	otherWrite.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, otherGot, "the other client's echo"); got != "4still here" {
		t.Fatalf("other client got %q", got)
	}
	other.close()
	for range otherGot {
	}
}
