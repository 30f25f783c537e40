package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// This file holds a small Socket.IO client for the tests: it speaks the
// wire protocol by hand, over WebSocket or HTTP long-polling, so that the
// tests can check the exact bytes the server sends.

// waitTimeout bounds every wait of the tests: far longer than anything
// should take, short enough for a hung test to fail rather than stall.
const waitTimeout = 5 * time.Second

// testServer is a Server mounted on an http.ServeMux behind an
// httptest.Server, with the test clients dialed to it.
type testServer struct {
	t  testing.TB
	io *Server
	hs *httptest.Server

	mu      sync.Mutex
	clients []io.Closer
}

// newTestServer starts a server; Close shuts it down.
func newTestServer(t testing.TB, opts *Options) *testServer {
	t.Helper()
	srv := NewServer(opts)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	return &testServer{t: t, io: srv, hs: httptest.NewServer(mux)}
}

// Close shuts the server down (unless the test did), closes the clients
// and stops the HTTP server.
func (ts *testServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ts.io.Shutdown(ctx); err != nil && !errors.Is(err, ErrServerClosed) {
		ts.t.Errorf("Shutdown: %v", err)
	}
	ts.mu.Lock()
	clients := ts.clients
	ts.clients = nil
	ts.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	ts.hs.Close()
}

func (ts *testServer) track(c io.Closer) {
	ts.mu.Lock()
	ts.clients = append(ts.clients, c)
	ts.mu.Unlock()
}

// frame is one Engine.IO message the client received: a Socket.IO packet
// in text, or a binary attachment.
type frame struct {
	data   string
	binary bool
}

// testClient is one WebSocket connection to the server.
type testClient struct {
	t      testing.TB
	conn   *websocket.Conn
	eio    int
	sid    string // the Engine.IO session id
	frames chan frame
	stop   chan struct{}
	done   chan struct{} // closed when the reader returns
	pings  atomic.Int64  // pings answered

	wmu      sync.Mutex
	stopOnce sync.Once
}

// dial opens an Engine.IO v4 session over WebSocket.
func (ts *testServer) dial() *testClient {
	ts.t.Helper()
	return ts.dialEIO(4, "")
}

// dialEIO opens a session of the given Engine.IO protocol revision; query
// is added to the URL.
func (ts *testServer) dialEIO(eio int, query string) *testClient {
	t := ts.t
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.hs.URL, "http") + fmt.Sprintf("/socket.io/?EIO=%d&transport=websocket", eio)
	if query != "" {
		u += "&" + query
	}
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	conn, resp, err := d.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	resp.Body.Close()
	c := &testClient{t: t, conn: conn, eio: eio, frames: make(chan frame, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	ts.track(c)
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, open, err := conn.ReadMessage()
	if err != nil || typ != websocket.TextMessage || len(open) == 0 || open[0] != '0' {
		conn.Close()
		t.Fatalf("open packet: %q, %v", open, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	var hs struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(open[1:], &hs); err != nil || hs.SID == "" {
		conn.Close()
		t.Fatalf("open packet %q: %v", open, err)
	}
	c.sid = hs.SID
	go c.readLoop()
	return c
}

// readLoop reads the connection: it answers pings and hands every message
// to frames, until the connection fails or Close is called.
func (c *testClient) readLoop() {
	defer close(c.done)
	defer close(c.frames)
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var f frame
		switch {
		case typ == websocket.BinaryMessage && c.eio == 3:
			if len(data) == 0 || data[0] != 4 {
				continue
			}
			f = frame{data: string(data[1:]), binary: true}
		case typ == websocket.BinaryMessage:
			f = frame{data: string(data), binary: true}
		case len(data) == 0:
			continue
		case data[0] == '2' && c.eio == 4: // ping
			_ = c.writeRaw(websocket.TextMessage, []byte("3"))
			c.pings.Add(1)
			continue
		case data[0] == '4':
			f = frame{data: string(data[1:])}
		default: // pong (v3), noop, close
			continue
		}
		select {
		case c.frames <- f:
		case <-c.stop:
			return
		}
	}
}

func (c *testClient) writeRaw(typ int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	return c.conn.WriteMessage(typ, data)
}

// Close closes the connection and waits for the reader.
func (c *testClient) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	err := c.conn.Close()
	<-c.done
	return err
}

// sendEngine sends a raw Engine.IO text packet, type included.
func (c *testClient) sendEngine(pkt string) {
	c.t.Helper()
	if err := c.writeRaw(websocket.TextMessage, []byte(pkt)); err != nil {
		c.t.Fatalf("send %q: %v", pkt, err)
	}
}

// send sends a Socket.IO packet in an Engine.IO message.
func (c *testClient) send(pkt string) {
	c.t.Helper()
	c.sendEngine("4" + pkt)
}

// sendBinary sends a binary attachment.
func (c *testClient) sendBinary(b []byte) {
	c.t.Helper()
	if c.eio == 3 {
		b = append([]byte{4}, b...)
	}
	if err := c.writeRaw(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("send binary: %v", err)
	}
}

// next returns the next message, ok false when the connection closed.
func (c *testClient) next() (f frame, ok bool) {
	c.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case f, ok = <-c.frames:
		return f, ok
	case <-timer.C:
		c.t.Fatalf("no packet within %v", waitTimeout)
		return frame{}, false
	}
}

