package socketio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
)

func TestServerShortcuts(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	ctx := context.Background()
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)
	ts.io.Of("/chat")

	var names []string
	for _, n := range ts.io.Namespaces() {
		names = append(names, n.Name())
	}
	if got := sorted(names); !slices.Equal(got, []string{"/", "/chat"}) {
		t.Fatalf("Namespaces %q", got)
	}
	if ts.io.Engine() == nil || ts.io.Engine().SessionCount() != 1 {
		t.Fatal("Engine does not hold the session")
	}
	if ts.io.Of("/").Server() != ts.io {
		t.Fatal("Namespace.Server")
	}
	if got := ts.io.Of("/").Sockets(); len(got) != 1 || got[0] != s {
		t.Fatalf("Sockets %v", got)
	}

	if err := ts.io.SocketsJoin("r"); err != nil {
		t.Fatal(err)
	}
	if all, err := ts.io.FetchSockets(ctx); err != nil || len(all) != 1 || !slices.Contains(all[0].Rooms, "r") {
		t.Fatalf("FetchSockets %v, %v", all, err)
	}
	if err := ts.io.In("r").Local().Emit("in"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["in"]`)
	if err := ts.io.Except("r").Emit("except"); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.Volatile().Emit("volatile"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["volatile"]`)
	if err := ts.io.SocketsLeave("r"); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s.Rooms(), "r") {
		t.Fatal("SocketsLeave")
	}
	done := make(chan error, 1)
	go func() {
		answers, err := ts.io.Timeout(waitTimeout).EmitWithAck(ctx, "q")
		if err == nil && len(answers) != 1 {
			err = fmt.Errorf("%d answers", len(answers))
		}
		done <- err
	}()
	e := c.expectEvent()
	c.ack("/", e.id, "a")
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}

	// With one node, server-side emits reach nobody.
	if err := ts.io.ServerSideEmit(ctx, "ev", 1); err != nil {
		t.Fatal(err)
	}
	answers, err := ts.io.Of("/").ServerSideEmitWithAck(ctx, "ev")
	if err != nil || len(answers) != 0 {
		t.Fatalf("ServerSideEmitWithAck = %v, %v", answers, err)
	}
	if answers, err := ts.io.ServerSideEmitWithAck(ctx, "ev"); err != nil || len(answers) != 0 {
		t.Fatalf("Server.ServerSideEmitWithAck = %v, %v", answers, err)
	}
	if _, err := ts.io.ServerSideEmitWithAck(ctx, "connect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("Server.ServerSideEmitWithAck of a reserved event: %v", err)
	}
	if _, err := ts.io.OfRegexp(regexp.MustCompile("^/t")).ServerSideEmitWithAck(ctx, "ev"); err == nil {
		t.Fatal("ServerSideEmitWithAck on a template succeeded")
	}

	if err := ts.io.DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	c.expect("1")
}

func TestServerSideHandlers(t *testing.T) {
	defer leakcheck.Check(t)()
	// The adapter hands events from other nodes to the namespace it was
	// made with.
	var view adapter.Namespace
	ts := newTestServer(t, &Options{Adapter: func(nsp adapter.Namespace) adapter.Adapter {
		if nsp.Name() == "/" {
			view = nsp
		}
		return adapter.NewMemory(nsp, adapter.MemoryOptions{})
	}})
	defer ts.Close()
	nsp := ts.io.Of("/")
	got := make(chan string, 4)
	nsp.On("hello", func(name string, n int, ack Ack) {
		got <- fmt.Sprintf("%s %d ack=%v", name, n, ack != nil)
		if ack != nil {
			ack("hi " + name)
			if err := ack("again"); err != nil {
				got <- "second ack: " + err.Error()
			}
		}
	})
	nsp.On("hello", func() { got <- "second handler" })

	args := decodeArgs(t, `2["x","bob",2]`)
	view.OnServerSideEmit("hello", args, nil)
	if g := recv(t, got); g != "bob 2 ack=false" {
		t.Fatal(g)
	}
	if g := recv(t, got); g != "second handler" {
		t.Fatal(g)
	}
	var answers [][]any
	view.OnServerSideEmit("hello", args, func(a ...any) { answers = append(answers, a) })
	recv(t, got)
	recv(t, got)
	if len(answers) != 1 || fmt.Sprint(answers[0]) != "[hi bob]" {
		t.Fatalf("answers %v, want one", answers)
	}
	view.OnServerSideEmit("unknown", nil, nil)
}

// decodeArgs decodes the arguments of an EVENT packet.
func decodeArgs(t *testing.T, pkt string) []parser.Value {
	t.Helper()
	p, err := (&parser.JSONParser{}).NewDecoder().Add([]byte(pkt), false)
	if err != nil {
		t.Fatal(err)
	}
	return p.Args
}

