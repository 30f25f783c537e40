package natsadapter_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The raw WebSocket Socket.IO client of the tests.

// event is one EVENT packet a test client received.
type event struct {
	name string
	args []json.RawMessage
	id   int      // -1 without ack id
	bins [][]byte // binary attachments
}

func (e event) arg(i int, v any) error {
	if i >= len(e.args) {
		return fmt.Errorf("no argument %d in %s%s", i, e.name, e.args)
	}
	return json.Unmarshal(e.args[i], v)
}

// client is a small Socket.IO v5 client over WebSocket, for one
// namespace, with the JSON parser.
type client struct {
	t    testing.TB
	name string
	nsp  string // its namespace, "/" by default
	conn *websocket.Conn
	sid  string
	pid  string

	events       chan event
	disconnected chan struct{}
	done         chan struct{}

	wmu     sync.Mutex
	mu      sync.Mutex
	ackNext int
	acks    map[int]chan []json.RawMessage
	offset  string // last offset seen, when the server appends them
	answer  func(e event) []any
	discOne sync.Once
	pending *event // a binary event waiting for attachments
	want    int    // attachments still expected
}

// dial connects a client to the main namespace of a server's URL with
// auth {name, ...extra}.
func dial(t testing.TB, baseURL, name string, extra map[string]any) *client {
	t.Helper()
	return dialNamespace(t, baseURL, "/", name, extra)
}

