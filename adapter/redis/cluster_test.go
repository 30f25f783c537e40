package redisadapter_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio"
)

// quiet is how long a test waits to be sure an event does not come.
const quiet = 300 * time.Millisecond

// cluster is three Go nodes on one Redis, with clients spread over them:
//
//	n0: a (room r), b
//	n1: c (room r), d (rooms r and x)
//	n2: e
type cluster struct {
	redis         *redisServer
	nodes         []*goNode
	a, b, c, d, e *Client
}

func startCluster(t *testing.T, k kind) *cluster {
	t.Helper()
	r := startRedis(t, false)
	cl := &cluster{redis: r}
	for _, name := range []string{"n0", "n1", "n2"} {
		cl.nodes = append(cl.nodes, startGoNode(t, name, r.factory(k, 0), 0))
	}
	waitServerCount(t, 3, cl.servers()...)
	cl.a = Dial(t, cl.nodes[0].hs.URL, "a", nil)
	cl.b = Dial(t, cl.nodes[0].hs.URL, "b", nil)
	cl.c = Dial(t, cl.nodes[1].hs.URL, "c", nil)
	cl.d = Dial(t, cl.nodes[1].hs.URL, "d", nil)
	cl.e = Dial(t, cl.nodes[2].hs.URL, "e", nil)
	cl.a.Join("r")
	cl.c.Join("r")
	cl.d.Join("r")
	cl.d.Join("x")
	if k == shardedKind {
		// n0 and n1 have members of r, n1 of x.
		waitShardSubscribers(t, r.client(), "r", 2)
		waitShardSubscribers(t, r.client(), "x", 1)
	}
	return cl
}

func (cl *cluster) servers() []*socketio.Server {
	var out []*socketio.Server
	for _, n := range cl.nodes {
		out = append(out, n.io)
	}
	return out
}

func (cl *cluster) clients() []*Client { return []*Client{cl.a, cl.b, cl.c, cl.d, cl.e} }

// forEachKind runs a test against every adapter.
func forEachKind(t *testing.T, fn func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			t.Cleanup(leakcheck.Check(t)) // after the cleanups registered later
			fn(t, k)
		})
	}
}

// expectExactly checks that the given clients get the event once and the
// others none.
func expectExactly(t *testing.T, cl *cluster, name string, want ...*Client) {
	t.Helper()
	for _, c := range want {
		c.Expect(name)
	}
	for _, c := range cl.clients() {
		c.ExpectNone(quiet / 5)
	}
	_ = t
}

func TestClusterBroadcast(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		cl := startCluster(t, k)
		n0, n1, n2 := cl.nodes[0].io, cl.nodes[1].io, cl.nodes[2].io

		// Everyone, from each node.
		for _, n := range []*socketio.Server{n0, n1, n2} {
			if err := n.Emit("all", 1, "two", map[string]any{"three": 3}); err != nil {
				t.Fatal(err)
			}
			expectExactly(t, cl, "all", cl.clients()...)
		}

		// A room, from a node without members.
		if err := n2.To("r").Emit("room", "r"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*Client{cl.a, cl.c, cl.d} {
			var s string
			if err := c.Expect("room").Arg(0, &s); err != nil || s != "r" {
				t.Fatalf("%s: got %q, %v", c.Name, s, err)
			}
		}
		expectExactly(t, cl, "room")

		// Two rooms: members of both get it once.
		if err := n0.To("r", "x").Emit("rooms"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "rooms", cl.a, cl.c, cl.d)

		// Except.
		if err := n1.To("r").Except("x").Emit("except"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "except", cl.a, cl.c)
		if err := n2.Except("r").Emit("except-all"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "except-all", cl.b, cl.e)

		// A socket's own room, on another node.
		if err := n2.To(cl.c.SID).Emit("private"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "private", cl.c)

		// Volatile and uncompressed broadcasts go everywhere too.
		if err := n0.Volatile().Compress(false).To("x").Emit("volatile"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "volatile", cl.d)

		// Local stays on its node.
		if err := n1.Local().Emit("local"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "local", cl.c, cl.d)

		// From a socket: everyone else in the room.
		if err := n1.Of("/").LocalSocket(cl.c.SID).To("r").Emit("from-c"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "from-c", cl.a, cl.d)

		// Binary arrives as binary.
		if err := n0.To("x").Emit("bin", []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		expectBinary(t, cl.d)
	})
}