func TestAdapterFactoryOption(t *testing.T) {
	defer leakcheck.Check(t)()
	var mu sync.Mutex
	var made []string
	ts := newTestServer(t, &Options{Adapter: func(nsp adapter.Namespace) adapter.Adapter {
		mu.Lock()
		made = append(made, nsp.Name())
		mu.Unlock()
		return adapter.NewMemory(nsp, adapter.MemoryOptions{})
	}})
	defer ts.Close()
	ts.io.Of("/a")
	tmpl := ts.io.OfRegexp(regexp.MustCompile(`^/d\d$`))
	conns := onConnections(tmpl)
	c := ts.dial()
	c.connect("/d1", nil)
	recv(t, conns)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"/", "/a", "/d1"}; !slices.Equal(made, want) {
		t.Fatalf("adapters made for %q, want %q (none for a template)", made, want)
	}
}

func TestDynamicNamespaceOperators(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	tmpl := ts.io.OfRegexp(regexp.MustCompile(`^/d\d$`))
	conns := onConnections(tmpl)
	c := ts.dial()
	c.connect("/d1", nil)
	s1 := recv(t, conns)
	c.connect("/d2", nil)
	s2 := recv(t, conns)
	s1.Join("r")
	s2.Join("r")
	ctx := context.Background()

	all, err := tmpl.In("r").FetchSockets(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("FetchSockets over children: %d, %v", len(all), err)
	}
	done := make(chan error, 1)
	go func() {
		answers, err := tmpl.Timeout(waitTimeout).EmitWithAck(ctx, "q")
		if err == nil && len(answers) != 2 {
			err = fmt.Errorf("%d answers", len(answers))
		}
		done <- err
	}()
	for i := 0; i < 2; i++ {
		e := c.expectEvent()
		c.ack(e.nsp, e.id)
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if err := tmpl.SocketsJoin("x"); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s1.Rooms(), "x") || !slices.Contains(s2.Rooms(), "x") {
		t.Fatal("SocketsJoin on a template")
	}
	if err := tmpl.SocketsLeave("x"); err != nil {
		t.Fatal(err)
	}
	if err := tmpl.In("r").DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	if got := sorted([]string{c.expectText(), c.expectText()}); !slices.Equal(got, []string{"1/d1,", "1/d2,"}) {
		t.Fatalf("got %q", got)
	}
}

func TestMsgpackParser(t *testing.T) {
	defer leakcheck.Check(t)()
	mp := &parser.MsgpackParser{}
	ts := newTestServer(t, &Options{Parser: mp})
	defer ts.Close()
	type item struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	ts.io.OnConnection(func(s *Socket) {
		s.On("item", func(it item, n int, ack Ack) { ack(it.Name, n+1, it.Data) })
	})
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	send := func(p *parser.SocketPacket) {
		t.Helper()
		msgs, err := mp.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if !m.Binary {
				t.Fatal("msgpack message not binary")
			}
			c.sendBinary(m.Data)
		}
	}
	dec := mp.NewDecoder()
	receive := func() *parser.SocketPacket {
		t.Helper()
		p, err := dec.Add(c.expectBinary(), true)
		if err != nil || p == nil {
			t.Fatalf("decode: %v, %v", p, err)
		}
		return p
	}

	send(&parser.SocketPacket{Type: parser.SocketPacketConnect, Data: map[string]any{"token": "t"}})
	reply := receive()
	var r connectReplyData
	if reply.Type != parser.SocketPacketConnect || reply.Payload == nil || reply.Payload.Decode(&r) != nil {
		t.Fatalf("reply %+v", reply)
	}
	s := recv(t, conns)
	if r.SID != s.ID() {
		t.Fatalf("sid %q, want %q", r.SID, s.ID())
	}
	if auth, _ := s.Handshake().Auth.(map[string]any); auth["token"] != "t" {
		t.Fatalf("auth %#v", s.Handshake().Auth)
	}

	send(&parser.SocketPacket{Type: parser.SocketPacketEvent, ID: 3, HasID: true, Data: []any{"item", item{"box", []byte{1, 2}}, 41}})
	ack := receive()
	var name string
	var n int
	var data []byte
	if ack.Type != parser.SocketPacketAck || ack.ID != 3 || Args(ack.Args).Decode(&name, &n, &data) != nil {
		t.Fatalf("ack %+v", ack)
	}
	if name != "box" || n != 42 || !bytes.Equal(data, []byte{1, 2}) {
		t.Fatalf("ack args %q %d %x", name, n, data)
	}

	if err := s.Emit("bin", []byte{7}); err != nil {
		t.Fatal(err)
	}
	ev := receive()
	var b []byte
	if ev.Type != parser.SocketPacketEvent || ev.Event != "bin" || Args(ev.Args).Decode(&b) != nil || !bytes.Equal(b, []byte{7}) {
		t.Fatalf("event %+v", ev)
	}
}

