package engineio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// waitTimeout bounds every wait of the tests: far longer than anything
// should take, short enough for a hung test to fail rather than stall.
const waitTimeout = 5 * time.Second

// message is one OnMessage call seen by a recorder.
type message struct {
	s      *Session
	data   string
	binary bool
}

// closeEvent is one OnClose call seen by a recorder.
type closeEvent struct {
	s      *Session
	reason Reason
}

// recorder is a Handler that reports every event on a channel and can echo
// messages back.
type recorder struct {
	echo   bool
	onOpen func(c Conn)                               // called first, when set
	onMsg  func(s *Session, data []byte, binary bool) // called first, when set
	opens  chan *Session
	msgs   chan message
	closes chan closeEvent

	mu      sync.Mutex
	closedN map[*Session]int // OnClose calls per session
}

func newRecorder(echo bool) *recorder {
	return &recorder{
		echo:    echo,
		opens:   make(chan *Session, 256),
		msgs:    make(chan message, 4096),
		closes:  make(chan closeEvent, 256),
		closedN: make(map[*Session]int),
	}
}

// OnOpen records the session and returns its handler, which keeps the
// session in its closure.
func (r *recorder) OnOpen(c Conn) SessionHandler {
	s := c.(*Session)
	if r.onOpen != nil {
		r.onOpen(c)
	}
	r.opens <- s
	return SessionFuncs{
		Message: func(data []byte, binary bool) { r.onMessage(s, data, binary) },
		Close:   func(reason Reason) { r.onClose(s, reason) },
	}
}

func (r *recorder) onMessage(s *Session, data []byte, binary bool) {
	if r.onMsg != nil {
		r.onMsg(s, data, binary)
	}
	if r.echo {
		_ = s.Send([]parser.Message{{Data: data, Binary: binary}}, SendOptions{})
	}
	r.msgs <- message{s, string(data), binary}
}

func (r *recorder) onClose(s *Session, reason Reason) {
	r.mu.Lock()
	r.closedN[s]++
	r.mu.Unlock()
	r.closes <- closeEvent{s, reason}
}

func (r *recorder) closeCount(s *Session) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closedN[s]
}

// nopHandler is a Handler that ignores every session.
var nopHandler = HandlerFunc(func(Conn) SessionHandler { return nil })

// textMsg is a packet of one text message.
func textMsg(data string) []parser.Message {
	return []parser.Message{{Data: []byte(data)}}
}

// binaryMsg is a packet of one binary message.
func binaryMsg(data []byte) []parser.Message {
	return []parser.Message{{Data: data, Binary: true}}
}

// recv waits for a value on ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// noRecv checks that nothing arrives on ch for a while. It proves a
// negative, so it can only wait for a bounded time.
func noRecv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(d):
	}
}

// waitFor polls cond until it holds.
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

// expectClose waits for the OnClose of s and checks its reason.
func (r *recorder) expectClose(t testing.TB, s *Session, want Reason) {
	t.Helper()
	ev := recv(t, r.closes, "OnClose")
	if ev.s != s {
		t.Fatalf("OnClose for session %s, want %s", ev.s.ID(), s.ID())
	}
	if ev.reason != want {
		t.Fatalf("close reason %q, want %q", ev.reason, want)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after OnClose")
	}
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitTimeout)
}

// env is a server under test behind a real loopback HTTP server.
type env struct {
	t      testing.TB
	srv    *Server
	ts     *httptest.Server
	rec    *recorder
	client *http.Client
	base   string // http://host/engine.io/
	wsBase string // ws://host/engine.io/
}

// newEnv starts srv for rec. Stop it with env.close, deferred after
// leakcheck.Check so that it runs first.
func newEnv(t testing.TB, rec *recorder, opts *Options) *env {
	t.Helper()
	return newEnvWith(t, rec, opts, nil)
}