// expectBinary reads a binary event: its packet, then its attachment.
func expectBinary(t *testing.T, c *Client) {
	t.Helper()
	e := c.Expect("bin")
	if len(e.Bins) != 1 || string(e.Bins[0]) != "\x01\x02\x03" {
		t.Fatalf("%s: attachments %q", c.Name, e.Bins)
	}
}

func TestClusterBroadcastWithAck(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		cl := startCluster(t, k)
		for _, c := range cl.clients() {
			c.SetAnswer(func(e Event) []any { return []any{"ok-" + c.Name} })
		}
		answers, err := cl.nodes[2].io.To("r").Timeout(5*time.Second).EmitWithAck(context.Background(), "ask", 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range answers {
			var s string
			if err := a.Decode(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		sort.Strings(got)
		if want := []string{"ok-a", "ok-c", "ok-d"}; !slices.Equal(got, want) {
			t.Fatalf("answers %v, want %v", got, want)
		}
		for _, c := range []*Client{cl.a, cl.c, cl.d} {
			c.Expect("ask")
		}

		// Everyone, from a node with clients.
		answers, err = cl.nodes[0].io.Timeout(5*time.Second).EmitWithAck(context.Background(), "ask-all")
		if err != nil {
			t.Fatal(err)
		}
		if len(answers) != 5 {
			t.Fatalf("%d answers, want 5", len(answers))
		}
	})
}

func TestClusterFetchSockets(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		cl := startCluster(t, k)
		sockets, err := cl.nodes[2].io.In("r").FetchSockets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]*socketio.RemoteSocket{}
		for _, s := range sockets {
			byID[s.ID] = s
		}
		if len(sockets) != 3 || len(byID) != 3 {
			t.Fatalf("got %d sockets, want a, c and d", len(sockets))
		}
		for _, c := range []*Client{cl.a, cl.c, cl.d} {
			s := byID[c.SID]
			if s == nil {
				t.Fatalf("%s missing", c.Name)
			}
			data, _ := s.Data.(map[string]any)
			if data["name"] != c.Name {
				t.Errorf("%s: data %v", c.Name, s.Data)
			}
			if !slices.Contains(s.Rooms, "r") || !slices.Contains(s.Rooms, c.SID) {
				t.Errorf("%s: rooms %v", c.Name, s.Rooms)
			}
			auth, _ := s.Handshake.Auth.(map[string]any)
			if auth["name"] != c.Name || s.Handshake.Query().Get("EIO") != "4" {
				t.Errorf("%s: handshake %+v", c.Name, s.Handshake)
			}
		}
		if d := byID[cl.d.SID]; !slices.Contains(d.Rooms, "x") {
			t.Errorf("d: rooms %v", d.Rooms)
		}
		if data, _ := byID[cl.c.SID].Data.(map[string]any); data["node"] != "n1" {
			t.Errorf("c: data %v", data)
		}

		all, err := cl.nodes[0].io.FetchSockets(context.Background())
		if err != nil || len(all) != 5 {
			t.Fatalf("all sockets: %d, %v", len(all), err)
		}
		some, err := cl.nodes[1].io.Except("r").FetchSockets(context.Background())
		if err != nil || len(some) != 2 {
			t.Fatalf("except r: %d, %v", len(some), err)
		}

		// A remote socket acts through the cluster.
		if err := byID[cl.a.SID].Emit("direct", "hi"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "direct", cl.a)
	})
}

