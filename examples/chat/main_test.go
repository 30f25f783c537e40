package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio/clientdist"
)

// start serves newHandler() on a loopback port. Defer stop, after
// leakcheck.Check so that it runs first.
func start(t *testing.T) (ts *httptest.Server, stop func()) {
	t.Helper()
	h, io := newHandler()
	ts = httptest.NewServer(h)
	return ts, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := io.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
	}
}

// noRedirect is an HTTP client that reports redirects instead of
// following them.
func noRedirect() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := noRedirect().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestPage(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, stop := start(t)
	defer stop()

	res, body := get(t, ts.URL+"/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", res.Status)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, want := range []string{"<title>Duplex chat</title>", `<script src="/socket.io/socket.io.min.js">`, `<label for="name">Nickname</label>`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if res, _ := get(t, ts.URL+"/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %s, want 404", res.Status)
	}
}

// TestClientLibrary checks that the page's script is served by the chat's
// own server: socket.io-client's bundle at /socket.io/socket.io.min.js.
func TestClientLibrary(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, stop := start(t)
	defer stop()

	res, body := get(t, ts.URL+"/socket.io/socket.io.min.js")
	want, _ := clientdist.File("socket.io.min.js")
	if res.StatusCode != http.StatusOK || want == "" || body != want {
		t.Fatalf("got %s and %d bytes, want 200 and socket.io-client's socket.io.min.js (%d bytes)", res.Status, len(body), len(want))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/javascript; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if res, _ := get(t, ts.URL+"/client/socket.io.min.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /client/socket.io.min.js: %s, want 404", res.Status)
	}
}

func TestChat(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, stop := start(t)
	defer stop()

	ann := dial(t, ts.URL)
	defer ann.close()
	var joined roomState
	ann.call("join", &joined, "ann")
	if joined.Room != "general" || !equal(joined.Users, "ann") {
		t.Fatalf("ann's join: %+v", joined)
	}

	bob := dial(t, ts.URL)
	defer bob.close()
	bob.call("join", &joined, "  bob ", "")
	if joined.Room != "general" || !equal(joined.Users, "ann", "bob") {
		t.Fatalf("bob's join: %+v", joined)
	}
	var users roomState
	ann.expect("users", &users)
	if !equal(users.Users, "ann", "bob") || users.Rev != joined.Rev {
		t.Errorf("ann's users: %+v, want ann, bob at rev %d", users, joined.Rev)
	}
	var n notice
	ann.expect("notice", &n)
	if n.Text != "bob joined" {
		t.Errorf("notice: %+v", n)
	}

	// A message: broadcast to the others, acknowledged to the sender with
	// its id and the server's time.
	before := time.Now().UnixMilli()
	var ack sent
	ann.call("message", &ack, "hello bob")
	var msg message
	bob.expect("message", &msg)
	if msg.From != "ann" || msg.Text != "hello bob" || msg.Room != "general" || msg.ID != ack.ID || msg.TS != ack.TS {
		t.Errorf("bob got %+v, ann's ack %+v", msg, ack)
	}
	if ack.ID == 0 || ack.TS < before || ack.TS > time.Now().UnixMilli() {
		t.Errorf("ack %+v: want an id and a time of now", ack)
	}

	// Typing reaches the others in the room.
	ann.emit("typing", true)
	var ty typing
	bob.expect("typing", &ty)
	if ty != (typing{Room: "general", User: "ann", Typing: true}) {
		t.Errorf("typing: %+v", ty)
	}

	// A binary attachment comes out as binary on the other side.
	img := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0, 0xff}, 100)
	ann.callBinary("attachment", &ack, map[string]any{"name": `C:\photos\cat.png`, "type": "image/png; q=1"}, img)
	p := bob.expectPacket("attachment")
	var f struct {
		file
		Data json.RawMessage `json:"data"` // a placeholder
	}
	if err := json.Unmarshal(p.args[0], &f); err != nil {
		t.Fatal(err)
	}
	if f.From != "ann" || f.Name != "cat.png" || f.Type != "image/png" || f.ID != ack.ID {
		t.Errorf("attachment %+v, ack %+v", f, ack)
	}
	if len(p.bins) != 1 || !bytes.Equal(p.bins[0], img) || string(f.Data) != `{"_placeholder":true,"num":0}` {
		t.Errorf("attachment bytes: %d attachments, data %s", len(p.bins), f.Data)
	}

	// Rooms isolate messages: carol in "random" gets ann's message there,
	// and not bob's, sent to "general" just before.
	carol := dial(t, ts.URL)
	defer carol.close()
	carol.call("join", &joined, "carol", "random")
	if joined.Room != "random" || !equal(joined.Users, "carol") {
		t.Fatalf("carol's join: %+v", joined)
	}
	ann.call("room", &joined, " Random ")
	if joined.Room != "random" || !equal(joined.Users, "ann", "carol") {
		t.Fatalf("ann's switch: %+v", joined)
	}
	bob.expect("users", &users)
	if users.Room != "general" || !equal(users.Users, "bob") {
		t.Errorf("bob's users after ann left: %+v", users)
	}
	bob.call("message", &ack, "only general")
	ann.call("message", &ack, "only random")
	carol.expect("message", &msg)
	if msg.Text != "only random" {
		t.Errorf("carol got %+v, want ann's message in random", msg)
	}

	// Leaving updates the user list of the room.
	carol.close()
	ann.expect("users", &users)
	if users.Room != "random" || !equal(users.Users, "ann") {
		t.Errorf("ann's users after carol left: %+v", users)
	}
	ann.expect("notice", &n)
	if n.Text != "carol left" {
		t.Errorf("notice: %+v", n)
	}
}

