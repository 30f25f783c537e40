package natsadapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	natsadapter "github.com/duplexio/duplex/adapter/nats"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio"
	"github.com/nats-io/nats.go"
)

// inMsgs counts the messages a node's connection has received.
func inMsgs(n *goNode) uint64 { return n.nc.Stats().InMsgs }

// flushAll waits until the NATS server has handled what each node's
// connection sent (subscriptions), and each connection has read what the
// server sent it before.
func flushAll(t *testing.T, nodes ...*goNode) {
	t.Helper()
	for _, n := range nodes {
		if err := n.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// A broadcast to one room reaches only the nodes with a member in it: a
// node subscribes to the room's subject with its first member and
// unsubscribes with its last, so the NATS server sends the others
// nothing.
func TestRoomSubjects(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	// No heartbeats during the test: every message counted is a broadcast.
	opts := &natsadapter.Options{HeartbeatInterval: time.Hour, HeartbeatTimeout: 2 * time.Hour}
	n0 := startGoNode(t, ns, "n0", opts)
	n1 := startGoNode(t, ns, "n1", opts)
	n2 := startGoNode(t, ns, "n2", opts)
	waitServerCount(t, 3, n0.io, n1.io, n2.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	c := Dial(t, n1.hs.URL, "c", nil)
	e := Dial(t, n2.hs.URL, "e", nil)
	a.Join("r")
	c.Join("r")
	const odd = "a.b *>%é" // a name that is no valid token as it is
	c.Join(odd)
	flushAll(t, n0, n1, n2)

	// mark broadcasts to everyone and waits for it on every node: each
	// node has then handled all that n0 sent before it.
	connected := []*Client{a, c, e}
	mark := func() {
		t.Helper()
		if err := n0.io.Emit("mark"); err != nil {
			t.Fatal(err)
		}
		for _, cl := range connected {
			cl.Expect("mark")
		}
		flushAll(t, n0, n1, n2)
	}
	mark()
	b0, b1, b2 := inMsgs(n0), inMsgs(n1), inMsgs(n2)
	const count = 50
	for i := range count {
		if err := n0.io.To("r").Emit("room", i); err != nil {
			t.Fatal(err)
		}
	}
	for range count {
		a.Expect("room")
		c.Expect("room")
	}
	mark()
	if d := inMsgs(n2) - b2; d != 1 {
		t.Errorf("n2, with no member in r, received %d messages, want 1 (the mark)", d)
	}
	if d := inMsgs(n1) - b1; d != count+1 {
		t.Errorf("n1 received %d messages, want %d", d, count+1)
	}
	if d := inMsgs(n0) - b0; d != count+1 {
		t.Errorf("n0 received %d messages (its own), want %d", d, count+1)
	}

	// A name escaped into a token reaches its room, and only it.
	if err := n2.io.To(odd).Emit("odd"); err != nil {
		t.Fatal(err)
	}
	c.Expect("odd")
	a.ExpectNone(quiet)
	e.ExpectNone(0)

	// The last member leaves: n1 no longer receives r's broadcasts.
	c.EmitAck("leave", "r")
	flushAll(t, n1)
	b1 = inMsgs(n1)
	for i := range count {
		if err := n0.io.To("r").Emit("room", i); err != nil {
			t.Fatal(err)
		}
	}
	for range count {
		a.Expect("room")
	}
	mark()
	if d := inMsgs(n1) - b1; d != 1 {
		t.Errorf("n1, whose last member of r left, received %d messages, want 1 (the mark)", d)
	}
	c.ExpectNone(0)
	// A member that disconnects counts as leaving too.
	b0 = inMsgs(n0)
	a.Close()
	connected = []*Client{c, e}
	eventually(t, "a gone", func() bool { return len(n0.io.Of("/").Adapter().Rooms()) == 0 })
	flushAll(t, n0)
	if err := n1.io.To("r").Emit("room", -1); err != nil {
		t.Fatal(err)
	}
	// The mark comes from n0, which does not receive its own broadcasts
	// to r any more: one from n1 makes sure n1's went by.
	if err := n1.io.Emit("mark"); err != nil {
		t.Fatal(err)
	}
	for _, cl := range connected {
		cl.Expect("mark")
	}
	flushAll(t, n0, n1, n2)
	if d := inMsgs(n0) - b0; d != 1 {
		t.Errorf("n0, with no member of r left, received %d messages, want 1 (the mark)", d)
	}
}

// The NATS server restarts mid-traffic: broadcasts made while it is down
// reach the local sockets (nats.go buffers what goes to the others, who
// may miss it: core NATS delivers at most once); the nodes forget each
// other without heartbeats, then reconnect, subscribe again (rooms too)
// and say hello, and everything works as before.
func TestNATSRestart(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	n0 := startGoNode(t, ns, "n0", nil)
	n1 := startGoNode(t, ns, "n1", nil)
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	b.Join("r")
	stopTraffic := make(chan struct{})
	traffic := make(chan struct{})
	go func() { // broadcasts all along, which nobody checks
		defer close(traffic)
		for i := 0; ; i++ {
			select {
			case <-stopTraffic:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = n0.io.To("nobody").Emit("noise", i)
		}
	}()
	defer func() {
		select {
		case <-stopTraffic:
		default:
			close(stopTraffic)
		}
		<-traffic
	}()
	if err := n0.io.Emit("before"); err != nil {
		t.Fatal(err)
	}
	a.Expect("before")
	b.Expect("before")

	ns.stop()
	if err := n0.io.Emit("during"); err != nil {
		t.Errorf("a broadcast while NATS is down: %v (nats.go buffers it)", err)
	}
	a.Expect("during")
	// Without heartbeats, the nodes forget each other.
	waitServerCount(t, 1, n0.io, n1.io)
	if s, err := n0.io.FetchSockets(context.Background()); err != nil || len(s) != 1 {
		t.Fatalf("fetch while NATS is down: %d sockets, %v", len(s), err)
	}

	ns.start()
	// Both reconnect and say hello: each counts the other again.
	waitServerCount(t, 2, n0.io, n1.io)
	close(stopTraffic)
	<-traffic
	// "during" may or may not have reached b, depending on which node
	// reconnected first; it is skipped.
	next := func(c *Client) string {
		t.Helper()
		for {
			e := c.Expect2("after", "room-after", "during")
			if e.Name != "during" {
				return e.Name
			}
		}
	}
	if err := n1.io.Emit("after"); err != nil {
		t.Fatal(err)
	}
	a.Expect("after")
	if got := next(b); got != "after" {
		t.Fatalf("b got %q", got)
	}
	// The room's subject is subscribed again.
	if err := n0.io.To("r").Emit("room-after"); err != nil {
		t.Fatal(err)
	}
	if got := next(b); got != "room-after" {
		t.Fatalf("b got %q", got)
	}
	sockets, err := n0.io.FetchSockets(context.Background())
	if err != nil || len(sockets) != 2 {
		t.Fatalf("fetch after the restart: %d, %v", len(sockets), err)
	}
}

// The Go emitter reaches the sockets of every node.
func TestEmitter(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	n0 := startGoNode(t, ns, "n0", nil)
	n1 := startGoNode(t, ns, "n1", nil)
	n0.io.Of("/chat")
	n1.io.Of("/chat")
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	c := Dial(t, n1.hs.URL, "c", nil)
	chat := DialNamespace(t, n0.hs.URL, "/chat", "chat", nil)
	a.Join("r")
	b.Join("r")
	all := []*Client{a, b, c, chat}
	exactly := func(name string, want ...*Client) []Event {
		t.Helper()
		var got []Event
		for _, c := range want {
			got = append(got, c.Expect(name))
		}
		for _, c := range all {
			c.ExpectNone(quiet / 3)
		}
		return got
	}
	em := natsadapter.NewEmitter(ns.conn("emitter"), nil)
	ctx := context.Background()
	if err := em.Emit(ctx, "all", 1, "two"); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("all", a, b, c) {
		if got := string(mustJSON(t, e.Args)); got != `[1,"two"]` {
			t.Errorf("args %s", got)
		}
	}
	if err := em.To("r").Except(b.SID).Emit(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	exactly("room", a)
	if err := em.To("r", "r").Emit(ctx, "room-twice"); err != nil {
		t.Fatal(err)
	}
	exactly("room-twice", a, b)
	if err := em.Volatile().Compress(false).To("r").Emit(ctx, "vol"); err != nil {
		t.Fatal(err)
	}
	exactly("vol", a, b)
	if err := em.To(c.SID).Emit(ctx, "private"); err != nil {
		t.Fatal(err)
	}
	exactly("private", c)
	if err := em.Of("chat").Emit(ctx, "in-chat"); err != nil {
		t.Fatal(err)
	}
	exactly("in-chat", chat)
	if err := em.To("r").Emit(ctx, "bin", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("bin", a, b) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x01\x02\x03" {
			t.Errorf("attachments %q", e.Bins)
		}
	}
	if err := em.Emit(ctx, "connect"); !errors.Is(err, natsadapter.ErrReservedEvent) {
		t.Errorf("reserved event: %v", err)
	}
	if err := em.Emit(ctx, "huge", strings.Repeat("h", 2<<20)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Errorf("a message over max_payload: %v, want nats.ErrMaxPayload", err)
	}
	if err := em.ServerSideEmit(ctx, "hello", "from-emitter"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*goNode{n0, n1} {
		eventually(t, n.name+" got hello", func() bool {
			got := n.received()
			return len(got) == 1 && got[0] == "hello:from-emitter"
		})
	}
	if err := em.In("r").SocketsJoin(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r in v", func() bool {
		s, err := n1.io.In("v").FetchSockets(ctx)
		return err == nil && len(s) == 2
	})
	// A room joined through the emitter has its subject subscribed.
	if err := em.To("v").Emit(ctx, "in-v"); err != nil {
		t.Fatal(err)
	}
	exactly("in-v", a, b)
	if err := em.In("v").Except(a.SID).SocketsLeave(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b out of v", func() bool {
		s, err := n0.io.In("v").FetchSockets(ctx)
		return err == nil && len(s) == 1 && s[0].ID == a.SID
	})
	if err := em.In(c.SID).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	c.ExpectDisconnect()
	// The emitter is no node.
	for _, s := range []*socketio.Server{n0.io, n1.io} {
		if n, _ := s.Of("/").Adapter().ServerCount(ctx); n != 2 {
			t.Errorf("server count %d with an emitter", n)
		}
	}
	if err := natsadapter.NewEmitter(ns.conn("bad"), &natsadapter.EmitterOptions{Prefix: "a..b"}).Emit(ctx, "x"); !errors.Is(err, natsadapter.ErrInvalidPrefix) {
		t.Errorf("emitter with an invalid prefix: %v", err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Malformed messages on the namespace's subject are dropped; the nodes
// go on.
func TestMalformedMessages(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	n0 := startGoNode(t, ns, "n0", nil)
	n1 := startGoNode(t, ns, "n1", nil)
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	nc := ns.conn("garbage")
	for _, m := range []string{"", "\xc1", "\x93\x01\x02\x03", "\x81\xa4type\x03", "\x83\xa4type\x03\xa3nsp\xa1/\xa4data\xc0",
		"\x83\xa4type\x07\xa3nsp\xa1/\xa3uid\xa1x", "\x84\xa4type\x03\xa3nsp\xa1/\xa3uid\xa1x\xa4data\x81\xa6packet\x81\xa4data\x90", "\xdd\xff\xff\xff\xff"} {
		for _, s := range []string{"socketio./.all", "socketio./.room.r", "socketio./.node.x"} {
			if err := nc.Publish(s, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := n1.io.Emit("still"); err != nil {
		t.Fatal(err)
	}
	a.Expect("still")
	if s, err := n1.io.FetchSockets(context.Background()); err != nil || len(s) != 1 {
		t.Fatalf("fetch: %d, %v", len(s), err)
	}
}

// An invalid prefix makes what reaches other nodes fail with
// ErrInvalidPrefix; local sockets still get broadcasts.
func TestInvalidPrefix(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	n0 := startGoNode(t, ns, "n0", &natsadapter.Options{Prefix: "bad.>"})
	a := Dial(t, n0.hs.URL, "a", nil)
	a.Join("r")
	if err := n0.io.Emit("x"); !errors.Is(err, natsadapter.ErrInvalidPrefix) {
		t.Errorf("emit: %v, want ErrInvalidPrefix", err)
	}
	a.Expect("x")
}

// Flush waits for what the node published; a closed connection makes it
// fail.
func TestFlush(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	n0 := startGoNode(t, ns, "n0", nil)
	f, ok := n0.io.Of("/").Adapter().(adapter.Flusher)
	if !ok {
		t.Fatal("the adapter is no adapter.Flusher")
	}
	if err := n0.io.Emit("x"); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	n0.nc.Close()
	if err := f.Flush(context.Background()); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("flush on a closed connection: %v", err)
	}
}

// Namespaces whose names are no valid tokens as they are, or whose
// escaped names look alike, or are too long for a token, stay apart.
func TestNamespaceSubjects(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	long := "/" + strings.Repeat("n", 300)
	names := []string{"/v1.0", "/v1%2E0", "/a b*>", long, long + "x"}
	n0 := startGoNode(t, ns, "n0", nil)
	n1 := startGoNode(t, ns, "n1", nil)
	for _, name := range names {
		n0.io.Of(name)
		n1.io.Of(name)
	}
	for _, s := range []*socketio.Server{n0.io, n1.io} {
		for _, name := range names {
			eventually(t, "server count 2 in "+name, func() bool {
				c, err := s.Of(name).Adapter().ServerCount(context.Background())
				return err == nil && c == 2
			})
		}
	}
	clients := make([]*Client, len(names))
	for i, name := range names {
		clients[i] = DialNamespace(t, n1.hs.URL, name, "c", nil)
		if err := n1.io.Of(name).In(clients[i].SID).SocketsJoin("r"); err != nil {
			t.Fatal(err)
		}
	}
	if err := n1.nc.Flush(); err != nil { // the rooms' subscriptions
		t.Fatal(err)
	}
	for i, name := range names {
		if err := n0.io.Of(name).Emit("all", i); err != nil {
			t.Fatal(err)
		}
		if err := n0.io.Of(name).To("r").Emit("room", i); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range clients {
		for _, ev := range []string{"all", "room"} {
			var got int
			if err := c.Expect(ev).Arg(0, &got); err != nil || got != i {
				t.Errorf("%s in %s: %d, %v", ev, names[i], got, err)
			}
		}
		c.ExpectNone(quiet / 3)
	}
	sockets, err := n0.io.Of(long).FetchSockets(context.Background())
	if err != nil || len(sockets) != 1 || sockets[0].ID != clients[3].SID {
		t.Fatalf("fetch in the long namespace: %d, %v", len(sockets), err)
	}
}
