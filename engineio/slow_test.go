package engineio

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
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

	msg := textMsg(strings.Repeat("m", 99)) // 100 bytes queued with its type
	for i := range 10 {                     // exactly the limit
		if err := s.Send(msg, SendOptions{}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if err := s.Send(msg, SendOptions{}); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Send past the limit: %v", err)
	}
	e.rec.expectClose(t, s, ReasonSlowConsumer)
	if err := s.Send(msg, SendOptions{}); !errors.Is(err, ErrSessionClosed) {
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
	if err := s.Send(textMsg(strings.Repeat("x", 50)), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(textMsg("y"), SendOptions{}); !errors.Is(err, ErrSlowConsumer) {
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

	msg := textMsg(strings.Repeat("m", 1023))
	sent := 0
	var err error
	// 100 MB at most: far more than loopback buffers hold.
	for round := 0; round < 12800 && err == nil; round++ {
		for range 8 {
			if err = slowSess.Send(msg, SendOptions{}); err != nil {
				break
			}
			if ferr := fastSess.Send(msg, SendOptions{}); ferr != nil {
				t.Fatalf("fast client: %v", ferr)
			}
			sent++
		}
		// Keep to the fast client's pace.
		waitFor(t, "the fast client to catch up", fastSess.writableForTest)
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("after %d messages: %v", sent, err)
	}
	e.rec.expectClose(t, slowSess, ReasonSlowConsumer)
	if err := fastSess.Send(textMsg("end"), SendOptions{}); err != nil {
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

// TestWebSocketOrderWhileBehind: messages sent while a client is not
// reading (written at once, then in part, then queued for the writer) and
// after it reads again arrive whole and in order, binary and text mixed,
// and are counted once each.
func TestWebSocketOrderWhileBehind(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 64 << 20})
	defer e.close()
	c, _, s := e.wsHandshake()
	defer c.close()
	message := func(i int) []byte {
		data := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*613%9000)
		return append([]byte(strconv.Itoa(i)+":"), data...)
	}
	const n = 3000
	var bytesOut uint64
	// The client reads nothing until the first half is sent: by then the
	// kernel's buffers are full and the rest waits in the queue.
	for i := range n {
		if i == n/2 {
			go func() {
				for j := range n {
					kind, data, err := c.read()
					want, wantKind := append([]byte("4"), message(j)...), websocket.TextMessage
					if j%2 == 1 {
						want, wantKind = message(j), websocket.BinaryMessage
					}
					if err != nil || kind != wantKind || !bytes.Equal(data, want) {
						t.Errorf("message %d: kind %d, %d bytes starting %.8q, %v; want kind %d, %d bytes",
							j, kind, len(data), data, err, wantKind, len(want))
						return
					}
				}
				c.conn.Close()
			}()
		}
		m := message(i)
		bytesOut += uint64(len(m)) + 1
		if err := s.Send([]parser.Message{{Data: m, Binary: i%2 == 1}}, SendOptions{}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	e.rec.expectClose(t, s, ReasonTransportClose)
	if st := e.srv.Stats(); st.PacketsOut != n || st.BytesOut != bytesOut {
		t.Errorf("stats: %d packets, %d bytes out; want %d, %d", st.PacketsOut, st.BytesOut, n, bytesOut)
	}
}