func TestValidation(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, stop := start(t)
	defer stop()

	ann := dial(t, ts.URL)
	defer ann.close()
	var f failure
	ann.call("message", &f, "hi")
	if f.Error != "join the chat first" {
		t.Errorf("message before join: %q", f.Error)
	}
	for _, tc := range []struct{ name, room, err string }{
		{"", "", "choose a nickname"},
		{"   ", "", "choose a nickname"},
		{strings.Repeat("x", 25), "", "the nickname is too long (24 characters at most)"},
		{"a\x00b", "", "the nickname has characters that cannot be shown"},
		{"ann", "no spaces", "room names are 1 to 24 lowercase letters, digits, - or _"},
	} {
		f = failure{}
		ann.call("join", &f, tc.name, tc.room)
		if f.Error != tc.err {
			t.Errorf("join(%q, %q): error %q, want %q", tc.name, tc.room, f.Error, tc.err)
		}
	}
	var joined roomState
	ann.call("join", &joined, "ann")
	f = failure{}
	ann.call("join", &f, "ann2")
	if f.Error != "you already joined as ann" {
		t.Errorf("second join: %q", f.Error)
	}

	bob := dial(t, ts.URL)
	defer bob.close()
	f = failure{}
	bob.call("join", &f, "ANN")
	if f.Error != "the nickname ANN is taken" {
		t.Errorf("taken nickname: %q", f.Error)
	}
	bob.call("join", &joined, "bob")
	for _, tc := range []struct {
		event string
		args  []any
		err   string
	}{
		{"message", []any{"  "}, "the message is empty"},
		{"message", []any{strings.Repeat("é", maxTextRunes+1)}, "the message is too long (2000 characters at most)"},
		{"room", []any{"../x"}, "room names are 1 to 24 lowercase letters, digits, - or _"},
		{"room", []any{strings.Repeat("r", 25)}, "room names are 1 to 24 lowercase letters, digits, - or _"},
	} {
		f = failure{}
		bob.call(tc.event, &f, tc.args...)
		if f.Error != tc.err {
			t.Errorf("%s: error %q, want %q", tc.event, f.Error, tc.err)
		}
	}
	f = failure{}
	bob.callBinary("attachment", &f, map[string]any{"name": "big.bin", "type": "x"}, make([]byte, maxFileBytes+1))
	if f.Error != "the file is too large (256 KiB at most)" {
		t.Errorf("large attachment: %q", f.Error)
	}

	// The nickname is free again once its user left.
	ann.close()
	bob.expect("users", nil)
	carol := dial(t, ts.URL)
	defer carol.close()
	joined = roomState{}
	carol.call("join", &joined, "Ann")
	if !equal(joined.Users, "Ann", "bob") {
		t.Errorf("join as Ann after ann left: %+v", joined)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"cat.png":             "cat.png",
		"/etc/passwd":         "passwd",
		`C:\Users\me\a b.txt`: "a b.txt",
		"":                    "file",
		"dir/":                "dir",
		"a\x00\nb":            "ab",
		"\x00":                "file",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"image/png":                 "image/png",
		"Text/Plain; charset=utf-8": "text/plain",
		"":                          "application/octet-stream",
		"nonsense":                  "application/octet-stream",
		"a/b/c":                     "application/octet-stream",
	} {
		if got := fileType(in); got != want {
			t.Errorf("fileType(%q) = %q, want %q", in, got, want)
		}
	}
}