func TestConcurrentBinaryEmits(t *testing.T) {
	// The attachments of a packet follow it, whoever else writes.
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)
	s.Join("r")
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				err = s.Emit("bin", i, []byte{byte(i)}, []byte{byte(i), byte(i)})
			} else {
				err = ts.io.To("r").Emit("bin", i, []byte{byte(i)}, []byte{byte(i), byte(i)})
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := make(map[int]bool)
	for len(seen) < n {
		e := c.expectEvent()
		var i int
		e.arg(t, 0, &i)
		if e.attch != 2 || seen[i] {
			t.Fatalf("event %+v", e)
		}
		seen[i] = true
		if b := c.expectBinary(); !bytes.Equal(b, []byte{byte(i)}) {
			t.Fatalf("event %d: first attachment %x", i, b)
		}
		if b := c.expectBinary(); !bytes.Equal(b, []byte{byte(i), byte(i)}) {
			t.Fatalf("event %d: second attachment %x", i, b)
		}
	}
}

func TestShutdownWaitsForHandlers(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	ts.io.OnConnection(func(s *Socket) {
		s.On("work", func() {
			close(started)
			<-release
			finished.Store(true)
		})
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	c.emit("/", "work")
	recv(t, started)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := ts.io.Shutdown(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's error while a handler runs", err)
	}
	if finished.Load() {
		t.Fatal("the handler finished early")
	}
	close(release)
	waitFor(t, "the handler to finish", finished.Load)

	// New connections are refused.
	resp, err := http.Get(ts.hs.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("a handshake succeeded after Shutdown")
	}
}

func TestMiddlewareJoinThenRefuse(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	ts.io.Use(func(s *Socket) error {
		s.Join("vip")
		return errors.New("no")
	})
	c := ts.dial()
	c.send("0")
	c.expect(`4{"message":"no"}`)
	if rooms := ts.io.Of("/").Adapter().Rooms(); len(rooms) != 0 {
		t.Fatalf("a refused socket left rooms %q", rooms)
	}
}

func TestDisconnectInConnectionHandler(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	reasons := make(chan Reason, 1)
	ts.io.OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r Reason) { reasons <- r })
		if err := s.Emit("bye"); err != nil {
			t.Error(err)
		}
		s.Disconnect(false)
		if err := s.Emit("after"); !errors.Is(err, ErrDisconnected) {
			t.Errorf("Emit after Disconnect: %v", err)
		}
	})
	c := ts.dial()
	c.send("0")
	c.expectConnect("/")
	c.expect(`2["bye"]`)
	c.expect("1")
	if r := recv(t, reasons); r != ReasonServerNamespaceDisconnect {
		t.Fatalf("reason %q", r)
	}
	if n := ts.io.Of("/").SocketCount(); n != 0 {
		t.Fatalf("%d sockets left", n)
	}
}

func TestHandshakeDetails(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	c := ts.dialEIO(4, "token=abc&lang=go")
	c.connect("/", nil)
	s := recv(t, conns)
	hs := s.Handshake()
	if q := hs.Query(); q.Get("token") != "abc" || q.Get("lang") != "go" {
		t.Fatalf("query %v", q)
	}
	if !strings.HasPrefix(hs.URL, "/socket.io/?EIO=4") || hs.Secure || hs.XDomain {
		t.Fatalf("handshake %+v", hs)
	}
	if hs.Headers.Get("upgrade") != "websocket" {
		t.Fatalf("headers %v", hs.Headers.HTTP())
	}
	if host := strings.TrimPrefix(ts.hs.URL, "http://"); hs.Headers.Get("host") != host {
		t.Fatalf("Host header %q, want %q, as the reference's handshake has it", hs.Headers.Get("host"), host)
	}
	if date, zone, ok := strings.Cut(hs.Time(), " ("); !ok || !strings.HasSuffix(zone, ")") {
		t.Fatalf("time %q: no zone name", hs.Time())
	} else if _, err := time.Parse("Mon Jan 02 2006 15:04:05 GMT-0700", date); err != nil {
		t.Fatalf("time %q: %v", hs.Time(), err)
	}
	if d := time.Since(time.UnixMilli(hs.Issued)); d < 0 || d > time.Minute {
		t.Fatalf("issued %d", hs.Issued)
	}
}