// expectText returns the next message, which must be a text packet.
func (c *testClient) expectText() string {
	c.t.Helper()
	f, ok := c.next()
	if !ok {
		c.t.Fatalf("connection closed while a packet was expected")
	}
	if f.binary {
		c.t.Fatalf("got binary %x, want a text packet", f.data)
	}
	return f.data
}

// expect checks that the next message is the text packet want.
func (c *testClient) expect(want string) {
	c.t.Helper()
	if got := c.expectText(); got != want {
		c.t.Fatalf("got packet %q, want %q", got, want)
	}
}

// expectBinary returns the next message, which must be binary.
func (c *testClient) expectBinary() []byte {
	c.t.Helper()
	f, ok := c.next()
	if !ok {
		c.t.Fatalf("connection closed while a binary message was expected")
	}
	if !f.binary {
		c.t.Fatalf("got text %q, want a binary message", f.data)
	}
	return []byte(f.data)
}

// expectClosed waits for the server to close the connection and returns
// the text packets received before.
func (c *testClient) expectClosed() []string {
	c.t.Helper()
	var got []string
	for {
		f, ok := c.next()
		if !ok {
			return got
		}
		got = append(got, f.data)
	}
}

// nsPrefix is the namespace part of a packet: "" for the main namespace.
func nsPrefix(nsp string) string {
	if nsp == "" || nsp == "/" {
		return ""
	}
	return nsp + ","
}

// connectReplyData is the payload of the server's CONNECT packet.
type connectReplyData struct {
	SID string `json:"sid"`
	PID string `json:"pid"`
}

// connect joins namespace nsp with the auth payload (none when nil) and
// returns the server's reply.
func (c *testClient) connect(nsp string, auth any) connectReplyData {
	c.t.Helper()
	c.sendConnect(nsp, auth)
	return c.expectConnect(nsp)
}

// sendConnect sends a CONNECT packet.
func (c *testClient) sendConnect(nsp string, auth any) {
	c.t.Helper()
	pkt := "0" + nsPrefix(nsp)
	if auth != nil {
		pkt += mustJSON(c.t, auth)
	}
	c.send(pkt)
}

// expectConnect reads the server's CONNECT reply for nsp.
func (c *testClient) expectConnect(nsp string) connectReplyData {
	c.t.Helper()
	got := c.expectText()
	prefix := "0" + nsPrefix(nsp)
	var r connectReplyData
	if !strings.HasPrefix(got, prefix+"{") || json.Unmarshal([]byte(got[len(prefix):]), &r) != nil || r.SID == "" {
		c.t.Fatalf("got %q, want a CONNECT reply for %q", got, nsp)
	}
	return r
}

// emit sends an EVENT to nsp.
func (c *testClient) emit(nsp, event string, args ...any) {
	c.t.Helper()
	c.send("2" + nsPrefix(nsp) + mustJSON(c.t, append([]any{event}, args...)))
}

// emitWithAck sends an EVENT asking for acknowledgement id.
func (c *testClient) emitWithAck(nsp string, id int, event string, args ...any) {
	c.t.Helper()
	c.send(fmt.Sprintf("2%s%d%s", nsPrefix(nsp), id, mustJSON(c.t, append([]any{event}, args...))))
}

// ack answers the server's acknowledgement id.
func (c *testClient) ack(nsp string, id int, args ...any) {
	c.t.Helper()
	if args == nil {
		args = []any{}
	}
	c.send(fmt.Sprintf("3%s%d%s", nsPrefix(nsp), id, mustJSON(c.t, args)))
}

// wireEvent is a decoded EVENT from the server.
type wireEvent struct {
	nsp   string
	id    int // -1 without acknowledgement
	name  string
	args  []json.RawMessage
	attch int // binary attachments announced
}

// arg decodes argument i into v.
func (e wireEvent) arg(t testing.TB, i int, v any) {
	t.Helper()
	if i >= len(e.args) {
		t.Fatalf("event %q has %d arguments, want at least %d", e.name, len(e.args), i+1)
	}
	if err := json.Unmarshal(e.args[i], v); err != nil {
		t.Fatalf("event %q argument %d %s: %v", e.name, i, e.args[i], err)
	}
}

// expectEvent reads the next packet, which must be an EVENT or a
// BINARY_EVENT (whose attachments are left to read).
func (c *testClient) expectEvent() wireEvent {
	c.t.Helper()
	got := c.expectText()
	e, err := parseEvent(got)
	if err != nil {
		c.t.Fatalf("got %q, want an EVENT: %v", got, err)
	}
	return e
}

