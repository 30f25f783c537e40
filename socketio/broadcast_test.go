package socketio

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

func TestJoinLeaveRooms(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	_, s := ts.connectSocket("/", conns)
	_, other := ts.connectSocket("/", conns)

	if got := s.Rooms(); !slices.Equal(got, []string{s.ID()}) {
		t.Fatalf("Rooms = %q, want only the socket's own room", got)
	}
	s.Join("a", "b")
	s.Join("b", "c") // joining twice is harmless
	other.Join("b")
	if got, want := sorted(s.Rooms()), sorted([]string{s.ID(), "a", "b", "c"}); !slices.Equal(got, want) {
		t.Fatalf("Rooms = %q, want %q", got, want)
	}
	s.Leave("a")
	s.Leave("nope")
	if got, want := sorted(s.Rooms()), sorted([]string{s.ID(), "b", "c"}); !slices.Equal(got, want) {
		t.Fatalf("after Leave: Rooms = %q, want %q", got, want)
	}
	if got, want := sorted(ts.io.Of("/").Adapter().Rooms()), sorted([]string{s.ID(), other.ID(), "b", "c"}); !slices.Equal(got, want) {
		t.Fatalf("adapter rooms %q, want %q (an empty room is dropped)", got, want)
	}
}

// broadcastClients connects three clients, a and b in room "r".
func broadcastClients(t *testing.T, ts *testServer) (a, b, c *testClient, sa, sb, sc *Socket) {
	t.Helper()
	conns := onConnections(ts.io.Of("/"))
	a, sa = ts.connectSocket("/", conns)
	b, sb = ts.connectSocket("/", conns)
	c, sc = ts.connectSocket("/", conns)
	sa.Join("r")
	sb.Join("r")
	return
}

// expectEnd reads packets up to the `2["end"]` that marks the end of a
// step, and checks that they are want.
func expectUntilEnd(t *testing.T, c *testClient, want ...string) {
	t.Helper()
	expectUntilEndIn(t, "", c, want...)
}

func expectUntilEndIn(t *testing.T, step string, c *testClient, want ...string) {
	t.Helper()
	var got []string
	for {
		p := c.expectText()
		if p == `2["end"]` {
			break
		}
		got = append(got, p)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", step, got, want)
	}
}

