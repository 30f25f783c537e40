package engineio

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
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
// only heartbeats leaves nothing in net/http between them. The session's
// first POST and a POST of a pong alone close their connection after the
// answer, and the GET that follows the first answer or an answer of a
// ping alone is taken out of net/http at once. Later POSTs with a
// message keep their keep-alive connection, and a GET after an answer
// with data waits in net/http (parkAfter).
func TestIdleSessionHeartbeatConnections(t *testing.T) {
	defer leakcheck.Check(t)()
	holdPollsAt(t, time.Minute) // never reached: only an idle session's GET is held here
	rec := newRecorder(false)
	// The heartbeat leaves a second for the steps between two pings.
	e := newEnv(t, rec, &Options{PingInterval: time.Second, PingTimeout: 5 * time.Second})
	defer e.close()
	c, _, s := e.handshake()

	res, body := rawExchange(t, e, "POST", c.query(), "4hello")
	if body != "ok" || !res.Close {
		t.Errorf("first POST: %q, close %v; want ok and the connection closed", body, res.Close)
	}
	if m := recv(t, rec.msgs, "the message"); m.data != "hello" {
		t.Errorf("message %q", m.data)
	}
	// The first answer comes from net/http, on a kept connection (a ping
	// may have joined it).
	if err := s.Send(textMsg("x"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	res, body = rawExchange(t, e, "GET", c.query(), "")
	if !strings.HasPrefix(body, "4x") || res.Close {
		t.Fatalf("first poll %q, close %v; want 4x, in net/http", body, res.Close)
	}
	pinged := body != "4x"

	// The GET after the first answer: held at once, answered by a ping.
	conn := rawGet(t, e, c.query(), "")
	defer conn.Close()
	waitFor(t, "the poll after the first answer held", s.heldForTest)
	if pinged {
		// The ping came with the first answer: this GET waits for the
		// next, which comes once the pong has.
		if _, body = rawExchange(t, e, "POST", c.query(), "3"); body != "ok" {
			t.Fatalf("pong: %q", body)
		}
	}
	res, body = readRawResponse(t, conn)
	if body != "2" || !res.Close {
		t.Errorf("held poll %q, close %v; want the ping, then the connection closed", body, res.Close)
	}
	res, body = rawExchange(t, e, "POST", c.query(), "3")
	if body != "ok" || !res.Close {
		t.Errorf("POST of a pong: %q, close %v; want ok and the connection closed", body, res.Close)
	}
	res, body = rawExchange(t, e, "POST", c.query(), "4again")
	if body != "ok" || res.Close {
		t.Errorf("POST of a message: %q, close %v; want ok on a kept connection", body, res.Close)
	}
	if m := recv(t, rec.msgs, "the message"); m.data != "again" {
		t.Errorf("message %q", m.data)
	}

	// The GET after the ping: held at once, answered by the next ping.
	conn2 := rawGet(t, e, c.query(), "")
	defer conn2.Close()
	waitFor(t, "the poll after a ping held", s.heldForTest)
	res, body = readRawResponse(t, conn2)
	if body != "2" || !res.Close {
		t.Errorf("held poll %q, close %v; want the ping, then the connection closed", body, res.Close)
	}
	if _, body = rawExchange(t, e, "POST", c.query(), "3"); body != "ok" {
		t.Fatalf("pong: %q", body)
	}

	// After an answer with data the next GET stays in net/http.
	if err := s.Send(textMsg("y"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, body = rawExchange(t, e, "GET", c.query(), ""); body != "4y" || res.Close {
		t.Fatalf("poll %q, close %v; want 4y on a kept connection", body, res.Close)
	}
	if res, body = rawExchange(t, e, "GET", c.query(), ""); body != "2" || res.Close || s.heldForTest() {
		t.Errorf("poll after data %q, close %v; want the ping, answered in net/http", body, res.Close)
	}
	if n := rec.closeCount(s); n != 0 {
		t.Errorf("session closed %d times", n)
	}
}

// TestIdlePostsKeepSecureConnection: over TLS, with HTTP/1.1 and HTTP/2
// alike, the POSTs that close their connection on plain HTTP/1.1 (the
// session's first, a pong alone) keep it: a new connection would cost a
// TLS handshake, and under HTTP/2 "Connection: close" would end every
// stream the client has on the connection.
func TestIdlePostsKeepSecureConnection(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := "HTTP/1.1"
		if h2 {
			name = "HTTP/2"
		}
		t.Run(name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			rec := newRecorder(false)
			srv := NewServer(rec, &Options{PingInterval: time.Minute, PingTimeout: time.Minute})
			ts := httptest.NewUnstartedServer(srv)
			ts.EnableHTTP2 = h2
			ts.StartTLS()
			e := &env{t: t, srv: srv, ts: ts, rec: rec, client: ts.Client(), base: ts.URL + srv.Options().Path}
			defer e.close()
			c, _, _ := e.handshake()

			var first net.Conn
			for i, payload := range []string{"4hello", "3", "4again"} {
				var got httptrace.GotConnInfo
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					GotConn: func(info httptrace.GotConnInfo) { got = info },
				})
				req, err := http.NewRequestWithContext(ctx, "POST", e.base+"?"+c.query(), strings.NewReader(payload))
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(b) != "ok" || res.Close || res.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
					t.Fatalf("POST %q: %q over %s, close %v", payload, b, res.Proto, res.Close)
				}
				if i == 0 {
					first = got.Conn
				} else if got.Conn != first {
					t.Errorf("POST %q on a new connection (reused %v)", payload, got.Reused)
				}
			}
		})
	}
}
