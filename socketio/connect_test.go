package socketio

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

var connectReplyRE = regexp.MustCompile(`^0\{"sid":"[A-Za-z0-9_-]{20}"\}$`)

func TestConnectMainNamespace(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	c.send("0")
	reply := c.expectText()
	if !connectReplyRE.MatchString(reply) {
		t.Fatalf("CONNECT reply %q, want 0{\"sid\":\"<20 characters>\"}", reply)
	}
	s := recv(t, conns)
	if want := `0{"sid":"` + s.ID() + `"}`; reply != want {
		t.Fatalf("CONNECT reply %q, want %q", reply, want)
	}
	if s.ID() == c.sid {
		t.Errorf("socket id %q reuses the Engine.IO session id", s.ID())
	}
	if s.Namespace() != ts.io.Of("/") || s.Namespace().Name() != "/" {
		t.Errorf("socket namespace %q", s.Namespace().Name())
	}
	if s.Conn().ID() != c.sid {
		t.Errorf("Conn().ID() = %q, want %q", s.Conn().ID(), c.sid)
	}
	if !s.Connected() || s.Recovered() {
		t.Errorf("Connected %v Recovered %v, want true false", s.Connected(), s.Recovered())
	}
	if got := ts.io.Of("/").LocalSocket(s.ID()); got != s {
		t.Errorf("LocalSocket(%q) = %p, want %p", s.ID(), got, s)
	}
	if n := ts.io.Of("/").SocketCount(); n != 1 {
		t.Errorf("SocketCount = %d, want 1", n)
	}
	hs := s.Handshake()
	if !reflect.DeepEqual(hs.Auth, map[string]any{}) {
		t.Errorf("Auth = %#v, want an empty object without a payload", hs.Auth)
	}
	if q := hs.Query(); q.Get("EIO") != "4" || q.Get("transport") != "websocket" {
		t.Errorf("handshake query %v", q)
	}
	if hs.Address == "" || hs.Issued == 0 || hs.URL == "" || hs.Time() == "" {
		t.Errorf("handshake %+v lacks address, time or URL", hs)
	}
}

func TestConnectAuthPayload(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	c.connect("/", map[string]any{"token": "abc", "n": 1})
	s := recv(t, conns)
	want := map[string]any{"token": "abc", "n": float64(1)}
	if !reflect.DeepEqual(s.Handshake().Auth, want) {
		t.Fatalf("Auth = %#v, want %#v", s.Handshake().Auth, want)
	}
}

func TestConnectStaticNamespace(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	chat := ts.io.Of("chat") // the leading slash is added
	if chat.Name() != "/chat" || ts.io.Of("/chat") != chat {
		t.Fatalf("Of(\"chat\") = %q, not the namespace of Of(\"/chat\")", chat.Name())
	}
	conns := onConnections(chat)

	c := ts.dial()
	c.send("0/chat,")
	s := recv(t, conns)
	c.expect(`0/chat,{"sid":"` + s.ID() + `"}`)
	if s.Namespace() != chat {
		t.Fatalf("socket in %q, want /chat", s.Namespace().Name())
	}
	if n := ts.io.Of("/").SocketCount(); n != 0 {
		t.Fatalf("main namespace has %d sockets, want 0", n)
	}
}

func TestConnectInvalidNamespace(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	c.send("0/nope,")
	c.expect(`4/nope,{"message":"Invalid namespace"}`)
	// The connection stays usable.
	c.connect("/", nil)
	recv(t, conns)
	for _, n := range ts.io.Namespaces() {
		if n.Name() == "/nope" {
			t.Fatal("an invalid namespace was created")
		}
	}
}