func equal(got []string, want ...string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}

// client is a minimal Socket.IO client over a WebSocket, enough to drive
// the chat: it joins the main namespace, sends events with and without
// acknowledgements (binary attachments too), answers pings and collects
// the packets it gets.
type client struct {
	t    *testing.T
	conn *websocket.Conn

	wmu    sync.Mutex // one writer at a time
	nextID int

	packets chan packet
	done    chan struct{}
	once    sync.Once
}

// packet is an event or an acknowledgement received.
type packet struct {
	ack   bool
	id    int
	event string
	args  []json.RawMessage
	bins  [][]byte
}

const wait = 5 * time.Second

// dial connects a client to the server at base (an http:// URL).
func dial(t *testing.T, base string) *client {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, packets: make(chan packet, 64), done: make(chan struct{})}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	if _, open, err := conn.ReadMessage(); err != nil || !bytes.HasPrefix(open, []byte(`0{"sid":`)) {
		t.Fatalf("open packet: %q, %v", open, err)
	}
	c.write(websocket.TextMessage, []byte("40"))
	if _, ok, err := conn.ReadMessage(); err != nil || !bytes.HasPrefix(ok, []byte(`40{"sid":`)) {
		t.Fatalf("connect packet: %q, %v", ok, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go c.read()
	return c
}

// close closes the connection and waits for the reading goroutine.
func (c *client) close() {
	c.once.Do(func() { _ = c.conn.Close() })
	<-c.done
}

func (c *client) write(typ int, data []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(typ, data); err != nil {
		c.t.Errorf("write: %v", err)
	}
}

// read answers pings and decodes events and acknowledgements until the
// connection closes.
func (c *client) read() {
	defer close(c.done)
	defer close(c.packets)
	var pending *packet
	var want int
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			if pending == nil {
				c.t.Errorf("unexpected binary message")
				return
			}
			pending.bins = append(pending.bins, data)
			if len(pending.bins) == want {
				c.packets <- *pending
				pending = nil
			}
			continue
		}
		switch {
		case string(data) == "2":
			c.write(websocket.TextMessage, []byte("3"))
		case len(data) > 1 && data[0] == '4':
			p, n, err := decode(data[1:])
			if err != nil {
				c.t.Errorf("packet %q: %v", data, err)
				return
			}
			if n > 0 {
				pending, want = &p, n
				continue
			}
			c.packets <- p
		default:
			c.t.Errorf("unexpected message %q", data)
			return
		}
	}
}