func TestClusterSocketsJoinLeaveDisconnect(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		cl := startCluster(t, k)
		n0, n1, n2 := cl.nodes[0].io, cl.nodes[1].io, cl.nodes[2].io

		if err := n2.In("r").SocketsJoin("y"); err != nil {
			t.Fatal(err)
		}
		if k == shardedKind {
			waitShardSubscribers(t, cl.redis.client(), "y", 2)
		}
		eventually(t, "sockets of r in y", func() bool {
			s, err := n2.In("y").FetchSockets(context.Background())
			return err == nil && len(s) == 3
		})
		if err := n0.To("y").Emit("y"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "y", cl.a, cl.c, cl.d)

		if err := n0.In("x").SocketsLeave("y"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "d out of y", func() bool {
			s, err := n2.In("y").FetchSockets(context.Background())
			return err == nil && len(s) == 2
		})
		if err := n2.To("y").Emit("y2"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "y2", cl.a, cl.c)

		// A remote socket joins through the cluster.
		remote, err := n2.In(cl.b.SID).FetchSockets(context.Background())
		if err != nil || len(remote) != 1 {
			t.Fatalf("b: %d, %v", len(remote), err)
		}
		if err := remote[0].Join("z"); err != nil {
			t.Fatal(err)
		}
		if k == shardedKind {
			waitShardSubscribers(t, cl.redis.client(), "z", 1)
		}
		eventually(t, "b in z", func() bool {
			return slices.Contains(n0.Of("/").LocalSocket(cl.b.SID).Rooms(), "z")
		})
		if err := n1.To("z").Emit("z"); err != nil {
			t.Fatal(err)
		}
		expectExactly(t, cl, "z", cl.b)

		if err := n2.In("y").DisconnectSockets(false); err != nil {
			t.Fatal(err)
		}
		cl.a.ExpectDisconnect()
		cl.c.ExpectDisconnect()
		eventually(t, "3 sockets left", func() bool {
			s, err := n2.FetchSockets(context.Background())
			return err == nil && len(s) == 3
		})
		if err := n0.Emit("after"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*Client{cl.b, cl.d, cl.e} {
			c.Expect("after")
		}
		// Closing the connection.
		if err := n0.In(cl.e.SID).DisconnectSockets(true); err != nil {
			t.Fatal(err)
		}
		select {
		case <-cl.e.Done():
		case <-time.After(waitTimeout):
			t.Fatal("e: connection not closed")
		}
	})
}

