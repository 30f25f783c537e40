package engineio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// The attacks of this file hold polling requests open on purpose, so the
// servers under test have a short heartbeat: the bounds are that
// heartbeat's window (PingInterval+PingTimeout).
var shortHeartbeat = Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond}

// liveBystander is a WebSocket session that answers pings on its own, so
// that it lives through an attack however short the heartbeat.
type liveBystander struct {
	c      *wsClient
	wmu    sync.Mutex
	s      *Session
	echoes chan string
	done   chan struct{}
}

func (e *env) liveBystander() *liveBystander {
	e.t.Helper()
	c, _, s := e.wsHandshake()
	b := &liveBystander{c: c, s: s, echoes: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for {
			_, data, err := c.conn.ReadMessage()
			if err != nil {
				return
			}
			switch msg := string(data); {
			case msg == "2":
				b.write("3")
			case strings.HasPrefix(msg, "4"):
				b.echoes <- msg[1:]
			}
		}
	}()
	return b
}

// check sends a message and waits for its echo; the session must never
// have closed.
func (b *liveBystander) check(t testing.TB, rec *recorder, msg string) {
	t.Helper()
	if err := b.write("4" + msg); err != nil {
		t.Fatalf("bystander write: %v", err)
	}
	if got := recv(t, b.echoes, "the bystander's echo"); got != msg {
		t.Fatalf("bystander echo %q, want %q", got, msg)
	}
	if rec.closeCount(b.s) != 0 {
		t.Fatal("the bystander's session closed")
	}
}

func (b *liveBystander) write(text string) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return b.c.conn.WriteMessage(1, []byte(text))
}

func (b *liveBystander) close() {
	b.c.close()
	<-b.done
}

// rawRequest opens a TCP connection to the server and writes head, the
// head of an HTTP request, and the first bytes of its body.
func (e *env) rawRequest(head string) net.Conn {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		e.t.Fatal(err)
	}
	return conn
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// expectEnded reads conn until the server ends it, which must happen
// within waitTimeout; it returns the bytes read.
func expectEnded(t testing.TB, conn net.Conn, what string) int {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	n, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server still holds the connection after %v", what, waitTimeout)
	}
	return int(n)
}

// A POST that announces a large body and sends it a byte at a time is cut
// when its session closes, and holds a buffer the size of what it sent,
// not of what it announced, meanwhile.
func TestSlowPostBodyIsCut(t *testing.T) {
	defer leakcheck.Check(t)()
	opts := shortHeartbeat
	opts.MaxHTTPBufferSize = 1e6
	rec := newRecorder(true)
	e := newEnv(t, rec, &opts)
	defer e.close()
	by := e.liveBystander()
	defer by.close()

	const n = 40
	before := heapInUse()
	conns := make([]net.Conn, n)
	for i := range conns {
		p, _, _ := e.handshake()
		conns[i] = e.rawRequest(fmt.Sprintf("POST %s?%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 1000000\r\n\r\n4slow", e.base[len(e.ts.URL):], p.query()))
	}
	// A byte now and then on each, until the server stops taking them.
	stop := make(chan struct{})
	var trickle sync.WaitGroup
	for _, c := range conns {
		trickle.Add(1)
		go func() {
			defer trickle.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
	}
	defer func() { close(stop); trickle.Wait() }()

	time.Sleep(100 * time.Millisecond) // every body being read
	held := int64(heapInUse()) - int64(before)
	t.Logf("%d POSTs announcing 1 MB each and trickling it in hold %d KiB of heap", n, held>>10)
	if held > n*64<<10 {
		t.Errorf("%d slow POSTs hold %d KiB of heap, want at most 64 KiB each", n, held>>10)
	}
	by.check(t, rec, "during")
	// The sessions close at their ping timeout, since their POST cannot
	// carry a pong, and their POSTs end with them.
	for i, c := range conns {
		expectEnded(t, c, fmt.Sprintf("slow POST %d", i))
		c.Close()
	}
	waitFor(t, "the slow sessions gone", func() bool { return e.srv.SessionCount() == 1 })
	by.check(t, rec, "after")
}

// A POST body also has the heartbeat's window to arrive while its session
// lives on over WebSocket.
func TestSlowPostBodyDeadline(t *testing.T) {
	defer leakcheck.Check(t)()
	opts := shortHeartbeat
	rec := newRecorder(true)
	e := newEnv(t, rec, &opts)
	defer e.close()

	p, _, s := e.handshake()
	conn := e.rawRequest(fmt.Sprintf("POST %s?%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 1000\r\n\r\n4slow", e.base[len(e.ts.URL):], p.query()))
	defer conn.Close()
	// The session upgrades and answers its pings over WebSocket: only the
	// POST's deadline can end the POST.
	pending := p.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)
	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + s.ID())
	defer ws.close()
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	pollResult(t, pending)
	ws.write("5")
	waitFor(t, "the upgrade", func() bool { return s.Transport() == TransportWebSocket })
	keep := make(chan struct{})
	go func() {
		defer close(keep)
		for {
			kind, data, err := ws.conn.ReadMessage()
			if err != nil {
				return
			}
			if kind == 1 && string(data) == "2" {
				_ = ws.conn.WriteMessage(1, []byte("3"))
			}
		}
	}()
	start := time.Now()
	expectEnded(t, conn, "a POST trickling in")
	if rec.closeCount(s) != 0 {
		t.Fatal("the session closed; only its POST should have ended")
	}
	t.Logf("the POST was cut after %v (window %v)", time.Since(start).Round(time.Millisecond), opts.PingInterval+opts.PingTimeout)
	ws.close()
	<-keep
}

