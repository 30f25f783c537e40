// Package clusterclient is the Socket.IO client of the cluster adapters'
// tests (adapter/redis, adapter/postgres, adapter/nats): a small client
// over WebSocket with the JSON parser, for one namespace, that records
// the events, acknowledgements and recovery offsets it gets.
package clusterclient

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

// WaitTimeout bounds each wait of a Client: for its connection, an
// acknowledgement, an event.
const WaitTimeout = 10 * time.Second

// Event is one EVENT packet a test client received.
type Event struct {
	Name string            // the event's name
	Args []json.RawMessage // its arguments, as JSON
	ID   int               // its ack id; -1 without one
	Bins [][]byte          // its binary attachments
}

// Arg decodes argument i into v.
func (e Event) Arg(i int, v any) error {
	if i >= len(e.Args) {
		return fmt.Errorf("no argument %d in %s%s", i, e.Name, e.Args)
	}
	return json.Unmarshal(e.Args[i], v)
}

// Client is a small Socket.IO v5 client over WebSocket, for one
// namespace, with the JSON parser.
type Client struct {
	T    testing.TB      // the test it fails
	Name string          // its name, in the auth payload and in failures
	NSP  string          // its namespace, "/" by default
	Conn *websocket.Conn // its connection
	SID  string          // its socket id
	PID  string          // its private id, with connection state recovery

	Events       chan Event    // the events received, in order
	Disconnected chan struct{} // closed when the server disconnects it
	done         chan struct{}

	wmu     sync.Mutex
	mu      sync.Mutex
	ackNext int
	acks    map[int]chan []json.RawMessage
	offset  string // last offset seen, when the server appends them
	answer  func(e Event) []any
	discOne sync.Once
	pending *Event // a binary event waiting for attachments
	want    int    // attachments still expected
}

// Dial connects a client to the main namespace of a server's URL with
// auth {name, ...extra}.
func Dial(t testing.TB, baseURL, name string, extra map[string]any) *Client {
	t.Helper()
	return DialNamespace(t, baseURL, "/", name, extra)
}