func TestClusterServerSideEmit(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		cl := startCluster(t, k)
		n0 := cl.nodes[0].io.Of("/")
		if err := n0.ServerSideEmit(context.Background(), "hello", "plain"); err != nil {
			t.Fatal(err)
		}
		for _, n := range cl.nodes[1:] {
			eventually(t, n.name+" got hello", func() bool { return slices.Contains(n.received(), "hello:plain") })
		}
		if got := cl.nodes[0].received(); len(got) != 0 {
			t.Errorf("the sender got its own event: %v", got)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		answers, err := n0.ServerSideEmitWithAck(ctx, "hello", "ack")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range answers {
			var s string
			if err := a.Decode(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		sort.Strings(got)
		if !slices.Equal(got, []string{"n1", "n2"}) {
			t.Fatalf("answers %v", got)
		}
		// The same through the Server, for its main namespace.
		if answers, err := cl.nodes[0].io.ServerSideEmitWithAck(ctx, "hello", "ack"); err != nil || len(answers) != 2 {
			t.Fatalf("Server.ServerSideEmitWithAck: %d answers, %v", len(answers), err)
		}
		if n, err := cl.nodes[1].io.Of("/").Adapter().ServerCount(ctx); err != nil || n != 3 {
			t.Fatalf("server count %d, %v", n, err)
		}
	})
}

// A node that leaves is no longer counted, and requests do not wait for
// it; a node that does not answer makes requests fail with ErrTimeout.
func TestClusterNodeLeaves(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		cl := startCluster(t, k)
		cl.nodes[2].close()
		waitServerCount(t, 2, cl.nodes[0].io, cl.nodes[1].io)
		sockets, err := cl.nodes[0].io.FetchSockets(context.Background())
		if err != nil || len(sockets) != 4 {
			t.Fatalf("fetch: %d sockets, %v", len(sockets), err)
		}

		// A subscriber that is no node: counted, never answers.
		rdb := cl.redis.client()
		ctx := context.Background()
		var ch string
		switch k {
		case pubsubKind:
			ch = "socket.io-request#/#"
		default:
			ch = "socket.io#/#"
		}
		var ps interface{ Close() error }
		if k == shardedKind {
			p := rdb.SSubscribe(ctx, ch)
			ps = p
			if _, err := p.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			p := rdb.Subscribe(ctx, ch)
			ps = p
			if _, err := p.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		defer ps.Close()
		waitServerCount(t, 3, cl.nodes[0].io)
		start := time.Now()
		_, err = cl.nodes[0].io.FetchSockets(ctx)
		if !errors.Is(err, redisadapter.ErrTimeout) {
			t.Fatalf("fetch with a silent node: %v, want ErrTimeout", err)
		}
		if !strings.Contains(err.Error(), "1 of 2") {
			t.Errorf("error %q does not say how many answered", err)
		}
		if d := time.Since(start); d < time.Second || d > 5*time.Second {
			t.Errorf("gave up after %v, want the requests timeout (2s)", d)
		}
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		answers, err := cl.nodes[0].io.Of("/").ServerSideEmitWithAck(tctx, "hello", "x")
		if !errors.Is(err, socketio.ErrAckTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("serverSideEmitWithAck with a silent node: %v", err)
		}
		if len(answers) != 1 {
			t.Errorf("%d answers, want n1's", len(answers))
		}
	})
}

// The sharded adapter's subscription modes decide which rooms get a
// channel of their own; broadcasts reach the same sockets in each.
func TestShardedSubscriptionModes(t *testing.T) {
	for _, mode := range []redisadapter.SubscriptionMode{redisadapter.Static, redisadapter.Dynamic, redisadapter.DynamicPrivate} {
		t.Run(string(mode), func(t *testing.T) {
			t.Cleanup(leakcheck.Check(t))
			r := startRedis(t, false)
			factory := func() adapter.Factory {
				return redisadapter.NewShardedFactory(r.client(), &redisadapter.ShardedOptions{SubscriptionMode: mode})
			}
			n0 := startGoNode(t, "n0", factory(), 0)
			n1 := startGoNode(t, "n1", factory(), 0)
			waitServerCount(t, 2, n0.io, n1.io)
			a := Dial(t, n0.hs.URL, "a", nil)
			c := Dial(t, n1.hs.URL, "c", nil)
			c.Join("r")
			rdb := r.client()
			wantRoom, wantPrivate := 0, 0
			switch mode {
			case redisadapter.Dynamic:
				wantRoom = 1
			case redisadapter.DynamicPrivate:
				wantRoom, wantPrivate = 1, 1
			}
			waitShardSubscribers(t, rdb, "r", wantRoom)
			waitShardSubscribers(t, rdb, c.SID, wantPrivate)
			if err := n0.io.To("r").Emit("room"); err != nil {
				t.Fatal(err)
			}
			c.Expect("room")
			if err := n0.io.To(c.SID).Emit("private"); err != nil {
				t.Fatal(err)
			}
			c.Expect("private")
			a.ExpectNone(quiet)

			// The room's channel goes when its last local member leaves.
			c.EmitAck("join", "other")
			if err := n0.io.In("r").SocketsLeave("r"); err != nil {
				t.Fatal(err)
			}
			waitShardSubscribers(t, rdb, "r", 0)
		})
	}
}