// A poll whose answer the client never reads ends its session once the
// heartbeat's window is over, and lets go of the answer, its goroutine
// and its connection; until then, the answer counts against the
// session's MaxQueueBytes.
func TestUnreadPollAnswer(t *testing.T) {
	defer leakcheck.Check(t)()
	// A longer window than the other attacks: the sends below must come
	// before it ends, on a loaded machine too.
	opts := Options{PingInterval: 2 * time.Second, PingTimeout: 2 * time.Second, MaxQueueBytes: 16 << 20}
	rec := newRecorder(true)
	var open atomic.Int32 // the server's connections not closed yet
	e := newEnvWith(t, rec, &opts, func(hs *http.Server) {
		hs.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
	})
	defer e.close()
	by := e.liveBystander()
	defer by.close()
	p, _, s := e.handshake()
	base := runtime.NumGoroutine() // the HTTP client's connection included
	conns := open.Load()

	big := strings.Repeat("x", 10<<20) // more than the kernel's buffers hold
	more := textMsg(strings.Repeat("y", 7<<20))
	if err := s.Send(textMsg(big), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	conn := e.rawRequest(fmt.Sprintf("GET %s?%s HTTP/1.1\r\nHost: x\r\n\r\n", e.base[len(e.ts.URL):], p.query()))
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	// The answer is being written, and is not read.
	waitFor(t, "the poll taking its answer", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.answering > 0
	})
	if err := s.Send(textMsg("small"), SendOptions{}); err != nil {
		t.Fatalf("a small message behind the answer: %v", err)
	}
	if err := s.Send(more, SendOptions{}); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("7 MiB behind a 10 MiB answer, with MaxQueueBytes 16 MiB: %v, want ErrSlowConsumer", err)
	}
	rec.expectClose(t, s, ReasonSlowConsumer)
	// The write of the answer ends at its deadline: the goroutine and the
	// connection go (what the kernel still holds for the client is the
	// kernel's).
	start := time.Now()
	waitFor(t, "the poll's goroutine gone", func() bool { return runtime.NumGoroutine() <= base })
	waitFor(t, "the poll's connection closed", func() bool { return open.Load() == conns })
	t.Logf("the unread answer was let go after %v (window %v)", time.Since(start).Round(time.Millisecond), opts.PingInterval+opts.PingTimeout)
	by.check(t, rec, "after")
}

// An answer read within the window is not cut, and the deadline it was
// written under does not outlive it: the connection carries the next
// request later.
func TestPollAnswerReadInTime(t *testing.T) {
	defer leakcheck.Check(t)()
	rec := newRecorder(true)
	opts := Options{PingInterval: 500 * time.Millisecond, PingTimeout: 500 * time.Millisecond}
	e := newEnv(t, rec, &opts)
	defer e.close()
	p, _, s := e.handshake()
	big := strings.Repeat("z", 4<<20)
	if err := s.Send(textMsg(big), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	path := e.base[len(e.ts.URL):]
	conn := e.rawRequest(fmt.Sprintf("GET %s?%s HTTP/1.1\r\nHost: x\r\n\r\n", path, p.query()))
	defer conn.Close()
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil || len(body) != len(big)+1 {
		t.Fatalf("answer of %d bytes, %v; want %d", len(body), err, len(big)+1)
	}
	if rec.closeCount(s) != 0 {
		t.Fatal("the session closed")
	}
	time.Sleep(opts.PingInterval + opts.PingTimeout + 500*time.Millisecond)
	if _, err := fmt.Fprintf(conn, "GET %s?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the next request on the connection: %v", err)
	}
	open, _ := io.ReadAll(res.Body)
	parseOpen(t, string(open))
	recv(t, rec.opens, "OnOpen")
}

// A polling session that the server closes while the client has gone is
// reaped when its heartbeat says the client is gone, not after the poll
// close delay on top (the reference's timing).
func TestAbandonedPollingSessionReaped(t *testing.T) {
	defer leakcheck.Check(t)()
	opts := shortHeartbeat
	closed := make(chan Reason, 1)
	srv := NewServer(HandlerFunc(func(c Conn) SessionHandler {
		// As a Socket.IO server does when no namespace is joined in time.
		time.AfterFunc(100*time.Millisecond, c.Close)
		return SessionFuncs{Close: func(r Reason) { closed <- r }}
	}), &opts)
	ts := httptest.NewServer(srv)
	e := &env{t: t, srv: srv, ts: ts, client: &http.Client{Timeout: waitTimeout}, base: ts.URL + srv.Options().Path}
	defer e.close()

	start := time.Now()
	res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
	parseOpen(t, res.body)
	select {
	case r := <-closed:
		if r != ReasonForcedClose {
			t.Errorf("reason %q, want %q", r, ReasonForcedClose)
		}
		if d := time.Since(start); d >= pollCloseTimeout/2 {
			t.Errorf("reaped after %v, want about %v", d, opts.PingInterval+opts.PingTimeout)
		}
	case <-time.After(pollCloseTimeout / 2):
		t.Fatalf("not reaped after %v (window %v)", pollCloseTimeout/2, opts.PingInterval+opts.PingTimeout)
	}
}
