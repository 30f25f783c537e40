package redisadapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/socketio"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// waitTimeout bounds every wait of the tests.
const waitTimeout = 10 * time.Second

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func init() {
	// go-redis logs every failed dial; the fault tests make many.
	redis.SetLogger(quietLogger{})
}

// redisServer is a redis-server of the test's own, on a free loopback
// port, with its files in a temporary directory.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startRedis starts a redis-server; it is stopped when the test ends.
// With appendOnly, every write is on disk before Redis answers, so a
// killed server comes back with its streams and keys.
func startRedis(t testing.TB, appendOnly bool) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install it (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.args = []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", r.dir, "--save", "", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"}
	if appendOnly {
		r.args = append(r.args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		r.args = append(r.args, "--appendonly", "no")
	}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	cmd := exec.Command("redis-server", r.args...)
	logFile, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(waitTimeout)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server at once, as a crash would.
func (r *redisServer) kill() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// client returns a go-redis client of the server, closed with the test.
func (r *redisServer) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.addr(), DialTimeout: time.Second, MaxRetries: 1})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// kind names an adapter under test.
type kind string

const (
	pubsubKind  kind = "pubsub"
	shardedKind kind = "sharded"
	streamsKind kind = "streams"
)

var kinds = []kind{pubsubKind, shardedKind, streamsKind}

// factory makes a factory of the kind, on a client of its own.
func (r *redisServer) factory(k kind, recovery time.Duration) adapter.Factory {
	c := r.client()
	switch k {
	case shardedKind:
		return redisadapter.NewShardedFactory(c, &redisadapter.ShardedOptions{RequestsTimeout: 2 * time.Second, RecoveryWindow: recovery})
	case streamsKind:
		return redisadapter.NewStreamsFactory(c, &redisadapter.StreamsOptions{RequestsTimeout: 2 * time.Second, BlockTime: 200 * time.Millisecond, RecoveryWindow: recovery})
	}
	return redisadapter.NewFactory(c, &redisadapter.Options{RequestsTimeout: 2 * time.Second, RecoveryWindow: recovery})
}

// goNode is one Go server of a test cluster.
type goNode struct {
	name string
	io   *socketio.Server
	hs   *httptest.Server

	mu  sync.Mutex
	sse []string // server-side events received, "event:arg"
}

// startGoNode starts a server whose sockets answer "join" (join a room,
// then ack) and carry {node, name} as data; its server-side handler of
// "hello" records the event and answers with the node's name.
func startGoNode(t testing.TB, name string, f adapter.Factory, recovery time.Duration) *goNode {
	t.Helper()
	opts := &socketio.Options{Adapter: f}
	if recovery > 0 {
		opts.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: recovery, SkipMiddlewares: true}
	}
	n := &goNode{name: name, io: socketio.NewServer(opts)}
	n.io.OnConnection(func(s *socketio.Socket) {
		if !s.Recovered() {
			auth, _ := s.Handshake().Auth.(map[string]any)
			s.SetData(map[string]any{"node": name, "name": auth["name"]})
		}
		s.On("join", func(room string, ack socketio.Ack) {
			s.Join(room)
			if ack != nil {
				ack()
			}
		})
	})
	n.io.Of("/").On("hello", func(arg string, ack socketio.Ack) {
		n.mu.Lock()
		n.sse = append(n.sse, "hello:"+arg)
		n.mu.Unlock()
		if ack != nil {
			ack(name)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", n.io)
	n.hs = httptest.NewServer(mux)
	t.Cleanup(n.close)
	return n
}

func (n *goNode) close() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_ = n.io.Shutdown(ctx)
	n.hs.Close()
}

func (n *goNode) received() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.sse...)
}

// eventually polls cond until it holds or the wait times out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitServerCount waits until every node counts n nodes.
func waitServerCount(t testing.TB, n int, servers ...*socketio.Server) {
	t.Helper()
	for _, s := range servers {
		eventually(t, fmt.Sprintf("server count %d", n), func() bool {
			c, err := s.Of("/").Adapter().ServerCount(context.Background())
			return err == nil && c == n
		})
	}
}

// waitPatterns waits until n connections subscribe to patterns: the
// pub/sub adapter's broadcast channels.
func waitPatterns(t testing.TB, rdb *redis.Client, n int) {
	t.Helper()
	eventually(t, "pattern subscriptions", func() bool {
		list, err := rdb.ClientList(context.Background()).Result()
		return err == nil && strings.Count(list, " psub=1 ") == n
	})
}

// waitShardSubscribers waits until n connections subscribe to the
// sharded channel of room (the sharded adapter subscribes to a room's
// channel shortly after the room gets its first local member).
func waitShardSubscribers(t testing.TB, rdb *redis.Client, room string, n int) {
	t.Helper()
	ch := "socket.io#/#" + room + "#"
	eventually(t, "subscribers of "+ch, func() bool {
		m, err := rdb.PubSubShardNumSub(context.Background(), ch).Result()
		return err == nil && int(m[ch]) == n
	})
}

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

// client is a small Socket.IO v5 client over WebSocket, for the default
// namespace, with the JSON parser.
type client struct {
	t    testing.TB
	name string
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

// dial connects a client to a server's URL with auth {name, ...extra}.
func dial(t testing.TB, baseURL, name string, extra map[string]any) *client {
	t.Helper()
	c := &client{
		t: t, name: name,
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
	c.write("40" + string(b))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		s := string(msg)
		if strings.HasPrefix(s, "40") {
			var reply struct{ SID, PID string }
			_ = json.Unmarshal(msg[2:], &reply)
			c.sid, c.pid = reply.SID, reply.PID
			break
		}
		if strings.HasPrefix(s, "42") { // missed events come first
			c.onPacket(s[1:])
			continue
		}
		if s == "2" {
			c.write("3")
			continue
		}
		t.Fatalf("%s: connect: got %q", name, s)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go c.read()
	return c
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

// onPacket handles a Socket.IO packet of the default namespace.
func (c *client) onPacket(s string) {
	if s == "" {
		return
	}
	typ := s[0]
	s = s[1:]
	attachments := 0
	if typ == '5' {
		n, rest, _ := strings.Cut(s, "-")
		attachments, _ = strconv.Atoi(n)
		s = rest
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
			if json.Unmarshal(e.args[n-1], &off) == nil && strings.Contains(off, "-") {
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
			c.write("43" + strconv.Itoa(id) + string(b))
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
	c.write("42" + string(b))
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
	c.write("42" + strconv.Itoa(id) + string(b))
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

// postJSON posts v to url and decodes the answer into out.
func postJSON(t testing.TB, url string, v, out any) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, msg.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
	}
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
