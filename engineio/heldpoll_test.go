package engineio

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// holdPollsAt has GETs held out of net/http after d, for one test.
func holdPollsAt(t *testing.T, d time.Duration) {
	old := parkAfter
	parkAfter = d
	t.Cleanup(func() { parkAfter = old })
}

// heldForTest reports whether s's pending GET has been taken out of
// net/http.
func (s *Session) heldForTest() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held != nil
}

// rawGet sends a polling GET on a TCP connection of its own.
func rawGet(t *testing.T, e *env, query string, header string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	path := e.srv.Options().Path
	if _, err := io.WriteString(conn, "GET "+path+"?"+query+" HTTP/1.1\r\nHost: test\r\n"+header+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestHeldPollAnswer: a GET that waited past parkAfter is answered as
// net/http would answer it (status, the headers set before the hold,
// the payload) with "Connection: close", and the connection ends after
// it; the client's next poll works on a new connection.
func TestHeldPollAnswer(t *testing.T) {
	defer leakcheck.Check(t)()
	holdPollsAt(t, 10*time.Millisecond)
	e := newEnv(t, newRecorder(false), &Options{CORS: &CORSOptions{Origins: []string{"https://app.example"}, Credentials: true}})
	defer e.close()
	c, _, s := e.handshake()

	conn := rawGet(t, e, c.query(), "Origin: https://app.example\r\n")
	defer conn.Close()
	waitFor(t, "the poll held", s.heldForTest)
	if err := s.Send(textMsg("héllo"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body) // to the end of the connection
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || string(body) != "4héllo" || !res.Close {
		t.Errorf("answer %d %q, close %v", res.StatusCode, body, res.Close)
	}
	for name, want := range map[string]string{
		"Content-Type":                     "text/plain; charset=UTF-8",
		"Content-Length":                   "7",
		"Cache-Control":                    "no-store",
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Credentials": "true",
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if _, err := http.ParseTime(res.Header.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", res.Header.Get("Date"), err)
	}

	// The next poll, on a new connection, is held again and answered.
	ch := c.asyncGet()
	waitFor(t, "the next poll held", s.heldForTest)
	if err := s.Send(textMsg("again"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(pollResult(t, ch)); got != "4again" {
		t.Errorf("next poll: %q", got)
	}
}

// TestHeldPollCompressed: a held answer is compressed as any other.
func TestHeldPollCompressed(t *testing.T) {
	defer leakcheck.Check(t)()
	holdPollsAt(t, time.Millisecond)
	TestPollingCompression(t)
}

// TestHeldPollClientGone: a client that drops a held GET ends its session,
// as a dropped GET that net/http holds does ("poll connection closed
// prematurely").
func TestHeldPollClientGone(t *testing.T) {
	defer leakcheck.Check(t)()
	holdPollsAt(t, 10*time.Millisecond)
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	conn := rawGet(t, e, c.query(), "")
	waitFor(t, "the poll held", s.heldForTest)
	conn.Close()
	e.rec.expectClose(t, s, ReasonTransportError)
}

// TestHeldPollSessionClose: closing a session answers its held GET with
// the close packet, as it answers a GET that net/http holds.
func TestHeldPollSessionClose(t *testing.T) {
	defer leakcheck.Check(t)()
	holdPollsAt(t, 10*time.Millisecond)
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	ch := c.asyncGet()
	waitFor(t, "the poll held", s.heldForTest)
	s.Close()
	if got := packetString(pollResult(t, ch)); got != "1" {
		t.Errorf("held poll: %q", got)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
}

// TestHeldPollNoGoroutine: on Linux, a held GET costs no goroutine, where
// net/http holds two for each (the handler's, and its watch on the
// connection).
func TestHeldPollNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("held polls are watched with epoll on Linux only")
	}
	defer leakcheck.Check(t)()
	holdPollsAt(t, 10*time.Millisecond)
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	const n = 20
	var sessions []*Session
	var queries []string
	for range n {
		c, _, s := e.handshake()
		sessions = append(sessions, s)
		queries = append(queries, c.query())
	}
	e.client.CloseIdleConnections()
	before := runtime.NumGoroutine()
	var conns []net.Conn
	for i := range n {
		conns = append(conns, rawGet(t, e, queries[i], ""))
	}
	for _, s := range sessions {
		waitFor(t, "the poll held", s.heldForTest)
	}
	// Goroutines of the requests that were handed over end just after.
	var now int
	waitFor(t, "no goroutine per held poll", func() bool {
		now = runtime.NumGoroutine()
		return now-before < n/2
	})
	for i, s := range sessions {
		if err := s.Send(textMsg("x"), SendOptions{}); err != nil {
			t.Fatal(err)
		}
		_ = conns[i].SetReadDeadline(time.Now().Add(waitTimeout))
		b, err := io.ReadAll(conns[i])
		if err != nil || !strings.HasSuffix(string(b), "\r\n\r\n4x") {
			t.Errorf("answer %q, %v", b, err)
		}
		conns[i].Close()
	}
}

// TestHeldPolls runs the polling, upgrade and close tests with every GET
// held out of net/http as soon as it waits.
func TestHeldPolls(t *testing.T) {
	for name, fn := range map[string]func(*testing.T){
		"Messages":            TestPollingMessages,
		"OverlappingGet":      TestPollingOverlappingGet,
		"AbortedGet":          TestPollingAbortedGet,
		"ServerClose":         TestPollingServerClose,
		"ManyMessages":        TestPollingManyMessages,
		"Upgrade":             TestUpgrade,
		"UpgradeOrdering":     TestUpgradeOrdering,
		"UpgradeDuringClose":  TestUpgradeDuringClose,
		"Shutdown":            TestShutdown,
		"CloseReasons":        TestCloseReasonsPolling,
		"ShutdownEndsClosing": TestShutdownEndsClosingPoll,
		"Heartbeat":           TestHeartbeatPolling,
	} {
		t.Run(name, func(t *testing.T) {
			holdPollsAt(t, time.Millisecond)
			fn(t)
		})
	}
}
