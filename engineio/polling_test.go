package engineio

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
)

func TestPollingMessages(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), nil)
	defer e.close()
	c, _, s := e.handshake()

	// Text and binary (base64 in v4 payloads) in one POST, in order.
	c.post("4hello\x1ebAQID\x1e4")
	for _, want := range []message{{s, "hello", false}, {s, "\x01\x02\x03", true}, {s, "", false}} {
		if m := recv(t, e.rec.msgs, "message"); m != want {
			t.Errorf("message %+v, want %+v", m, want)
		}
	}
	// The echoes come back in one payload.
	res := e.mustDo("GET", c.query(), "", nil)
	if res.status != 200 || res.body != "4hello\x1ebAQID\x1e4" {
		t.Errorf("poll: %d %q", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}

	// The POST answer.
	res = e.mustDo("POST", c.query(), "4x", nil)
	if res.status != 200 || res.body != "ok" || res.header.Get("Content-Type") != "text/html" ||
		res.header.Get("Content-Length") != "2" || res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("POST answer %d %q %v", res.status, res.body, res.header)
	}
	recv(t, e.rec.msgs, "message")

	// Server-sent messages queued before the poll leave in one answer.
	for _, m := range []string{"a", "b", "c"} {
		if err := s.Send(textMsg(m), SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Send(binaryMsg([]byte{0xff, 0}), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(c.mustGet()); got != "4x|4a|4b|4c|bin:ff00" {
		t.Errorf("poll: %q", got)
	}
	// A pending poll is answered when a message is sent.
	ch := c.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)
	if err := s.Send(textMsg("later"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(pollResult(t, ch)); got != "4later" {
		t.Errorf("poll: %q", got)
	}
}

// TestPollingBinaryOverV4Refused: a v4 POST body is text; a binary one is a
// transport error, answered with 400, as with the reference.
func TestPollingBinaryOverV4Refused(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	res := e.mustDo("POST", c.query(), "4hi", http.Header{"Content-Type": {"application/octet-stream"}})
	if res.status != 400 {
		t.Errorf("status %d", res.status)
	}
	e.rec.expectClose(t, s, ReasonTransportError)
}

func TestPollingOverlappingGet(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	first := c.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)
	res, err := c.get()
	if err != nil {
		t.Fatal(err)
	}
	if res.status != 400 || res.body != "" {
		t.Errorf("second poll: %d %q", res.status, res.body)
	}
	e.rec.expectClose(t, s, ReasonTransportError)
	// The first poll is released with the close packet, as the reference
	// does.
	if got := packetString(pollResult(t, first)); got != "1" {
		t.Errorf("first poll: %q", got)
	}
	res = e.mustDo("GET", c.query(), "", nil)
	if res.status != 400 || res.body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("poll after close: %d %s", res.status, res.body)
	}
}

func TestPollingAbortedGet(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"?"+c.query(), nil)
	done := make(chan error, 1)
	go func() {
		res, err := e.client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "a pending poll", s.writableForTest)
	cancel()
	if err := recv(t, done, "aborted poll"); err == nil {
		t.Error("aborted poll got an answer")
	}
	// The reference: "poll connection closed prematurely".
	e.rec.expectClose(t, s, ReasonTransportError)
}

func TestPollingPayloadTooLarge(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), &Options{MaxHTTPBufferSize: 100})
	defer e.close()
	c, hd, s := e.handshake()
	if hd.MaxPayload != 100 {
		t.Errorf("maxPayload %d", hd.MaxPayload)
	}
	big := "4" + strings.Repeat("a", 100)
	res := e.mustDo("POST", c.query(), big, nil)
	if res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of 101 bytes: %d", res.status)
	}
	// Without a Content-Length (chunked), the limit holds as well.
	res, err := e.do("POST", c.query(), io.MultiReader(strings.NewReader(big)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked POST of 101 bytes: %d", res.status)
	}
	// The reference keeps the session: nothing was delivered, and a POST
	// within the limit goes through.
	c.post(big[:100])
	if m := recv(t, e.rec.msgs, "message"); m.data != big[1:100] {
		t.Errorf("message %q", m.data)
	}
	res, err = e.do("POST", c.query(), io.MultiReader(strings.NewReader("4chunked")), nil)
	if err != nil || res.status != 200 {
		t.Fatalf("chunked POST: %v %d", err, res.status)
	}
	if m := recv(t, e.rec.msgs, "message"); m.data != "chunked" {
		t.Errorf("message %q", m.data)
	}
	if n := e.rec.closeCount(s); n != 0 {
		t.Errorf("session closed")
	}
}