func TestConnectDynamicNamespaceRegexp(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	tmpl := ts.io.OfRegexp(regexp.MustCompile(`^/room-\d+$`))
	var mwCalls sync.Map
	tmpl.Use(func(s *Socket) error {
		mwCalls.Store(s.Namespace().Name(), true)
		return nil
	})
	conns := onConnections(tmpl)

	c := ts.dial()
	r1 := c.connect("/room-1", nil)
	s1 := recv(t, conns)
	if s1.ID() != r1.SID || s1.Namespace().Name() != "/room-1" {
		t.Fatalf("socket %q in %q, want %q in /room-1", s1.ID(), s1.Namespace().Name(), r1.SID)
	}
	if _, ok := mwCalls.Load("/room-1"); !ok {
		t.Error("the template's middleware did not run for the child namespace")
	}
	if ts.io.Of("/room-1") != s1.Namespace() {
		t.Error("Of does not return the child namespace created on demand")
	}
	if tmpl.Adapter() != nil {
		t.Error("the template has an adapter")
	}

	c.send("0/room-x,")
	c.expect(`4/room-x,{"message":"Invalid namespace"}`)

	c.connect("/room-22", nil)
	s2 := recv(t, conns)
	if s2.Namespace().Name() != "/room-22" || s2.Namespace() == s1.Namespace() {
		t.Fatalf("second child %q", s2.Namespace().Name())
	}

	// A broadcast from the template reaches every child.
	if err := tmpl.Emit("hello", 1); err != nil {
		t.Fatal(err)
	}
	got := []string{c.expectText(), c.expectText()}
	slices.Sort(got)
	want := []string{`2/room-1,["hello",1]`, `2/room-22,["hello",1]`}
	if !slices.Equal(got, want) {
		t.Fatalf("template broadcast: got %q, want %q", got, want)
	}
}

func TestConnectDynamicNamespaceFunc(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	type call struct {
		name string
		auth any
	}
	calls := make(chan call, 8)
	tmpl := ts.io.OfFunc(func(name string, auth any) bool {
		calls <- call{name, auth}
		m, _ := auth.(map[string]any)
		return m["key"] == "open"
	})
	conns := onConnections(tmpl)

	c := ts.dial()
	c.sendConnect("/dyn", map[string]any{"key": "closed"})
	c.expect(`4/dyn,{"message":"Invalid namespace"}`)
	if got := recv(t, calls); got.name != "/dyn" || !reflect.DeepEqual(got.auth, map[string]any{"key": "closed"}) {
		t.Fatalf("match called with %+v", got)
	}

	r := c.connect("/dyn", map[string]any{"key": "open"})
	s := recv(t, conns)
	if s.ID() != r.SID || s.Namespace().Name() != "/dyn" {
		t.Fatalf("socket %q in %q", s.ID(), s.Namespace().Name())
	}
	recv(t, calls)

	// Once created, the namespace is a plain one: match is not asked again.
	c2 := ts.dial()
	c2.connect("/dyn", map[string]any{"key": "closed"})
	recv(t, conns)
	select {
	case got := <-calls:
		t.Fatalf("match called again for an existing namespace: %+v", got)
	default:
	}
}

func TestMiddlewareRefusal(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	authNsp := ts.io.Of("/auth")
	authNsp.Use(func(s *Socket) error {
		return NewConnectError("unauthorized", map[string]any{"code": 401})
	})
	authConns := onConnections(authNsp)
	ts.io.Use(func(s *Socket) error {
		m, _ := s.Handshake().Auth.(map[string]any)
		if m["token"] != "secret" {
			return errors.New("bad token")
		}
		return nil
	})
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	c.send("0/auth,")
	c.expect(`4/auth,{"message":"unauthorized","data":{"code":401}}`)
	c.sendConnect("/", map[string]any{"token": "wrong"})
	c.expect(`4{"message":"bad token"}`)

	// The client may try again on the same connection.
	r := c.connect("/", map[string]any{"token": "secret"})
	if s := recv(t, conns); s.ID() != r.SID {
		t.Fatalf("socket %q, reply %q", s.ID(), r.SID)
	}
	if n := authNsp.SocketCount(); n != 0 {
		t.Fatalf("/auth has %d sockets after a refusal", n)
	}
	select {
	case <-authConns:
		t.Fatal("the connection handler ran for a refused socket")
	default:
	}
}