func TestBroadcast(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	a, b, c, sa, sb, sc := broadcastClients(t, ts)
	sc.Join("q")
	all := []*testClient{a, b, c}
	end := func() {
		t.Helper()
		if err := ts.io.Emit("end"); err != nil {
			t.Fatal(err)
		}
	}
	step := func(name string, emit func() error, wantA, wantB, wantC []string) {
		t.Helper()
		if err := emit(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		end()
		for i, want := range [][]string{wantA, wantB, wantC} {
			expectUntilEndIn(t, name+", client "+"abc"[i:i+1], all[i], want...)
		}
	}
	x := []string{`2["x",1]`}

	step("namespace", func() error { return ts.io.Of("/").Emit("x", 1) }, x, x, x)
	step("To", func() error { return ts.io.To("r").Emit("x", 1) }, x, x, nil)
	step("In", func() error { return ts.io.In("q").Emit("x", 1) }, nil, nil, x)
	step("To two rooms, once each", func() error { return ts.io.To("r", "q").To(sa.ID()).Emit("x", 1) }, x, x, x)
	step("Except", func() error { return ts.io.Except("r").Emit("x", 1) }, nil, nil, x)
	step("To Except", func() error { return ts.io.To("r").Except(sb.ID()).Emit("x", 1) }, x, nil, nil)
	step("socket To excludes the sender", func() error { return sa.To("r").Emit("x", 1) }, nil, x, nil)
	step("socket In", func() error { return sa.In("r", "q").Emit("x", 1) }, nil, x, x)
	step("socket Except", func() error { return sa.Except("q").Emit("x", 1) }, nil, x, nil)
	step("socket Broadcast", func() error { return sa.Broadcast().Emit("x", 1) }, nil, x, x)
	step("to a socket's room", func() error { return ts.io.To(sc.ID()).Emit("x", 1) }, nil, nil, x)
	step("empty room", func() error { return ts.io.To("nobody").Emit("x", 1) }, nil, nil, nil)
	step("Local Compress", func() error { return ts.io.Local().Compress(false).Emit("x", 1) }, x, x, x)
	step("Volatile", func() error { return ts.io.Volatile().Emit("x", 1) }, x, x, x)
	if err := ts.io.To("q").Emit("bin", []byte{1}); err != nil {
		t.Fatal(err)
	}
	c.expect(`51-["bin",{"_placeholder":true,"num":0}]`)
	if f, ok := c.next(); !ok || !f.binary || f.data != "\x01" {
		t.Fatalf("attachment %+v", f)
	}

	// Other namespaces are not reached.
	chat := onConnections(ts.io.Of("/chat"))
	a.connect("/chat", nil)
	sChat := recv(t, chat)
	sChat.Join("r")
	step("other namespace", func() error { return ts.io.Of("/chat").To("r").Emit("x", 1) }, []string{`2/chat,["x",1]`}, nil, nil)
}

func TestBroadcastVolatileOverPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	p := ts.dialPolling(4)
	p.post("40")
	if got := p.poll(); len(got) != 1 || !connectReplyRE.MatchString(got[0][1:]) {
		t.Fatalf("poll %q", got)
	}
	s := recv(t, conns)

	// No GET is pending: volatile packets are dropped, others wait.
	if err := ts.io.Volatile().Emit("dropped", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Volatile().Emit("dropped", 2); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.Emit("kept"); err != nil {
		t.Fatal(err)
	}
	if got := p.poll(); !slices.Equal(got, []string{`42["kept"]`}) {
		t.Fatalf("poll %q, want only the event that is not volatile", got)
	}
	if n := ts.io.Stats().Engine.VolatileDropped; n != 2 {
		t.Errorf("Stats().Engine.VolatileDropped = %d, want 2", n)
	}

	// With a GET pending, a volatile packet goes out.
	got := make(chan []string, 1)
	go func() { got <- p.poll() }()
	waitFor(t, "the GET to be pending", func() bool { return writable(s.Conn()) })
	if err := ts.io.Volatile().Emit("delivered"); err != nil {
		t.Fatal(err)
	}
	if packets := recv(t, got); !slices.Equal(packets, []string{`42["delivered"]`}) {
		t.Fatalf("poll %q", packets)
	}
}

func TestBroadcastOperatorImmutable(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	// Built in steps, so that the slices have room to grow in place.
	base := ts.io.To("a").To("b").To("c")
	x := base.To("x")
	y := base.To("y")
	e := base.Except("d").Except("e").Except("e2")
	v := base.Volatile().Local().Compress(false).Timeout(time.Second)
	if !slices.Equal(base.rooms, []string{"a", "b", "c"}) || len(base.except) != 0 || base.flags != (x.flags) {
		t.Fatalf("base changed: %+v", base)
	}
	if !slices.Equal(x.rooms, []string{"a", "b", "c", "x"}) || !slices.Equal(y.rooms, []string{"a", "b", "c", "y"}) {
		t.Fatalf("To shares storage: x %q y %q", x.rooms, y.rooms)
	}
	e2 := e.Except("f")
	e3 := e.Except("g")
	if !slices.Equal(e.except, []string{"d", "e", "e2"}) || !slices.Equal(e2.except, []string{"d", "e", "e2", "f"}) || !slices.Equal(e3.except, []string{"d", "e", "e2", "g"}) {
		t.Fatalf("Except shares storage: %q %q %q", e.except, e2.except, e3.except)
	}
	if base.flags.Volatile || base.flags.Local || base.flags.NoCompress || base.flags.Timeout != 0 {
		t.Fatalf("flags leaked to the base: %+v", base.flags)
	}
	if !v.flags.Volatile || !v.flags.Local || !v.flags.NoCompress || v.flags.Timeout != time.Second {
		t.Fatalf("flags %+v", v.flags)
	}

	// The same operator can be used twice, and the socket's own stays
	// excluded.
	a, b, c, sa, _, _ := broadcastClients(t, ts)
	op := sa.To("r")
	_ = op.Except("nobody").To("more")
	for i := 0; i < 2; i++ {
		if err := op.Emit("x", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.io.Emit("end"); err != nil {
		t.Fatal(err)
	}
	expectUntilEnd(t, a)
	expectUntilEnd(t, b, `2["x",0]`, `2["x",1]`)
	expectUntilEnd(t, c)
}

func TestBroadcastEmitWithAck(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	a, b, c, _, _, _ := broadcastClients(t, ts)
	ctx := context.Background()

	type result struct {
		answers []Args
		err     error
	}
	start := func(op BroadcastOperator) chan result {
		ch := make(chan result, 1)
		go func() {
			answers, err := op.EmitWithAck(ctx, "q", "hello")
			ch <- result{answers, err}
		}()
		return ch
	}
	answer := func(c *testClient, v any) {
		t.Helper()
		e := c.expectEvent()
		if e.name != "q" || e.id < 0 {
			t.Fatalf("event %+v, want q with an ack id", e)
		}
		var arg string
		e.arg(t, 0, &arg)
		if arg != "hello" {
			t.Fatalf("argument %q", arg)
		}
		if v != nil {
			c.ack("/", e.id, v)
		}
	}
	decode := func(answers []Args) []string {
		var out []string
		for _, a := range answers {
			var s string
			if err := a.Decode(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return sorted(out)
	}

	res := start(ts.io.Timeout(waitTimeout))
	answer(a, "A")
	answer(b, "B")
	answer(c, "C")
	r := recv(t, res)
	if r.err != nil || !slices.Equal(decode(r.answers), []string{"A", "B", "C"}) {
		t.Fatalf("answers %v, %v", r.answers, r.err)
	}

	// One recipient does not answer: the others' answers and a timeout.
	res = start(ts.io.To("r").Timeout(50 * time.Millisecond))
	answer(a, "A")
	answer(b, nil)
	r = recv(t, res)
	if !errors.Is(r.err, ErrAckTimeout) || !slices.Equal(decode(r.answers), []string{"A"}) {
		t.Fatalf("answers %v, %v; want [A] and ErrAckTimeout", r.answers, r.err)
	}

	// No recipient: done at once.
	answers, err := ts.io.To("nobody").EmitWithAck(ctx, "q")
	if err != nil || len(answers) != 0 {
		t.Fatalf("no recipient: %v, %v", answers, err)
	}

	// The server's AckTimeout applies when nothing else bounds the wait.
	ts.io.opts.AckTimeout = 30 * time.Millisecond
	answers, err = ts.io.Except("r").EmitWithAck(ctx, "q", "hello")
	if !errors.Is(err, ErrAckTimeout) || len(answers) != 0 {
		t.Fatalf("default timeout: %v, %v", answers, err)
	}
	answer(c, nil)
}

func TestFetchSockets(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	a, _, c, sa, sb, sc := broadcastClients(t, ts)
	sa.SetData(map[string]any{"name": "alice"})
	ctx := context.Background()

	all, err := ts.io.FetchSockets(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("FetchSockets = %d sockets, %v", len(all), err)
	}
	inR, err := ts.io.In("r").Except(sb.ID()).FetchSockets(ctx)
	if err != nil || len(inR) != 1 {
		t.Fatalf("In(r).Except(b) = %d sockets, %v", len(inR), err)
	}
	r := inR[0]
	if r.ID != sa.ID() || !reflect.DeepEqual(r.Data, map[string]any{"name": "alice"}) {
		t.Fatalf("remote socket %+v", r)
	}
	if got, want := sorted(r.Rooms), sorted([]string{sa.ID(), "r"}); !slices.Equal(got, want) {
		t.Fatalf("rooms %q, want %q", got, want)
	}
	if r.Handshake.Query().Get("EIO") != "4" || r.Handshake.Address == "" {
		t.Fatalf("handshake %+v", r.Handshake)
	}

	// A RemoteSocket acts on the socket.
	if err := r.Emit("hi", 1); err != nil {
		t.Fatal(err)
	}
	a.expect(`2["hi",1]`)
	if err := r.Join("j"); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sa.Rooms(), "j") {
		t.Fatalf("Join: rooms %q", sa.Rooms())
	}
	if err := r.Leave("j", "r"); err != nil {
		t.Fatal(err)
	}
	if got, want := sorted(sa.Rooms()), []string{sa.ID()}; !slices.Equal(got, want) {
		t.Fatalf("Leave: rooms %q", got)
	}
	rc, err := ts.io.In(sc.ID()).FetchSockets(ctx)
	if err != nil || len(rc) != 1 {
		t.Fatalf("FetchSockets(c) = %v, %v", rc, err)
	}
	if err := rc[0].Disconnect(false); err != nil {
		t.Fatal(err)
	}
	c.expect("1")
	// The socket leaves the namespace once its disconnect handlers ran.
	waitFor(t, "c to leave", func() bool { return ts.io.Of("/").LocalSocket(sc.ID()) == nil })
	if all, _ := ts.io.FetchSockets(ctx); len(all) != 2 {
		t.Fatalf("%d sockets after a disconnection, want 2", len(all))
	}
}

func TestSocketsJoinLeave(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	_, _, _, sa, sb, sc := broadcastClients(t, ts)

	if err := ts.io.In("r").SocketsJoin("x", "y"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Socket{sa, sb} {
		if got, want := sorted(s.Rooms()), sorted([]string{s.ID(), "r", "x", "y"}); !slices.Equal(got, want) {
			t.Fatalf("rooms %q, want %q", got, want)
		}
	}
	if got := sc.Rooms(); !slices.Equal(got, []string{sc.ID()}) {
		t.Fatalf("c joined: %q", got)
	}
	if err := ts.io.SocketsJoin("all"); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.Except(sb.ID()).SocketsLeave("x", "all"); err != nil {
		t.Fatal(err)
	}
	if got, want := sorted(sa.Rooms()), sorted([]string{sa.ID(), "r", "y"}); !slices.Equal(got, want) {
		t.Fatalf("a rooms %q, want %q", got, want)
	}
	if got, want := sorted(sb.Rooms()), sorted([]string{sb.ID(), "r", "x", "y", "all"}); !slices.Equal(got, want) {
		t.Fatalf("b rooms %q, want %q", got, want)
	}
	if err := ts.io.SocketsLeave("r"); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.io.In("r").FetchSockets(context.Background()); len(got) != 0 {
		t.Fatalf("%d sockets still in r", len(got))
	}
}

func TestDisconnectSockets(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	reasons := make(chan Reason, 8)
	ts.io.OnConnection(func(s *Socket) { s.OnDisconnect(func(r Reason) { reasons <- r }) })
	chat := onConnections(ts.io.Of("/chat"))
	a, b, c, sa, sb, sc := broadcastClients(t, ts)
	b.connect("/chat", nil)
	sbChat := recv(t, chat)

	// Without close: the sockets leave the namespace, the connections stay.
	if err := ts.io.In("r").Except(sb.ID()).DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	a.expect("1")
	if r := recv(t, reasons); r != ReasonServerNamespaceDisconnect {
		t.Fatalf("reason %q", r)
	}
	if sa.Connected() {
		t.Fatal("a still connected")
	}
	a.connect("/", nil) // the session is still open

	// With close: the whole connection goes, every namespace with it.
	if err := ts.io.In(sb.ID()).DisconnectSockets(true); err != nil {
		t.Fatal(err)
	}
	got := sorted(b.expectClosed())
	if want := []string{"1", "1/chat,"}; !slices.Equal(got, want) {
		t.Fatalf("b got %q before closing, want %q", got, want)
	}
	if r := recv(t, reasons); r != ReasonServerNamespaceDisconnect {
		t.Fatalf("reason %q", r)
	}
	if sb.Connected() || sbChat.Connected() {
		t.Fatal("b's sockets still connected")
	}
	if !sc.Connected() {
		t.Fatal("c disconnected")
	}
	c.emit("/", "still", "here")

	if err := ts.io.DisconnectSockets(true); err != nil {
		t.Fatal(err)
	}
	a.expectClosed()
	c.expectClosed()
	waitFor(t, "every session to close", func() bool { return ts.io.Engine().SessionCount() == 0 })
}