// dialNamespace connects a client to the namespace nsp of a server's URL
// with auth {name, ...extra}: its packets carry the "<nsp>," prefix of
// the protocol outside the main namespace.
func dialNamespace(t testing.TB, baseURL, nsp, name string, extra map[string]any) *client {
	t.Helper()
	c := &client{
		t: t, name: name, nsp: nsp,
		events:       make(chan event, 256),
		disconnected: make(chan struct{}),
		done:         make(chan struct{}),
		acks:         make(map[int]chan []json.RawMessage),
	}
	u := "ws" + strings.TrimPrefix(baseURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, resp, err := (&websocket.Dialer{HandshakeTimeout: waitTimeout}).Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	resp.Body.Close()
	c.conn = conn
	t.Cleanup(c.close)
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, open, err := conn.ReadMessage(); err != nil || len(open) == 0 || open[0] != '0' {
		t.Fatalf("open packet %q: %v", open, err)
	}
	auth := map[string]any{"name": name}
	for k, v := range extra {
		auth[k] = v
	}
	b, _ := json.Marshal(auth)
	c.write("40" + c.prefix() + string(b))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		s := string(msg)
		if s == "2" {
			c.write("3")
			continue
		}
		if strings.HasPrefix(s, "4") {
			typ, _, nsp, rest := splitPacket(s[1:])
			switch {
			case nsp != c.nsp:
				continue
			case typ == '0':
				var reply struct{ SID, PID string }
				_ = json.Unmarshal([]byte(rest), &reply)
				c.sid, c.pid = reply.SID, reply.PID
			case typ == '2': // missed events come first
				c.onPacket(s[1:])
				continue
			default:
				t.Fatalf("%s: connect to %s: got %q", name, c.nsp, s)
			}
			break
		}
		t.Fatalf("%s: connect: got %q", name, s)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go c.read()
	return c
}

// prefix is what follows the packet type in the client's packets: its
// namespace and a comma, or nothing for the main namespace.
func (c *client) prefix() string {
	if c.nsp == "/" {
		return ""
	}
	return c.nsp + ","
}

// splitPacket splits a Socket.IO packet into its type, its number of
// binary attachments, its namespace ("/" when it names none) and the rest
// (ack id and JSON).
func splitPacket(s string) (typ byte, attachments int, nsp, rest string) {
	if s == "" {
		return 0, 0, "/", ""
	}
	typ, s = s[0], s[1:]
	if typ == '5' || typ == '6' {
		n, after, _ := strings.Cut(s, "-")
		attachments, _ = strconv.Atoi(n)
		s = after
	}
	nsp = "/"
	if strings.HasPrefix(s, "/") {
		name, after, found := strings.Cut(s, ",")
		nsp, s = name, after
		if !found {
			s = ""
		}
	}
	return typ, attachments, nsp, s
}

func (c *client) write(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

func (c *client) close() {
	_ = c.conn.Close()
	<-c.done
}

// drop closes the connection without a word, as a lost network would.
func (c *client) drop() { c.close() }

func (c *client) read() {
	defer close(c.done)
	defer c.discOne.Do(func() { close(c.disconnected) })
	for {
		typ, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			if c.pending != nil {
				c.pending.bins = append(c.pending.bins, msg)
				if c.want--; c.want == 0 {
					c.events <- *c.pending
					c.pending = nil
				}
			}
			continue
		}
		s := string(msg)
		switch {
		case s == "2":
			c.write("3")
		case strings.HasPrefix(s, "4"):
			c.onPacket(s[1:])
		}
	}
}

// onPacket handles a Socket.IO packet of the client's namespace; those
// of other namespaces are ignored.
func (c *client) onPacket(s string) {
	if s == "" {
		return
	}
	typ, attachments, nsp, s := splitPacket(s)
	if nsp != c.nsp {
		return
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	id := -1
	if i > 0 {
		id, _ = strconv.Atoi(s[:i])
	}
	var arr []json.RawMessage
	if i < len(s) {
		_ = json.Unmarshal([]byte(s[i:]), &arr)
	}
	switch typ {
	case '1':
		c.discOne.Do(func() { close(c.disconnected) })
	case '5':
		if len(arr) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		c.pending, c.want = &event{name: name, args: arr[1:], id: id}, attachments
	case '2':
		if len(arr) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		e := event{name: name, args: arr[1:], id: id}
		if n := len(e.args); n > 0 {
			var off string
			// Offsets are stream sequences, or the in-memory adapter's
			// "<prefix>-<n>"; tests emit no other such string last.
			if json.Unmarshal(e.args[n-1], &off) == nil && off != "" &&
				(strings.Trim(off, "0123456789") == "" || strings.Contains(off, "-")) {
				c.mu.Lock()
				c.offset = off
				c.mu.Unlock()
			}
		}
		if id >= 0 {
			c.mu.Lock()
			answer := c.answer
			c.mu.Unlock()
			var reply []any
			if answer != nil {
				reply = answer(e)
			}
			if reply == nil {
				reply = []any{}
			}
			b, _ := json.Marshal(reply)
			c.write("43" + c.prefix() + strconv.Itoa(id) + string(b))
		}
		c.events <- e
	case '3':
		c.mu.Lock()
		ch := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- arr
		}
	}
}

// emit sends an event.
func (c *client) emit(name string, args ...any) {
	b, _ := json.Marshal(append([]any{name}, args...))
	c.write("42" + c.prefix() + string(b))
}

// emitAck sends an event and waits for its acknowledgement.
func (c *client) emitAck(name string, args ...any) []json.RawMessage {
	c.t.Helper()
	c.mu.Lock()
	id := c.ackNext
	c.ackNext++
	ch := make(chan []json.RawMessage, 1)
	c.acks[id] = ch
	c.mu.Unlock()
	b, _ := json.Marshal(append([]any{name}, args...))
	c.write("42" + c.prefix() + strconv.Itoa(id) + string(b))
	select {
	case a := <-ch:
		return a
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no ack for %s", c.name, name)
		return nil
	}
}

// join makes the client's socket join a room, through its server.
func (c *client) join(room string) { c.emitAck("join", room) }

// expect waits for the next event, which must be called name.
func (c *client) expect(name string) event {
	c.t.Helper()
	select {
	case e := <-c.events:
		if e.name != name {
			c.t.Fatalf("%s: got event %q %s, want %q", c.name, e.name, e.args, name)
		}
		return e
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no %q event", c.name, name)
	}
	return event{}
}

// expectNone checks that no event comes for a while.
func (c *client) expectNone(d time.Duration) {
	c.t.Helper()
	select {
	case e := <-c.events:
		c.t.Fatalf("%s: unexpected event %q %s", c.name, e.name, e.args)
	case <-time.After(d):
	}
}

// expectDisconnect waits for the server to disconnect the socket.
func (c *client) expectDisconnect() {
	c.t.Helper()
	select {
	case <-c.disconnected:
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: not disconnected", c.name)
	}
}

func (c *client) lastOffset() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// expect2 waits for the next event, which must be called one of names.
func (c *client) expect2(names ...string) event {
	c.t.Helper()
	select {
	case e := <-c.events:
		for _, n := range names {
			if e.name == n {
				return e
			}
		}
		c.t.Fatalf("%s: got event %q %s, want one of %q", c.name, e.name, e.args, names)
		return e
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no %q event", c.name, names)
	}
	return event{}
}

// setAnswer sets what the client answers to events that ask for an
// acknowledgement.
func (c *client) setAnswer(fn func(e event) []any) {
	c.mu.Lock()
	c.answer = fn
	c.mu.Unlock()
}
