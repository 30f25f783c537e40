package socketio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
)

// TestShutdownUnderLoad: Shutdown while clients of both transports are
// sending events, the server is broadcasting, and the server waits for
// acknowledgements the clients will never send. As with the reference,
// every socket disconnects with "server shutting down" and no DISCONNECT
// packet; WebSocket clients get a close frame and pending polls the close
// packet; every pending EmitWithAck fails with ErrDisconnected; Shutdown
// returns once all is done, leaving no goroutine.
//
// A busy polling client often has no poll pending at the moment of the
// Shutdown (its last one just came back with an acknowledgement): its
// session closes at once and its next request is refused, where the
// reference keeps the session until that request to answer it with the
// close packet. Quiet polling clients, whose poll is pending, get the close
// packet.
func TestShutdownUnderLoad(t *testing.T) {
	defer leakcheck.Check(t)()
	const wsN, pollN, quietN, acksEach = 8, 8, 4, 3
	ts := newTestServer(t, nil)
	defer ts.Close()

	var mu sync.Mutex
	reasons := map[Reason]int{}
	var sockets []*Socket
	setup := func(s *Socket) {
		s.On("msg", func(n int, ack Ack) { _ = ack(n) })
		s.OnDisconnect(func(r Reason) {
			mu.Lock()
			reasons[r]++
			mu.Unlock()
		})
		mu.Lock()
		sockets = append(sockets, s)
		mu.Unlock()
	}
	ts.io.OnConnection(setup)
	ts.io.Of("/chat").OnConnection(setup)
	ts.io.Of("/quiet").OnConnection(setup)

	// The clients: each joins "/" (half of them "/chat" too) and sends
	// events one after the other, each waiting for its acknowledgement,
	// until the server closes the connection.
	var wg sync.WaitGroup
	ends := make(chan shutdownEnd, wsN+pollN)
	quietEnds := make(chan shutdownEnd, quietN)
	var progress atomic.Int64
	wsURL := "ws" + strings.TrimPrefix(ts.hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	for i := range wsN {
		conn, _ := joinRaw(t, websocket.Dialer{HandshakeTimeout: waitTimeout}, wsURL)
		defer conn.Close()
		if i%2 == 0 {
			if err := conn.WriteMessage(websocket.TextMessage, []byte("40/chat,")); err != nil {
				t.Fatal(err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ends <- wsShutdownClient(conn, &progress)
		}()
	}
	for i := range pollN {
		p := ts.dialPolling(4)
		// Like a real client, it waits for the CONNECT replies before it
		// sends events (an event before them would be one for a
		// namespace it has not joined).
		if i%2 == 0 {
			p.post("40", "40/chat,")
			pollUntilConnected(t, p, "/", "/chat")
		} else {
			p.post("40")
			pollUntilConnected(t, p, "/")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ends <- pollShutdownClient(p, &progress, true)
		}()
	}
	var quiet []*pollClient
	for range quietN {
		p := ts.dialPolling(4)
		p.post("40/quiet,")
		pollUntilConnected(t, p, "/quiet")
		quiet = append(quiet, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			quietEnds <- pollShutdownClient(p, &progress, false)
		}()
	}
	socketCount := wsN + pollN + wsN/2 + pollN/2 + quietN
	waitFor(t, "every socket connected", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sockets) == socketCount
	})

	// The server broadcasts meanwhile.
	stopTicks := make(chan struct{})
	ticksDone := make(chan struct{})
	go func() {
		defer close(ticksDone)
		for i := 0; ; i++ {
			select {
			case <-stopTicks:
				return
			case <-time.After(time.Millisecond):
			}
			_ = ts.io.Emit("tick", i)
			_ = ts.io.Of("/chat").Emit("tick", i)
		}
	}()

	// Acknowledgements the clients never send.
	pending := make(chan error, socketCount*acksEach)
	mu.Lock()
	all := append([]*Socket(nil), sockets...)
	mu.Unlock()
	for _, s := range all {
		for range acksEach {
			go func() {
				_, err := s.EmitWithAck(context.Background(), "question")
				pending <- err
			}()
		}
	}
	waitFor(t, "the acknowledgements pending", func() bool {
		for _, s := range all {
			s.mu.Lock()
			n := len(s.acks)
			s.mu.Unlock()
			if n != acksEach {
				return false
			}
		}
		return true
	})
	// Traffic under way: a few acknowledged events per client past this
	// point.
	from := progress.Load()
	waitFor(t, "traffic", func() bool { return progress.Load() >= from+3*(wsN+pollN) })
	for _, p := range quiet {
		waitFor(t, "the quiet clients' polls pending", func() bool {
			sess := ts.io.Engine().Session(p.sid)
			return sess != nil && writable(sess)
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.io.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	took := time.Since(start)
	close(stopTicks)
	<-ticksDone

	// Every pending EmitWithAck failed.
	for range socketCount * acksEach {
		if err := recv(t, pending); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("pending EmitWithAck: %v, want ErrDisconnected", err)
		}
	}
	// Every socket disconnected with "server shutting down".
	mu.Lock()
	if reasons[ReasonServerShutdown] != socketCount || len(reasons) != 1 {
		t.Errorf("disconnect reasons %v, want %d × %q", reasons, socketCount, ReasonServerShutdown)
	}
	mu.Unlock()
	// Every client saw its connection end as the reference ends it.
	wg.Wait()
	close(ends)
	close(quietEnds)
	kinds := map[string]int{}
	for e := range ends {
		if e.err != nil {
			t.Error(e.err)
		}
		kinds[e.how]++
	}
	for e := range quietEnds {
		if e.err != nil || e.how != "close packet" {
			t.Errorf("quiet polling client: %s %v, want the close packet", e.how, e.err)
		}
		kinds["quiet: "+e.how]++
	}
	t.Logf("Shutdown took %v with %d sockets, %d events acknowledged, %d acknowledgements pending; clients saw %v",
		took.Round(time.Millisecond), socketCount, progress.Load(), socketCount*acksEach, kinds)

	// New clients are refused.
	res, err := http.Get(ts.hs.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("handshake after Shutdown: %d", res.StatusCode)
	}
	if c, _, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil {
		c.Close()
		t.Error("WebSocket accepted after Shutdown")
	}
}

// shutdownEnd is how a client's connection ended.
type shutdownEnd struct {
	how string
	err error // the end was not the reference's
}

// wsShutdownClient sends events with acknowledgements until the
// connection ends, which must be by a close frame without status (1005),
// as the reference's, with no DISCONNECT packet before.
func wsShutdownClient(conn *websocket.Conn, progress *atomic.Int64) shutdownEnd {
	for n := 0; ; n++ {
		_ = conn.SetWriteDeadline(time.Now().Add(waitTimeout))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`42%d["msg",%d]`, n, n))); err != nil {
			return wsEnd(conn)
		}
		want := fmt.Sprintf(`43%d[%d]`, n, n)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
			_, data, err := conn.ReadMessage()
			if err != nil {
				return wsEndErr(err)
			}
			pkt := string(data)
			if pkt == "2" {
				_ = conn.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			if pkt == "41" || pkt == "41/chat," {
				return shutdownEnd{how: "DISCONNECT packet", err: fmt.Errorf("DISCONNECT packet %q: the reference sends none", pkt)}
			}
			if pkt == want {
				progress.Add(1)
				break
			}
		}
	}
}