// decode decodes a Socket.IO packet of the main namespace: type,
// attachment count, ack id, JSON array. n is the attachments to come.
func decode(b []byte) (p packet, n int, err error) {
	typ := b[0]
	b = b[1:]
	switch typ {
	case '2', '3':
	case '5', '6':
		i := bytes.IndexByte(b, '-')
		if i < 0 {
			return p, 0, fmt.Errorf("no attachment count")
		}
		if n, err = strconv.Atoi(string(b[:i])); err != nil {
			return p, 0, err
		}
		b = b[i+1:]
	default:
		return p, 0, fmt.Errorf("packet type %c", typ)
	}
	p.ack = typ == '3' || typ == '6'
	i := bytes.IndexByte(b, '[')
	if i < 0 {
		return p, 0, fmt.Errorf("no arguments")
	}
	if i > 0 {
		if p.id, err = strconv.Atoi(string(b[:i])); err != nil {
			return p, 0, err
		}
	}
	if err := json.Unmarshal(b[i:], &p.args); err != nil {
		return p, 0, err
	}
	if !p.ack {
		if len(p.args) == 0 || json.Unmarshal(p.args[0], &p.event) != nil {
			return p, 0, fmt.Errorf("no event name")
		}
		p.args = p.args[1:]
	}
	return p, n, nil
}

// emit sends an event without acknowledgement.
func (c *client) emit(event string, args ...any) {
	c.t.Helper()
	c.write(websocket.TextMessage, append([]byte("42"), encode(c.t, event, args)...))
}

// call sends an event with an acknowledgement and decodes the answer's
// first argument into res.
func (c *client) call(event string, res any, args ...any) {
	c.t.Helper()
	c.nextID++
	c.write(websocket.TextMessage, fmt.Appendf(nil, "42%d%s", c.nextID, encode(c.t, event, args)))
	c.answer(res)
}

// callBinary is call for one argument, arg, to which the binary
// attachment bin is added as "data".
func (c *client) callBinary(event string, res any, arg map[string]any, bin []byte) {
	c.t.Helper()
	c.nextID++
	arg["data"] = map[string]any{"_placeholder": true, "num": 0}
	c.wmu.Lock()
	err := c.conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "451-%d%s", c.nextID, encode(c.t, event, []any{arg})))
	if err == nil {
		err = c.conn.WriteMessage(websocket.BinaryMessage, bin)
	}
	c.wmu.Unlock()
	if err != nil {
		c.t.Fatal(err)
	}
	c.answer(res)
}

// answer waits for the acknowledgement of the last call, skipping events.
func (c *client) answer(res any) {
	c.t.Helper()
	for {
		p := c.next()
		if !p.ack {
			continue
		}
		if p.id != c.nextID {
			c.t.Fatalf("ack %d, want %d", p.id, c.nextID)
		}
		if len(p.args) != 1 {
			c.t.Fatalf("ack with %d arguments", len(p.args))
		}
		if err := json.Unmarshal(p.args[0], res); err != nil {
			c.t.Fatalf("ack %s: %v", p.args[0], err)
		}
		return
	}
}

// expect waits for event, skipping other events, and decodes its first
// argument into v when v is not nil.
func (c *client) expect(event string, v any) {
	c.t.Helper()
	p := c.expectPacket(event)
	if v == nil {
		return
	}
	if len(p.args) == 0 {
		c.t.Fatalf("%s without arguments", event)
	}
	if err := json.Unmarshal(p.args[0], v); err != nil {
		c.t.Fatalf("%s %s: %v", event, p.args[0], err)
	}
}

// expectPacket waits for event, skipping other events.
func (c *client) expectPacket(event string) packet {
	c.t.Helper()
	for {
		if p := c.next(); !p.ack && p.event == event {
			return p
		}
	}
}

func (c *client) next() packet {
	c.t.Helper()
	select {
	case p, ok := <-c.packets:
		if !ok {
			c.t.Fatal("connection closed")
		}
		return p
	case <-time.After(wait):
		c.t.Fatal("timed out waiting for a packet")
	}
	return packet{}
}

func encode(t *testing.T, event string, args []any) []byte {
	t.Helper()
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