// A middleware may block (to ask a database, say): the socket waits for
// it, and the next middleware runs once it returns.
func TestMiddlewareOrderAndBlocking(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	var mu sync.Mutex
	var order []string
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	nsp := ts.io.Of("/")
	nsp.Use(func(s *Socket) error {
		record("first")
		s.SetData("from middleware")
		return nil
	})
	nsp.Use(func(s *Socket) error {
		record("second")
		close(entered)
		<-release
		return nil
	})
	nsp.Use(func(s *Socket) error {
		record("third")
		return nil
	})
	nsp.OnConnection(func(s *Socket) { record("connection") })
	conns := onConnections(nsp)

	c := ts.dial()
	c.send("0")
	recv(t, entered)
	if n := nsp.SocketCount(); n != 0 {
		t.Fatalf("%d sockets while a middleware is pending", n)
	}
	close(release)
	r := c.expectConnect("/")
	s := recv(t, conns)
	if s.ID() != r.SID {
		t.Fatalf("socket %q, reply %q", s.ID(), r.SID)
	}
	if s.Data() != "from middleware" {
		t.Errorf("Data = %v, want the value set by a middleware", s.Data())
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"first", "second", "third", "connection"}; !slices.Equal(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
}

func TestMiddlewarePanicRefuses(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	ts.io.Use(func(s *Socket) error { panic("boom") })

	c := ts.dial()
	c.send("0")
	got := c.expectText()
	if !regexp.MustCompile(`^4\{"message":".*boom.*"\}$`).MatchString(got) {
		t.Fatalf("got %q, want a CONNECT_ERROR", got)
	}
}

func TestMiddlewarePendingWhenClientLeaves(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	entered := make(chan struct{}, 1)
	// A middleware still waiting when its client leaves: it sees the
	// connection end, and refuses the socket.
	ts.io.Use(func(s *Socket) error {
		entered <- struct{}{}
		<-s.Conn().Done()
		return errors.New("client gone")
	})
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	c.send("0")
	recv(t, entered)
	c.Close()
	// The middleware's goroutine must end with the session (leakcheck).
	waitFor(t, "the session to close", func() bool { return ts.io.Engine().SessionCount() == 0 })
	select {
	case <-conns:
		t.Fatal("a socket connected")
	default:
	}
}

func TestConnectTimeout(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{ConnectTimeout: 100 * time.Millisecond})
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	ts.io.OnConnection(func(s *Socket) {
		s.On("ping", func(ack Ack) { ack("pong") })
	})

	joined, _ := ts.connectSocket("/", conns)
	idle := ts.dial() // dialed later: its timer fires after joined's
	if got := idle.expectClosed(); len(got) != 0 {
		t.Fatalf("idle connection got %q before closing", got)
	}
	// The connection that joined a namespace in time stays open.
	joined.emitWithAck("/", 1, "ping")
	joined.expect(`31["pong"]`)
}