// newEnvWith is newEnv with configure called on the HTTP server before
// it starts.
func newEnvWith(t testing.TB, rec *recorder, opts *Options, configure func(*http.Server)) *env {
	t.Helper()
	var h Handler = rec
	srv := NewServer(h, opts)
	ts := httptest.NewUnstartedServer(srv)
	if configure != nil {
		configure(ts.Config)
	}
	ts.Start()
	path := srv.Options().Path
	e := &env{
		t:      t,
		srv:    srv,
		ts:     ts,
		rec:    rec,
		client: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout},
		base:   ts.URL + path,
		wsBase: "ws" + strings.TrimPrefix(ts.URL, "http") + path,
	}
	return e
}

// close shuts the server down and waits for it.
func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil && err != ErrServerClosed {
		e.t.Errorf("Shutdown: %v", err)
	}
	e.ts.Close()
	e.client.CloseIdleConnections()
}

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request and reads the answer. It may run on any goroutine:
// failures come back as errors.
func (e *env) do(method, query string, body io.Reader, header http.Header) (response, error) {
	req, err := http.NewRequest(method, e.base+"?"+query, body)
	if err != nil {
		return response{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{res.StatusCode, res.Header, string(b)}, nil
}

// mustDo is do for the test goroutine.
func (e *env) mustDo(method, query string, body string, header http.Header) response {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	res, err := e.do(method, query, r, header)
	if err != nil {
		e.t.Fatalf("%s ?%s: %v", method, query, err)
	}
	return res
}

// handshakeData is the JSON of an open packet.
type handshakeData struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

func parseOpen(t testing.TB, packet string) handshakeData {
	t.Helper()
	if !strings.HasPrefix(packet, "0") {
		t.Fatalf("not an open packet: %q", packet)
	}
	var hd handshakeData
	if err := json.Unmarshal([]byte(packet[1:]), &hd); err != nil {
		t.Fatalf("open packet %q: %v", packet, err)
	}
	return hd
}

// pollClient is a v4 polling client of one session.
type pollClient struct {
	e     *env
	sid   string
	eio   string
	extra string // more query parameters, such as "&b64=1"
}

// handshake opens a polling session and returns its client, the open
// packet's data and the server's Session.
func (e *env) handshake() (*pollClient, handshakeData, *Session) {
	e.t.Helper()
	res := e.mustDo("GET", "EIO=4&transport=polling", "", nil)
	if res.status != http.StatusOK {
		e.t.Fatalf("handshake: %d %s", res.status, res.body)
	}
	hd := parseOpen(e.t, res.body)
	s := recv(e.t, e.rec.opens, "OnOpen")
	if s.ID() != hd.SID {
		e.t.Fatalf("OnOpen for %q, handshake sid %q", s.ID(), hd.SID)
	}
	return &pollClient{e: e, sid: hd.SID, eio: "4"}, hd, s
}

func (p *pollClient) query() string {
	return "EIO=" + p.eio + "&transport=polling&sid=" + url.QueryEscape(p.sid) + p.extra
}

// get polls once; safe on any goroutine.
func (p *pollClient) get() (response, error) { return p.e.do("GET", p.query(), nil, nil) }

// mustGet polls once and returns the packets of a 200 answer.
func (p *pollClient) mustGet() []parser.Packet {
	p.e.t.Helper()
	res := p.e.mustDo("GET", p.query(), "", nil)
	if res.status != http.StatusOK {
		p.e.t.Fatalf("poll: %d %q", res.status, res.body)
	}
	return decodePayload(p.e.t, res.body)
}

// post sends a payload and checks the "ok" answer.
func (p *pollClient) post(payload string) {
	p.e.t.Helper()
	res := p.e.mustDo("POST", p.query(), payload, nil)
	if res.status != http.StatusOK || res.body != "ok" {
		p.e.t.Fatalf("post %q: %d %q", payload, res.status, res.body)
	}
}

// asyncGet starts a poll on another goroutine.
func (p *pollClient) asyncGet() <-chan result {
	ch := make(chan result, 1)
	go func() {
		res, err := p.get()
		ch <- result{res, err}
	}()
	return ch
}

type result struct {
	res response
	err error
}

// pollResult waits for an asyncGet and returns its 200 answer's packets.
func pollResult(t testing.TB, ch <-chan result) []parser.Packet {
	t.Helper()
	r := recv(t, ch, "poll answer")
	if r.err != nil {
		t.Fatalf("poll: %v", r.err)
	}
	if r.res.status != http.StatusOK {
		t.Fatalf("poll: %d %q", r.res.status, r.res.body)
	}
	return decodePayload(t, r.res.body)
}

func decodePayload(t testing.TB, body string) []parser.Packet {
	t.Helper()
	var out []parser.Packet
	err := parser.DecodePayload([]byte(body), func(p parser.Packet) error {
		p.Data = append([]byte(nil), p.Data...)
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatalf("payload %q: %v", body, err)
	}
	return out
}

// packetString renders packets in their text form, for comparisons.
func packetString(packets []parser.Packet) string {
	var b strings.Builder
	for i, p := range packets {
		if i > 0 {
			b.WriteByte('|')
		}
		if p.Binary {
			fmt.Fprintf(&b, "bin:%x", p.Data)
			continue
		}
		b.Write(parser.AppendPacket(nil, p))
	}
	return b.String()
}

// wsClient is a WebSocket client connection.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
}

// dialWS opens a WebSocket with the given query.
func (e *env) dialWS(query string) (*wsClient, *http.Response, error) {
	conn, res, err := websocket.DefaultDialer.Dial(e.wsBase+"?"+query, nil)
	if err != nil {
		return nil, res, err
	}
	return &wsClient{t: e.t, conn: conn}, res, nil
}

func (e *env) mustDialWS(query string) *wsClient {
	e.t.Helper()
	c, _, err := e.dialWS(query)
	if err != nil {
		e.t.Fatalf("dial ?%s: %v", query, err)
	}
	return c
}

// wsHandshake opens a session directly over WebSocket.
func (e *env) wsHandshake() (*wsClient, handshakeData, *Session) {
	e.t.Helper()
	c := e.mustDialWS("EIO=4&transport=websocket")
	hd := parseOpen(e.t, c.readText())
	s := recv(e.t, e.rec.opens, "OnOpen")
	if s.ID() != hd.SID {
		e.t.Fatalf("OnOpen for %q, handshake sid %q", s.ID(), hd.SID)
	}
	return c, hd, s
}

// read reads one frame.
func (c *wsClient) read() (int, []byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	return c.conn.ReadMessage()
}

// readText reads one frame that must be a text frame.
func (c *wsClient) readText() string {
	c.t.Helper()
	kind, data, err := c.read()
	if err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	if kind != websocket.TextMessage {
		c.t.Fatalf("ws frame type %d, want text (%q)", kind, data)
	}
	return string(data)
}

// readMessage reads frames, answering pings, until a message or another
// non-heartbeat packet.
func (c *wsClient) readSkipPings() (int, string) {
	c.t.Helper()
	for {
		kind, data, err := c.read()
		if err != nil {
			c.t.Fatalf("ws read: %v", err)
		}
		if kind == websocket.TextMessage && string(data) == "2" {
			c.write("3")
			continue
		}
		return kind, string(data)
	}
}

func (c *wsClient) write(text string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("ws write %q: %v", text, err)
	}
}

func (c *wsClient) writeBinary(data []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.BinaryMessage, data); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

// expectClosed reads until the connection fails, returning the error.
func (c *wsClient) expectClosed() error {
	c.t.Helper()
	for {
		_, _, err := c.read()
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				c.t.Fatalf("ws connection still open: %v", err)
			}
			return err
		}
	}
}

func (c *wsClient) close() { c.conn.Close() }