// wsEnd reads what is left after a failed write.
func wsEnd(conn *websocket.Conn) shutdownEnd {
	for {
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		_, data, err := conn.ReadMessage()
		if err != nil {
			return wsEndErr(err)
		}
		if s := string(data); s == "41" || s == "41/chat," {
			return shutdownEnd{how: "DISCONNECT packet", err: fmt.Errorf("DISCONNECT packet %q: the reference sends none", s)}
		}
	}
}

func wsEndErr(err error) shutdownEnd {
	if websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
		return shutdownEnd{how: "WebSocket close frame"}
	}
	return shutdownEnd{how: "WebSocket error", err: fmt.Errorf("WebSocket ended with %v, want a close frame without status", err)}
}

// pollShutdownClient keeps a poll pending and, when send is set, sends
// events with acknowledgements until the session ends: a pending poll
// gets the close packet; a request made after the session ended is
// refused.
func pollShutdownClient(p *pollClient, progress *atomic.Int64, send bool) shutdownEnd {
	var postMu sync.Mutex // one POST at a time: overlapping POSTs are an error
	post := func(body string) (int, error) {
		postMu.Lock()
		defer postMu.Unlock()
		res, err := p.http.Post(p.url, "text/plain;charset=UTF-8", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	acks := make(chan int, 64)
	polled := make(chan shutdownEnd, 1)
	go func() {
		defer close(acks)
		for {
			res, err := p.http.Get(p.url)
			if err != nil {
				polled <- shutdownEnd{how: "poll failed", err: err}
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				polled <- refused(res.StatusCode, string(body))
				return
			}
			var end *shutdownEnd
			_ = parser.DecodePayload(body, func(pk parser.Packet) error {
				s := string(parser.AppendPacket(nil, pk))
				switch {
				case s == "1":
					end = &shutdownEnd{how: "close packet"}
				case s == "441" || s == "441/chat,":
					end = &shutdownEnd{how: "DISCONNECT packet", err: fmt.Errorf("DISCONNECT packet %q: the reference sends none", s)}
				case s == "2":
					_, _ = post("3")
				case strings.HasPrefix(s, "43"):
					var n int
					if _, err := fmt.Sscanf(s, "43%d[", &n); err == nil {
						acks <- n
					}
				}
				return nil
			})
			if end != nil {
				polled <- *end
				return
			}
		}
	}()
	for n := 0; send; n++ {
		status, err := post(fmt.Sprintf(`42%d["msg",%d]`, n, n))
		if err != nil || status != 200 {
			break
		}
		got, ok := <-acks
		if !ok {
			break
		}
		if got == n {
			progress.Add(1)
		}
	}
	for range acks { // until the poller ends
	}
	return <-polled
}

// refused describes a request refused once the session ended: the server
// shutting down (503) or the session gone (400, code 1).
func refused(status int, body string) shutdownEnd {
	switch {
	case status == http.StatusServiceUnavailable:
		return shutdownEnd{how: "refused: shutting down"}
	case status == 400 && body == `{"code":1,"message":"Session ID unknown"}`:
		return shutdownEnd{how: "refused: session gone"}
	}
	return shutdownEnd{how: "refused", err: fmt.Errorf("poll answered %d %q", status, body)}
}

// pollUntilConnected polls until the CONNECT replies of nsps came.
func pollUntilConnected(t testing.TB, p *pollClient, nsps ...string) {
	t.Helper()
	left := len(nsps)
	for range 20 {
		for _, pk := range p.poll() {
			for _, nsp := range nsps {
				if strings.HasPrefix(pk, "40"+nsPrefix(nsp)+"{") {
					left--
				}
			}
		}
		if left == 0 {
			return
		}
	}
	t.Fatalf("CONNECT replies for %q missing", nsps)
}

// TestShutdownLatePacket: Shutdown disconnects the sockets, then closes
// the sessions. A packet for a socket it has disconnected that arrives in
// between is dropped: the client's other sockets disconnect with "server
// shutting down", not "forced server close" for a packet for a namespace
// the client is not in.
func TestShutdownLatePacket(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	reasons := make(chan Reason, 2)
	ts.io.Of("/chat").OnConnection(func(s *Socket) {
		s.On("ping", func(ack Ack) { _ = ack("pong") })
		s.OnDisconnect(func(r Reason) { reasons <- r })
	})
	c, main := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	c.connect("/chat", nil)

	// Where Shutdown is after disconnecting the sockets of "/", before
	// those of "/chat" and the sessions.
	ts.io.mu.Lock()
	ts.io.closed = true
	ts.io.mu.Unlock()
	main.onClose(ReasonServerShutdown)
	c.emit("/", "late")
	// Packets are handled in order: once the answer comes, the late one
	// was handled.
	c.emitWithAck("/chat", 1, "ping")
	c.expect(`3/chat,1["pong"]`)
	select {
	case r := <-reasons:
		t.Fatalf("the socket of /chat disconnected: %s", r)
	default:
	}

	// The rest of Shutdown.
	ts.io.mu.Lock()
	ts.io.closed = false
	ts.io.mu.Unlock()
	if err := ts.io.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, reasons); r != ReasonServerShutdown {
		t.Fatalf("the socket of /chat disconnected with %q, want %q", r, ReasonServerShutdown)
	}
}