func TestMultiplexing(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	type ev struct {
		nsp, msg string
	}
	events := make(chan ev, 8)
	handle := func(s *Socket) {
		s.On("msg", func(msg string) { events <- ev{s.Namespace().Name(), msg} })
		s.On("echo", func(msg string, ack Ack) { ack(s.Namespace().Name() + ":" + msg) })
	}
	main := onConnections(ts.io.Of("/"))
	chat := onConnections(ts.io.Of("/chat"))
	ts.io.OnConnection(handle)
	ts.io.Of("/chat").OnConnection(handle)

	c := ts.dial()
	c.connect("/", nil)
	s1 := recv(t, main)
	c.connect("/chat", nil)
	s2 := recv(t, chat)
	if s1.ID() == s2.ID() || s1.Conn() != s2.Conn() {
		t.Fatalf("sockets %q and %q should differ and share one session", s1.ID(), s2.ID())
	}

	c.emit("/chat", "msg", "to chat")
	c.emit("/", "msg", "to main")
	got := []ev{recv(t, events), recv(t, events)}
	slices.SortFunc(got, func(a, b ev) int { return len(a.nsp) - len(b.nsp) })
	if want := []ev{{"/", "to main"}, {"/chat", "to chat"}}; !slices.Equal(got, want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}

	if err := s2.Emit("hi"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2/chat,["hi"]`)

	// Leaving one namespace leaves the other connected.
	c.send("1/chat,")
	waitFor(t, "the /chat socket to disconnect", func() bool { return !s2.Connected() })
	c.emitWithAck("/", 5, "echo", "still here")
	c.expect(`35["/:still here"]`)
	if !s1.Connected() {
		t.Fatal("the main namespace's socket disconnected")
	}
	// And the client may join it again.
	c.connect("/chat", nil)
	s3 := recv(t, chat)
	if s3.ID() == s2.ID() {
		t.Fatal("a new connection to a namespace reused the old socket id")
	}
}

func TestConnectOverPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	got := make(chan string, 1)
	conns := onConnections(ts.io.Of("/"))
	ts.io.OnConnection(func(s *Socket) {
		s.On("hello", func(msg string, ack Ack) {
			got <- msg
			ack("hi " + msg)
		})
	})

	p := ts.dialPolling(4)
	p.post("40")
	packets := p.poll()
	s := recv(t, conns)
	if want := []string{`40{"sid":"` + s.ID() + `"}`}; !slices.Equal(packets, want) {
		t.Fatalf("poll %q, want %q", packets, want)
	}
	p.post(`421["hello","you"]`, `42["hello","again"]`)
	if m := recv(t, got); m != "you" {
		t.Fatalf("handler got %q", m)
	}
	if m := recv(t, got); m != "again" {
		t.Fatalf("handler got %q", m)
	}
	if packets := p.poll(); !slices.Equal(packets, []string{`431["hi you"]`}) {
		t.Fatalf("poll %q", packets)
	}
	if err := s.Emit("news", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Emit("bin", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	var all []string
	for len(all) < 3 {
		all = append(all, p.poll()...)
	}
	if want := []string{`42["news",{"n":1}]`, `451-["bin",{"_placeholder":true,"num":0}]`, "b\x01\x02"}; !slices.Equal(all, want) {
		t.Fatalf("poll %q, want %q", all, want)
	}
}

func TestDynamicNamespaceMatchPanics(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	ts.io.OfFunc(func(name string, _ any) bool { panic("bad matcher") })
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	c.send("0/x,")
	c.expect(`4/x,{"message":"Invalid namespace"}`)
	// The connection still works.
	c.connect("/", nil)
	recv(t, conns)
}

// TestOfAttachesToRegexpParent: as with the reference's io.of, Of given a
// name an OfRegexp pattern matches creates a child of that parent (its
// middlewares and handlers, reached by the parent's broadcasts); a name
// an OfFunc matches gets a namespace of its own, as in Node, where only
// regular expressions are tested.
func TestOfAttachesToRegexpParent(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	tmpl := ts.io.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
	used := make(chan string, 1)
	tmpl.Use(func(s *Socket) error {
		used <- s.Namespace().Name()
		return nil
	})
	conns := onConnections(tmpl)
	ts.io.OfFunc(func(name string, _ any) bool { return name == "/fn" })

	child := ts.io.Of("/dyn-1")
	if ts.io.Of("/dyn-1") != child {
		t.Fatal("a second Of returns another namespace")
	}
	c := ts.dial()
	r := c.connect("/dyn-1", nil)
	if got := recv(t, used); got != "/dyn-1" {
		t.Fatalf("the parent's middleware ran for %q", got)
	}
	s := recv(t, conns)
	if s.Namespace() != child || s.ID() != r.SID {
		t.Fatalf("the client joined %q, not the namespace Of returned", s.Namespace().Name())
	}
	if err := tmpl.Emit("hello"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2/dyn-1,["hello"]`)

	// Not a child of the OfFunc parent: its handlers do not apply.
	fn := ts.io.Of("/fn")
	fnConns := onConnections(fn)
	c.connect("/fn", nil)
	if s := recv(t, fnConns); s.Namespace() != fn {
		t.Fatalf("joined %q", s.Namespace().Name())
	}
	select {
	case s := <-conns:
		t.Fatalf("the regexp parent's handler ran for %q", s.Namespace().Name())
	default:
	}
}
