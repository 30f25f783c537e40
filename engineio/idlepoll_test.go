package engineio

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// rawExchange sends one request on a TCP connection of its own and
// reads the answer whole.
func rawExchange(t *testing.T, e *env, method, query, body string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := fmt.Sprintf("%s %s?%s HTTP/1.1\r\nHost: test\r\n", method, e.srv.Options().Path, query)
	if method == "POST" {
		req += fmt.Sprintf("Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n", len(body))
	}
	if _, err := io.WriteString(conn, req+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	return readRawResponse(t, conn)
}

func readRawResponse(t *testing.T, conn net.Conn) (*http.Response, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// TestIdleSessionHeartbeatConnections: a polling session that exchanges
// only heartbeats leaves nothing in net/http between them. The POST of a
// pong alone closes its connection after the answer, and the GET that
// follows an answer of a ping alone is taken out of net/http at once. A
// POST with a message keeps its keep-alive connection, and a GET after
// an answer with data waits in net/http (parkAfter).
func TestIdleSessionHeartbeatConnections(t *testing.T) {
	defer leakcheck.Check(t)()
	holdPollsAt(t, time.Minute) // never reached: only an idle session's GET is held here
	rec := newRecorder(false)
	e := newEnv(t, rec, &Options{PingInterval: 300 * time.Millisecond, PingTimeout: 5 * time.Second})
	defer e.close()
	c, _, s := e.handshake()

	res, body := rawExchange(t, e, "GET", c.query(), "")
	if body != "2" || res.Close {
		t.Fatalf("first poll %q, close %v; want the ping, in net/http", body, res.Close)
	}
	res, body = rawExchange(t, e, "POST", c.query(), "3")
	if body != "ok" || !res.Close {
		t.Errorf("POST of a pong: %q, close %v; want ok and the connection closed", body, res.Close)
	}
	res, body = rawExchange(t, e, "POST", c.query(), "4hello\x1e3")
	if body != "ok" || res.Close {
		t.Errorf("POST of a message: %q, close %v; want ok on a kept connection", body, res.Close)
	}
	if m := recv(t, rec.msgs, "the message"); m.data != "hello" {
		t.Errorf("message %q", m.data)
	}

	// The GET after the ping: held at once, answered by the next ping.
	conn := rawGet(t, e, c.query(), "")
	defer conn.Close()
	waitFor(t, "the poll after a ping held", s.heldForTest)
	res, body = readRawResponse(t, conn)
	if body != "2" || !res.Close {
		t.Errorf("held poll %q, close %v; want the ping, then the connection closed", body, res.Close)
	}
	if _, body = rawExchange(t, e, "POST", c.query(), "3"); body != "ok" {
		t.Fatalf("pong: %q", body)
	}

	// After an answer with data the next GET stays in net/http.
	if err := s.Send(textMsg("x"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, body = rawExchange(t, e, "GET", c.query(), ""); body != "4x" || res.Close {
		t.Fatalf("poll %q, close %v; want 4x on a kept connection", body, res.Close)
	}
	if res, body = rawExchange(t, e, "GET", c.query(), ""); body != "2" || res.Close || s.heldForTest() {
		t.Errorf("poll after data %q, close %v; want the ping, answered in net/http", body, res.Close)
	}
	if n := rec.closeCount(s); n != 0 {
		t.Errorf("session closed %d times", n)
	}
}