func TestPollingParseError(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	// The packets before the bad one are handled; the POST is answered
	// "ok"; the session closes with "parse error" (all as the reference).
	c.post("4hi\x1eZZZ\x1e4never")
	if m := recv(t, e.rec.msgs, "message"); m.data != "hi" {
		t.Errorf("message %q", m.data)
	}
	e.rec.expectClose(t, s, ReasonParseError)
	noRecv(t, e.rec.msgs, 20*time.Millisecond, "message after the parse error")
	for _, method := range []string{"GET", "POST"} {
		res := e.mustDo(method, c.query(), "4x", nil)
		if res.status != 400 || res.body != `{"code":1,"message":"Session ID unknown"}` {
			t.Errorf("%s after close: %d %s", method, res.status, res.body)
		}
	}
}

func TestPollingEmptyPost(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	c.post("")
	e.rec.expectClose(t, s, ReasonParseError)
}

func TestPollingClosePacketFromClient(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	c.post("4bye\x1e1\x1e4never")
	if m := recv(t, e.rec.msgs, "message"); m.data != "bye" {
		t.Errorf("message %q", m.data)
	}
	e.rec.expectClose(t, s, ReasonTransportClose)
	noRecv(t, e.rec.msgs, 20*time.Millisecond, "message after the close packet")
}

// TestPollingClientCloseReleasesPoll: a close packet posted while a GET
// is pending ends the session, and the GET gets a noop, as the reference
// answers it (a close packet would tell the client the server closed it),
// whether net/http holds the GET or it was taken out of it. A GET after
// the close finds no session.
func TestPollingClientCloseReleasesPoll(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "pending", true: "held"}[held], func(t *testing.T) {
			defer leakcheck.Check(t)()
			if held {
				holdPollsAt(t, 10*time.Millisecond)
			}
			e := newEnv(t, newRecorder(false), nil)
			defer e.close()
			c, _, s := e.handshake()
			ch := c.asyncGet()
			if held {
				waitFor(t, "the poll held", s.heldForTest)
			} else {
				waitFor(t, "a pending poll", s.writableForTest)
			}
			c.post("1")
			if got := packetString(pollResult(t, ch)); got != "6" {
				t.Errorf("pending poll: %q, want the noop packet", got)
			}
			e.rec.expectClose(t, s, ReasonTransportClose)
			res, err := c.get()
			if err != nil || res.status != http.StatusBadRequest || res.body != `{"code":1,"message":"Session ID unknown"}` {
				t.Errorf("poll after the close: %d %q %v", res.status, res.body, err)
			}
		})
	}
}

func TestPollingServerClose(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()

	// A pending poll gets the close packet.
	c, _, s := e.handshake()
	ch := c.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)
	s.Close()
	if got := packetString(pollResult(t, ch)); got != "1" {
		t.Errorf("poll: %q", got)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
	if err := s.Send(textMsg("x"), SendOptions{}); err != ErrSessionClosed {
		t.Errorf("Send after close: %v", err)
	}
	if s.writableForTest() {
		t.Error("closed session writable")
	}

	// Without a pending poll, the queued messages wait for the next one and
	// the close packet for the one after, as with the reference (a client
	// reads a close that comes with other packets before them); the session
	// closes once the close packet is answered.
	c, _, s = e.handshake()
	if err := s.Send(textMsg("last"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // twice is harmless
	if err := s.Send(textMsg("x"), SendOptions{}); err != ErrSessionClosed {
		t.Errorf("Send while closing: %v", err)
	}
	noRecv(t, e.rec.closes, 20*time.Millisecond, "OnClose before the poll")
	if got := packetString(c.mustGet()); got != "4last" {
		t.Errorf("first poll: %q", got)
	}
	noRecv(t, e.rec.closes, 20*time.Millisecond, "OnClose before the close packet")
	if got := packetString(c.mustGet()); got != "1" {
		t.Errorf("second poll: %q", got)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)

	// Messages sent just before Close reach the client, then the close
	// packet, over one or two polls.
	c, _, s = e.handshake()
	ch = c.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)
	if err := s.Send(textMsg("bye"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got := packetString(pollResult(t, ch))
	if got == "4bye" {
		got += "|" + packetString(c.mustGet())
	}
	if got != "4bye|1" {
		t.Errorf("polls: %q", got)
	}
	e.rec.expectClose(t, s, ReasonForcedClose)
	if n := e.rec.closeCount(s); n != 1 {
		t.Errorf("%d OnClose calls", n)
	}
}

func TestPollingCompression(t *testing.T) {
	defer leakcheck.Check(t)()
	big := strings.Repeat("compressible ", 100) // 1300 bytes
	tests := []struct {
		name     string
		opts     HTTPCompressionOptions
		msg      string
		accept   string
		encoding string
	}{
		{"gzip", HTTPCompressionOptions{}, big, "gzip, deflate, br", "gzip"},
		{"deflate", HTTPCompressionOptions{}, big, "deflate", "deflate"},
		{"not accepted", HTTPCompressionOptions{}, big, "", ""},
		{"refused with q=0", HTTPCompressionOptions{}, big, "gzip;q=0", ""},
		{"below threshold", HTTPCompressionOptions{}, "small", "gzip", ""},
		{"custom threshold", HTTPCompressionOptions{Threshold: 4}, "small", "gzip", "gzip"},
		{"disabled", HTTPCompressionOptions{Disable: true}, big, "gzip", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, newRecorder(false), &Options{HTTPCompression: tt.opts})
			defer e.close()
			// A client that does not decompress by itself.
			e.client.Transport = &http.Transport{DisableCompression: true}
			c, _, s := e.handshake()
			if err := s.Send(textMsg(tt.msg), SendOptions{}); err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			if tt.accept != "" {
				h.Set("Accept-Encoding", tt.accept)
			}
			res := e.mustDo("GET", c.query(), "", h)
			if got := res.header.Get("Content-Encoding"); got != tt.encoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.encoding)
			}
			body := []byte(res.body)
			var r io.Reader
			switch tt.encoding {
			case "gzip":
				r, _ = gzip.NewReader(bytes.NewReader(body))
			case "deflate":
				r, _ = zlib.NewReader(bytes.NewReader(body))
			}
			if r != nil {
				if len(body) >= len(tt.msg) && len(tt.msg) > 100 {
					t.Errorf("compressed to %d bytes", len(body))
				}
				var err error
				if body, err = io.ReadAll(r); err != nil {
					t.Fatal(err)
				}
			}
			if string(body) != "4"+tt.msg {
				t.Errorf("body %q", body)
			}
			e.client.CloseIdleConnections()
		})
	}
}

