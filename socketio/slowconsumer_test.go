package socketio

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// TestSlowConsumer: WebSocket clients receive a high-rate broadcast while
// one of them stops reading. The others get every non-volatile event, in
// order, and are never held up; the one that stopped is disconnected with
// "slow consumer" once MaxQueueBytes are waiting for it; and the server's
// heap stays within a bound set by MaxQueueBytes, however much is
// broadcast.
func TestSlowConsumer(t *testing.T) {
	defer leakcheck.Check(t)()
	const (
		maxQueue = 2 << 20
		fastN    = 4
		// window is how far the broadcast may run ahead of the slowest
		// fast client: well under what MaxQueueBytes holds for it.
		window = 64
		// limit bounds the broadcast: far more than the kernel's socket
		// buffers and MaxQueueBytes hold together.
		limit = 100_000
	)
	payload := strings.Repeat("p", 2000)
	// No heartbeat during the test: the client that stops reading must be
	// closed for falling behind, not for missing a pong.
	ts := newTestServer(t, &Options{Options: engineio.Options{
		MaxQueueBytes: maxQueue,
		PingInterval:  time.Hour,
		PingTimeout:   time.Hour,
	}})
	defer ts.Close()
	reasons := make(chan struct {
		id     string
		reason Reason
	}, fastN+1)
	ts.io.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r Reason) {
			reasons <- struct {
				id     string
				reason Reason
			}{s.ID(), r}
		})
	})
	url := "ws" + strings.TrimPrefix(ts.hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

	// The client that stops reading. (A small receive buffer would fill the
	// server's queue sooner, but a window that never opens by a whole
	// segment again leaves the last reads to TCP's slow window probes.)
	slow, slowID := joinRaw(t, websocket.Dialer{HandshakeTimeout: waitTimeout}, url)
	defer slow.Close()

	fast := make([]*fastReader, fastN)
	for i := range fast {
		conn, id := joinRaw(t, websocket.Dialer{HandshakeTimeout: waitTimeout}, url)
		fast[i] = &fastReader{conn: conn, id: id, done: make(chan struct{})}
		go fast[i].run()
	}
	defer func() {
		for _, f := range fast {
			f.conn.Close()
			<-f.done
		}
	}()
	minSeen := func() int64 {
		m := int64(limit)
		for _, f := range fast {
			if err := f.failed(); err != nil {
				t.Fatalf("fast client %s: %v", f.id, err)
			}
			m = min(m, f.seen.Load())
		}
		return m
	}
	// waitFast waits until every fast client has seen event seq. A stall
	// shows as a time-out.
	waitFast := func(seq int64) {
		deadline := time.Now().Add(30 * time.Second)
		for minSeen() < seq {
			if time.Now().After(deadline) {
				t.Fatalf("the fast clients stalled at event %d, waiting for %d", minSeen(), seq)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}

	heap0 := soakHeap()
	peak := heap0
	var seq, volatileSeq int64
	emit := func() {
		if err := ts.io.Emit("tick", seq, payload); err != nil {
			t.Fatal(err)
		}
		seq++
		if seq%8 == 0 {
			if err := ts.io.Volatile().Emit("vtick", volatileSeq); err != nil {
				t.Fatal(err)
			}
			volatileSeq++
		}
		if seq%200 == 0 {
			peak = max(peak, soakHeap())
		}
		waitFast(seq - window)
	}
	var slowGone bool
	for !slowGone {
		if seq >= limit {
			t.Fatalf("the client that stopped reading is still connected after %d events", seq)
		}
		emit()
		select {
		case d := <-reasons:
			if d.id != slowID {
				t.Fatalf("socket %s disconnected (%s), not the slow one", d.id, d.reason)
			}
			if d.reason != ReasonSlowConsumer {
				t.Fatalf("the slow client disconnected with %q, want %q", d.reason, ReasonSlowConsumer)
			}
			slowGone = true
		default:
		}
	}
	slowAt := seq
	// The others go on.
	for range 1000 {
		emit()
	}
	peak = max(peak, soakHeap())
	waitFast(seq)
	for _, f := range fast {
		if got := f.seen.Load(); got != seq {
			t.Errorf("fast client %s saw %d events, want %d", f.id, got, seq)
		}
	}
	select {
	case d := <-reasons:
		t.Fatalf("socket %s disconnected (%s)", d.id, d.reason)
	default:
	}

	// The slow client finds, once it reads, the first events in order,
	// then its connection closed.
	got := int64(0)
	for {
		_ = slow.SetReadDeadline(time.Now().Add(waitTimeout))
		_, data, err := slow.ReadMessage()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the slow client's connection is still open after %d events", got)
			}
			break
		}
		if n, ok := tickSeq(string(data)); ok {
			if n != got {
				t.Fatalf("the slow client got event %d, want %d", n, got)
			}
			got++
		}
	}
	bound := heap0 + 3*maxQueue + 4<<20
	t.Logf("the slow client was closed after %d events of %d bytes (it had read %d); %d events broadcast in all; heap after GC %.1f MiB at the start, at most %.1f MiB during the broadcast (bound %.1f MiB: 3 × MaxQueueBytes of %.0f MiB + 4 MiB)",
		slowAt, len(payload), got, seq, soakMiB(heap0), soakMiB(peak), soakMiB(bound), soakMiB(maxQueue))
	if peak > bound {
		t.Errorf("heap reached %.1f MiB, bound %.1f MiB", soakMiB(peak), soakMiB(bound))
	}
}