// DialNamespace connects a client to the namespace nsp of a server's URL
// with auth {name, ...extra}: its packets carry the "<nsp>," prefix of
// the protocol outside the main namespace.
func DialNamespace(t testing.TB, baseURL, nsp, name string, extra map[string]any) *Client {
	t.Helper()
	c := &Client{
		T: t, Name: name, NSP: nsp,
		Events:       make(chan Event, 256),
		Disconnected: make(chan struct{}),
		done:         make(chan struct{}),
		acks:         make(map[int]chan []json.RawMessage),
	}
	u := "ws" + strings.TrimPrefix(baseURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, resp, err := (&websocket.Dialer{HandshakeTimeout: WaitTimeout}).Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	resp.Body.Close()
	c.Conn = conn
	t.Cleanup(c.Close)
	_ = conn.SetReadDeadline(time.Now().Add(WaitTimeout))
	if _, open, err := conn.ReadMessage(); err != nil || len(open) == 0 || open[0] != '0' {
		t.Fatalf("open packet %q: %v", open, err)
	}
	auth := map[string]any{"name": name}
	for k, v := range extra {
		auth[k] = v
	}
	b, _ := json.Marshal(auth)
	c.Write("40" + c.prefix() + string(b))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		s := string(msg)
		if s == "2" {
			c.Write("3")
			continue
		}
		if strings.HasPrefix(s, "4") {
			typ, _, nsp, rest := splitPacket(s[1:])
			switch {
			case nsp != c.NSP:
				continue
			case typ == '0':
				var reply struct{ SID, PID string }
				_ = json.Unmarshal([]byte(rest), &reply)
				c.SID, c.PID = reply.SID, reply.PID
			case typ == '2': // missed events come first
				c.onPacket(s[1:])
				continue
			default:
				t.Fatalf("%s: connect to %s: got %q", name, c.NSP, s)
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
func (c *Client) prefix() string {
	if c.NSP == "/" {
		return ""
	}
	return c.NSP + ","
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

// Write sends a raw Socket.IO packet as a text message.
func (c *Client) Write(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.Conn.WriteMessage(websocket.TextMessage, []byte(s))
}

// Done is closed when the connection has ended and the client's reader
// with it.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close closes the connection and waits for the reader to end.
func (c *Client) Close() {
	_ = c.Conn.Close()
	<-c.done
}

// Drop closes the connection without a word, as a lost network would.
func (c *Client) Drop() { c.Close() }

func (c *Client) read() {
	defer close(c.done)
	defer c.discOne.Do(func() { close(c.Disconnected) })
	for {
		typ, msg, err := c.Conn.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			if c.pending != nil {
				c.pending.Bins = append(c.pending.Bins, msg)
				if c.want--; c.want == 0 {
					c.Events <- *c.pending
					c.pending = nil
				}
			}
			continue
		}
		s := string(msg)
		switch {
		case s == "2":
			c.Write("3")
		case strings.HasPrefix(s, "4"):
			c.onPacket(s[1:])
		}
	}
}

// onPacket handles a Socket.IO packet of the client's namespace; those
// of other namespaces are ignored.
func (c *Client) onPacket(s string) {
	if s == "" {
		return
	}
	typ, attachments, nsp, s := splitPacket(s)
	if nsp != c.NSP {
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
		c.discOne.Do(func() { close(c.Disconnected) })
	case '5':
		if len(arr) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		c.pending, c.want = &Event{Name: name, Args: arr[1:], ID: id}, attachments
	case '2':
		if len(arr) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		e := Event{Name: name, Args: arr[1:], ID: id}
		if n := len(e.Args); n > 0 {
			var off string
			// Offsets are stream sequences, or the in-memory adapter's
			// "<prefix>-<n>"; tests emit no other such string last.
			if json.Unmarshal(e.Args[n-1], &off) == nil && off != "" &&
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
			c.Write("43" + c.prefix() + strconv.Itoa(id) + string(b))
		}
		c.Events <- e
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

// Emit sends an event.
func (c *Client) Emit(name string, args ...any) {
	b, _ := json.Marshal(append([]any{name}, args...))
	c.Write("42" + c.prefix() + string(b))
}

// EmitAck sends an event and waits for its acknowledgement.
func (c *Client) EmitAck(name string, args ...any) []json.RawMessage {
	c.T.Helper()
	c.mu.Lock()
	id := c.ackNext
	c.ackNext++
	ch := make(chan []json.RawMessage, 1)
	c.acks[id] = ch
	c.mu.Unlock()
	b, _ := json.Marshal(append([]any{name}, args...))
	c.Write("42" + c.prefix() + strconv.Itoa(id) + string(b))
	select {
	case a := <-ch:
		return a
	case <-time.After(WaitTimeout):
		c.T.Fatalf("%s: no ack for %s", c.Name, name)
		return nil
	}
}

// Join makes the client's socket join a room, through its server.
func (c *Client) Join(room string) { c.EmitAck("join", room) }

// Expect waits for the next event, which must be called name.
func (c *Client) Expect(name string) Event {
	c.T.Helper()
	select {
	case e := <-c.Events:
		if e.Name != name {
			c.T.Fatalf("%s: got event %q %s, want %q", c.Name, e.Name, e.Args, name)
		}
		return e
	case <-time.After(WaitTimeout):
		c.T.Fatalf("%s: no %q event", c.Name, name)
	}
	return Event{}
}

// ExpectNone checks that no event comes for a while.
func (c *Client) ExpectNone(d time.Duration) {
	c.T.Helper()
	select {
	case e := <-c.Events:
		c.T.Fatalf("%s: unexpected event %q %s", c.Name, e.Name, e.Args)
	case <-time.After(d):
	}
}

// ExpectDisconnect waits for the server to disconnect the socket.
func (c *Client) ExpectDisconnect() {
	c.T.Helper()
	select {
	case <-c.Disconnected:
	case <-time.After(WaitTimeout):
		c.T.Fatalf("%s: not disconnected", c.Name)
	}
}

// LastOffset is the last recovery offset the server appended to an
// event: a stream id ("ms-seq"), a stream sequence, or the in-memory
// adapter's "<prefix>-<n>".
func (c *Client) LastOffset() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Expect2 waits for the next event, which must be called one of names.
func (c *Client) Expect2(names ...string) Event {
	c.T.Helper()
	select {
	case e := <-c.Events:
		for _, n := range names {
			if e.Name == n {
				return e
			}
		}
		c.T.Fatalf("%s: got event %q %s, want one of %q", c.Name, e.Name, e.Args, names)
		return e
	case <-time.After(WaitTimeout):
		c.T.Fatalf("%s: no %q event", c.Name, names)
	}
	return Event{}
}

// SetAnswer sets what the client answers to events that ask for an
// acknowledgement.
func (c *Client) SetAnswer(fn func(e Event) []any) {
	c.mu.Lock()
	c.answer = fn
	c.mu.Unlock()
}
