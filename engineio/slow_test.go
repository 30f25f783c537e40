package engineio

import (
	"errors"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// TestSlowConsumerPolling: a polling client that stops polling is closed
// once its queue passes MaxQueueBytes; the others go on.
func TestSlowConsumerPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{MaxQueueBytes: 1000})
	defer e.close()
	c, _, s := e.handshake()
	other, _, _ := e.wsHandshake()
	defer other.close()

	msg := []byte(strings.Repeat("m", 99)) // 100 bytes queued with its type
	for i := range 10 {                    // exactly the limit
		if err := s.Send(msg, false); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if err := s.Send(msg, false); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Send past the limit: %v", err)
	}
	e.rec.expectClose(t, s, ReasonSlowConsumer)
	if err := s.Send(msg, false); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Send after: %v", err)
	}
	res := e.mustDo("GET", c.query(), "", nil)
	if res.status != 400 || res.body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("poll after: %d %s", res.status, res.body)
	}
	other.write("4fine")
	if got := other.readText(); got != "4fine" {
		t.Errorf("other session: %q", got)
	}
}

// TestSlowConsumerOneBigMessage: a single message larger than the
// limit is accepted on an empty queue, so that a limit below the largest
// message does not close every session.
func TestSlowConsumerOneBigMessage(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 10})
	defer e.close()
	_, _, s := e.handshake()
	if err := s.Send([]byte(strings.Repeat("x", 50)), false); err != nil {
		t.Fatal(err)
	}
	if err := s.Send([]byte("y"), false); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("second Send: %v", err)
	}
	e.rec.expectClose(t, s, ReasonSlowConsumer)
}

// TestSlowConsumerWebSocket: a WebSocket client that does not read is
// closed once the kernel's buffers and then its queue are full, while a
// client that reads, sent the same messages, goes on.
func TestSlowConsumerWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 64 << 10})
	defer e.close()
	slow, _, slowSess := e.wsHandshake()
	defer slow.close()
	fast, _, fastSess := e.wsHandshake()
	defer fast.close()

	// The fast client reads everything until the end marker.
	received := make(chan int, 1)
	go func() {
		n := 0
		for {
			_, data, err := fast.read()
			if err != nil || string(data) == "4end" {
				received <- n
				return
			}
			n++
		}
	}()

	msg := []byte(strings.Repeat("m", 1023))
	sent := 0
	var err error
	// 100 MB at most: far more than loopback buffers hold.
	for round := 0; round < 12800 && err == nil; round++ {
		for range 8 {
			if err = slowSess.Send(msg, false); err != nil {
				break
			}
			if ferr := fastSess.Send(msg, false); ferr != nil {
				t.Fatalf("fast client: %v", ferr)
			}
			sent++
		}
		// Keep to the fast client's pace.
		waitFor(t, "the fast client to catch up", fastSess.Writable)
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("after %d messages: %v", sent, err)
	}
	e.rec.expectClose(t, slowSess, ReasonSlowConsumer)
	if err := fastSess.Send([]byte("end"), false); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, received, "the fast client's count"); n != sent {
		t.Errorf("fast client got %d messages of %d", n, sent)
	}
	if n := e.rec.closeCount(fastSess); n != 0 {
		t.Error("fast client closed")
	}
	// The slow client finds its connection closed once it reads.
	slow.expectClosed()
}