// TestPollingHandshakeCompressed: the handshake answer is compressed as
// well once it passes the threshold.
func TestPollingHandshakeCompressed(t *testing.T) {
	srv := NewServer(nopHandler, &Options{HTTPCompression: HTTPCompressionOptions{Threshold: 10}})
	defer func() {
		ctx, cancel := contextWithTimeout()
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	req, _ := http.NewRequest("GET", "/engine.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := newResponseRecorder()
	srv.ServeHTTP(w, req)
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("handshake not compressed: %v", w.Header())
	}
	zr, err := gzip.NewReader(&w.body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	parseOpen(t, string(b))
}

// responseRecorder is a minimal http.ResponseWriter.
type responseRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newResponseRecorder() *responseRecorder { return &responseRecorder{header: http.Header{}} }

func (r *responseRecorder) Header() http.Header         { return r.header }
func (r *responseRecorder) WriteHeader(code int)        { r.code = code }
func (r *responseRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// TestPollingManyMessages sends both ways more than fits one payload read,
// checking order and count.
func TestPollingManyMessages(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), nil)
	defer e.close()
	c, _, _ := e.handshake()
	var payload []string
	for i := range 200 {
		payload = append(payload, "4m"+strconv.Itoa(i))
	}
	c.post(strings.Join(payload, "\x1e"))
	for i := range 200 {
		if m := recv(t, e.rec.msgs, "message"); m.data != "m"+strconv.Itoa(i) {
			t.Fatalf("message %d: %q", i, m.data)
		}
	}
	var got []parser.Packet
	for len(got) < 200 {
		got = append(got, c.mustGet()...)
	}
	for i, p := range got {
		if p.Type != parser.PacketMessage || string(p.Data) != "m"+strconv.Itoa(i) {
			t.Fatalf("packet %d: %v %q", i, p.Type, p.Data)
		}
	}
}

// startSlowPost starts a POST whose body is written through the returned
// pipe, and waits until the server is reading it.
func startSlowPost(t *testing.T, e *env, c *pollClient, s *Session) (*io.PipeWriter, <-chan result) {
	t.Helper()
	pr, pw := io.Pipe()
	ch := make(chan result, 1)
	go func() {
		res, err := e.do("POST", c.query(), pr, nil)
		ch <- result{res, err}
	}()
	if _, err := pw.Write([]byte("4first")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the POST being read", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.posting
	})
	return pw, ch
}

// TestPollingOverlappingPost: a second POST while one is being read is a
// transport error, answered with 400, as with the reference.
func TestPollingOverlappingPost(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	pw, first := startSlowPost(t, e, c, s)
	res := e.mustDo("POST", c.query(), "4second", nil)
	if res.status != 400 || res.body != "" {
		t.Errorf("second POST: %d %q", res.status, res.body)
	}
	e.rec.expectClose(t, s, ReasonTransportError)
	pw.Close()
	r := recv(t, first, "first POST")
	if r.err != nil {
		t.Fatal(r.err)
	}
	noRecv(t, e.rec.msgs, 10*time.Millisecond, "message of a closed session")
}

// TestPollingPostBrokenOff: a POST whose body breaks off is a transport
// error ("data request connection closed prematurely" in the reference).
func TestPollingPostBrokenOff(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(false), nil)
	defer e.close()
	c, _, s := e.handshake()
	pw, first := startSlowPost(t, e, c, s)
	pw.CloseWithError(errors.New("client gone"))
	if r := recv(t, first, "first POST"); r.err == nil {
		t.Errorf("POST answered: %d", r.res.status)
	}
	e.rec.expectClose(t, s, ReasonTransportError)
}