// joinRaw opens a WebSocket session and joins "/", returning the
// connection and the socket id.
func joinRaw(t *testing.T, d websocket.Dialer, url string) (*websocket.Conn, string) {
	t.Helper()
	conn, res, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, _, err := conn.ReadMessage(); err != nil { // the open packet
		t.Fatal(err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	_, reply, err := conn.ReadMessage()
	if err != nil || !strings.HasPrefix(string(reply), "40{") {
		t.Fatalf("CONNECT reply %q: %v", reply, err)
	}
	var r connectReplyData
	if err := json.Unmarshal(reply[2:], &r); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, r.SID
}

// tickSeq reads the number of a "tick" event.
func tickSeq(pkt string) (int64, bool) {
	rest, ok := strings.CutPrefix(pkt, `42["tick",`)
	if !ok {
		return 0, false
	}
	var n int64
	if _, err := fmt.Sscan(rest[:strings.IndexByte(rest, ',')], &n); err != nil {
		return 0, false
	}
	return n, true
}

// fastReader reads a client's events as they come, checking that the
// non-volatile ones come in order, each once, and the volatile ones in
// order.
type fastReader struct {
	conn *websocket.Conn
	id   string
	seen atomic.Int64 // non-volatile events seen
	done chan struct{}

	mu  sync.Mutex
	err error
}

func (f *fastReader) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *fastReader) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fastReader) run() {
	defer close(f.done)
	lastVolatile := int64(-1)
	for {
		_, data, err := f.conn.ReadMessage()
		if err != nil {
			return // closed by the test
		}
		pkt := string(data)
		switch {
		case pkt == "2":
			_ = f.conn.WriteMessage(websocket.TextMessage, []byte("3"))
		case strings.HasPrefix(pkt, `42["tick",`):
			n, ok := tickSeq(pkt)
			if want := f.seen.Load(); !ok || n != want {
				f.fail(fmt.Errorf("got %.40q, want event %d", pkt, want))
				return
			}
			f.seen.Add(1)
		case strings.HasPrefix(pkt, `42["vtick",`):
			var args []any
			var n int64
			if json.Unmarshal(data[2:], &args) != nil || len(args) != 2 {
				f.fail(fmt.Errorf("volatile event %q", pkt))
				return
			}
			n = int64(args[1].(float64))
			if n <= lastVolatile {
				f.fail(fmt.Errorf("volatile event %d after %d", n, lastVolatile))
				return
			}
			lastVolatile = n
		default:
			f.fail(fmt.Errorf("unexpected packet %.40q", pkt))
			return
		}
	}
}