// parseEvent decodes the text of an EVENT or BINARY_EVENT packet.
func parseEvent(s string) (wireEvent, error) {
	e := wireEvent{nsp: "/", id: -1}
	switch {
	case strings.HasPrefix(s, "2"):
		s = s[1:]
	case strings.HasPrefix(s, "5"):
		n, rest, ok := strings.Cut(s[1:], "-")
		if !ok {
			return e, errors.New("no attachment count")
		}
		if _, err := fmt.Sscan(n, &e.attch); err != nil {
			return e, err
		}
		s = rest
	default:
		return e, errors.New("not an event")
	}
	if strings.HasPrefix(s, "/") {
		nsp, rest, ok := strings.Cut(s, ",")
		if !ok {
			return e, errors.New("bad namespace")
		}
		e.nsp, s = nsp, rest
	}
	if i := strings.IndexByte(s, '['); i > 0 {
		if _, err := fmt.Sscan(s[:i], &e.id); err != nil {
			return e, err
		}
		s = s[i:]
	}
	var all []json.RawMessage
	if err := json.Unmarshal([]byte(s), &all); err != nil || len(all) == 0 {
		return e, fmt.Errorf("bad payload: %v", err)
	}
	if err := json.Unmarshal(all[0], &e.name); err != nil {
		return e, err
	}
	e.args = all[1:]
	return e, nil
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	return string(b)
}

// recv waits for a value on ch.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("nothing received within %v", waitTimeout)
		var zero T
		return zero
	}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// connectSocket dials a client, connects it to nsp and returns it with
// the server's socket, which the namespace's connection handler must send
// on conns.
func (ts *testServer) connectSocket(nsp string, conns <-chan *Socket) (*testClient, *Socket) {
	ts.t.Helper()
	c := ts.dial()
	r := c.connect(nsp, nil)
	s := recv(ts.t, conns)
	if s.ID() != r.SID {
		ts.t.Fatalf("server socket %q, client got sid %q", s.ID(), r.SID)
	}
	return c, s
}

// pollClient is one Engine.IO session over HTTP long-polling.
type pollClient struct {
	t    testing.TB
	url  string // with the sid
	eio  int
	sid  string
	http *http.Client
}

// dialPolling opens a session over polling.
func (ts *testServer) dialPolling(eio int) *pollClient {
	t := ts.t
	t.Helper()
	base := ts.hs.URL + fmt.Sprintf("/socket.io/?EIO=%d&transport=polling", eio)
	p := &pollClient{t: t, eio: eio, http: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout}}
	ts.track(p)
	packets := p.get(base)
	if len(packets) == 0 || packets[0][0] != '0' {
		t.Fatalf("handshake: %q", packets)
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(packets[0][1:]), &hs); err != nil || hs.SID == "" {
		t.Fatalf("open packet %q: %v", packets[0], err)
	}
	p.sid = hs.SID
	p.url = base + "&sid=" + hs.SID
	return p
}

// Close drops the client's idle connections.
func (p *pollClient) Close() error {
	p.http.CloseIdleConnections()
	return nil
}

// get sends a GET and returns the Engine.IO packets of the answer, each as
// its text form (binary ones as "b" + raw bytes).
func (p *pollClient) get(u string) []string {
	p.t.Helper()
	resp, err := p.http.Get(u)
	if err != nil {
		p.t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		p.t.Fatalf("GET: %d %q %v", resp.StatusCode, body, err)
	}
	var out []string
	collect := func(pk parser.Packet) error {
		if pk.Binary {
			out = append(out, "b"+string(pk.Data))
		} else {
			out = append(out, string(parser.AppendPacket(nil, pk)))
		}
		return nil
	}
	if p.eio == 3 {
		err = parser.DecodePayloadV3(body, resp.Header.Get("Content-Type") == "application/octet-stream", collect)
	} else {
		err = parser.DecodePayload(body, collect)
	}
	if err != nil {
		p.t.Fatalf("payload %q: %v", body, err)
	}
	return out
}

// poll sends a GET and returns the Engine.IO packets it brought.
func (p *pollClient) poll() []string {
	p.t.Helper()
	return p.get(p.url)
}

// post sends Engine.IO text packets (type included) in one payload.
func (p *pollClient) post(packets ...string) {
	p.t.Helper()
	var body []byte
	for i, pk := range packets {
		if p.eio == 3 {
			body = fmt.Appendf(body, "%d:%s", len([]rune(pk)), pk)
			continue
		}
		if i > 0 {
			body = append(body, parser.RecordSeparator)
		}
		body = append(body, pk...)
	}
	resp, err := p.http.Post(p.url, "text/plain;charset=UTF-8", bytes.NewReader(body))
	if err != nil {
		p.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		p.t.Fatalf("POST %q: %d %q", body, resp.StatusCode, b)
	}
}

// pollN polls until n Engine.IO packets came.
func (p *pollClient) pollN(n int) []string {
	p.t.Helper()
	var got []string
	for len(got) < n {
		got = append(got, p.poll()...)
	}
	return got
}

// onConnections returns a channel that gets every socket connecting to
// nsp.
func onConnections(nsp *Namespace) chan *Socket {
	ch := make(chan *Socket, 16)
	nsp.OnConnection(func(s *Socket) { ch <- s })
	return ch
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
