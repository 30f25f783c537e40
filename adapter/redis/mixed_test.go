package redisadapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// The mixed-cluster tests run a Node server (socket.io with the official
// adapter, from interop/node-server.mjs) and a Go server on one Redis,
// with clients on both.

// nodeNode is the Node server of a mixed cluster.
type nodeNode = clustertest.NodeServer

// startNodeNode starts interop/node-server.mjs on the adapter kind.
func startNodeNode(t testing.TB, r *redisServer, k kind, name string, env ...string) *nodeNode {
	t.Helper()
	env = append([]string{"REDIS_URL=redis://" + r.addr(), "ADAPTER=" + string(k), "NAME=" + name}, env...)
	return clustertest.StartNodeServer(t, "interop", env...)
}

// nodeSocket is a socket as the Node server's control API reports it.
type nodeSocket = clustertest.NodeSocket

// TestMixedCluster runs a Go node and a Node node with each adapter, with
// two clients on each, and checks every cross-node operation both ways
// (clustertest.MixedScenario).
func TestMixedCluster(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		r := startRedis(t, false)
		g := startGoNode(t, "go", r.factory(k, 0), 0)
		n := startNodeNode(t, r, k, "node")
		waitServerCount(t, 2, g.io)
		eventually(t, "the Node server counts 2 nodes", func() bool { return n.Count() == 2 })
		m := clustertest.Mixed{Go: g.GoNode, Node: n}
		if k == shardedKind {
			m.Joined = func(t *testing.T, room string, nodes int) {
				waitShardSubscribers(t, r.client(), room, nodes)
			}
		}
		if k == pubsubKind {
			// The pub/sub adapter's allRooms request, from Node.
			m.AfterFetch = func(t *testing.T, c clustertest.MixedClients) {
				var out struct{ Rooms []string }
				n.Ctl("allRooms", nil, &out)
				if !slices.Contains(out.Rooms, c.GA.SID) || !slices.Contains(out.Rooms, c.NB.SID) || !slices.Contains(out.Rooms, "r") {
					t.Errorf("allRooms %v", out.Rooms)
				}
			}
		}
		clustertest.MixedScenario(t, m)
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEmitters checks @socket.io/redis-emitter against a Go node, and the
// Go Emitter against a Go node and a Node node.
func TestEmitters(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	r := startRedis(t, false)
	g := startGoNode(t, "go", r.factory(pubsubKind, 0), 0)
	n := startNodeNode(t, r, pubsubKind, "node")
	waitServerCount(t, 2, g.io)
	ga := Dial(t, g.hs.URL, "ga", nil)
	gb := Dial(t, g.hs.URL, "gb", nil)
	na := Dial(t, n.URL, "na", nil)
	ga.Join("r")
	na.Join("r")
	all := []*Client{ga, gb, na}
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

	// The Node emitter.
	n.Ctl("emitter", map[string]any{"rooms": []string{"r"}, "event": "node-emitter", "args": []any{"x", 2}}, nil)
	for _, e := range exactly("node-emitter", ga, na) {
		if got := string(mustJSON(t, e.Args)); got != `["x",2]` {
			t.Errorf("args %s", got)
		}
	}
	n.Ctl("emitter", map[string]any{"except": []string{"r"}, "event": "node-emitter-except"}, nil)
	exactly("node-emitter-except", gb)
	n.Ctl("emitter", map[string]any{"event": "node-emitter-bin", "args": []any{map[string]any{"$bin": []int{9}}}}, nil)
	for _, e := range exactly("node-emitter-bin", all...) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x09" {
			t.Errorf("attachments %q", e.Bins)
		}
	}
	n.Ctl("emitterJoin", map[string]any{"rooms": []string{gb.SID}, "join": "w"}, nil)
	eventually(t, "gb in w", func() bool {
		return slices.Contains(g.io.Of("/").LocalSocket(gb.SID).Rooms(), "w")
	})
	n.Ctl("emitterSse", map[string]any{"event": "hello", "args": []any{"from-node-emitter"}}, nil)
	eventually(t, "Go got hello", func() bool { return slices.Contains(g.Received(), "hello:from-node-emitter") })

	// The Go emitter, to both servers.
	em := redisadapter.NewEmitter(r.client(), nil)
	ctx := context.Background()
	if err := em.To("r").Emit(ctx, "go-emitter", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	exactly("go-emitter", ga, na)
	if err := em.Except("r").Emit(ctx, "go-emitter-except"); err != nil {
		t.Fatal(err)
	}
	exactly("go-emitter-except", gb)
	if err := em.To("w").Emit(ctx, "go-emitter-bin", []byte{7}); err != nil {
		t.Fatal(err)
	}
	exactly("go-emitter-bin", gb)
	if err := em.Emit(ctx, "disconnect"); err == nil {
		t.Error("reserved event emitted")
	}
	clustertest.EmitterRequests(t, g.GoNode, n, em, ga, na)
}

// With the Streams adapter, a client recovers its session on a Node node
// after losing its Go node, and the other way round: the session format in
// Redis and the offsets are the same.
func TestMixedStreamsRecovery(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	const window = time.Minute
	r := startRedis(t, false)
	g := startGoNode(t, "go", r.factory(streamsKind, window), window)
	n := startNodeNode(t, r, streamsKind, "node", fmt.Sprintf("RECOVERY_MS=%d", window.Milliseconds()))
	waitServerCount(t, 2, g.io)
	rdb := r.client()
	persisted := func(pid string) {
		t.Helper()
		eventually(t, "the session in Redis", func() bool {
			n, err := rdb.Exists(context.Background(), "sio:session:"+pid).Result()
			return err == nil && n == 1
		})
	}

	// Go to Node.
	a := Dial(t, g.hs.URL, "a", nil)
	a.Join("r")
	if err := g.io.To("r").Emit("e1"); err != nil {
		t.Fatal(err)
	}
	a.Expect("e1")
	offset := a.LastOffset()
	a.Drop()
	persisted(a.PID)
	n.Ctl("emit", map[string]any{"rooms": []string{"r"}, "event": "e2", "args": []any{2}}, nil)
	if err := g.io.Except("r").Emit("not-for-a"); err != nil {
		t.Fatal(err)
	}
	a2 := Dial(t, n.URL, "a2", map[string]any{"pid": a.PID, "offset": offset})
	if a2.SID != a.SID {
		t.Fatalf("Node did not recover a Go session: sid %q, was %q", a2.SID, a.SID)
	}
	a2.Expect("e2")
	a2.ExpectNone(quiet)
	var ns []nodeSocket
	n.Ctl("fetch", map[string]any{"rooms": []string{"r"}}, &ns)
	if len(ns) != 1 || ns[0].ID != a.SID || ns[0].Data["node"] != "go" || ns[0].Data["name"] != "a" {
		t.Errorf("recovered on Node: %+v", ns)
	}

	// Node to Go.
	b := Dial(t, n.URL, "b", nil)
	b.Join("s")
	if b.PID == "" {
		t.Fatal("the Node server gave no pid")
	}
	n.Ctl("emit", map[string]any{"rooms": []string{"s"}, "event": "e3"}, nil)
	b.Expect("e3")
	offset = b.LastOffset()
	b.Drop()
	persisted(b.PID)
	if err := g.io.To("s").Emit("e4", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	b2 := Dial(t, g.hs.URL, "b2", map[string]any{"pid": b.PID, "offset": offset})
	if b2.SID != b.SID {
		t.Fatalf("Go did not recover a Node session: sid %q, was %q", b2.SID, b.SID)
	}
	if got := string(mustJSON(t, b2.Expect("e4").Args[:1])); got != `[{"k":"v"}]` {
		t.Errorf("e4 args %s", got)
	}
	s := g.io.Of("/").LocalSocket(b.SID)
	if s == nil || !slices.Contains(s.Rooms(), "s") {
		t.Fatalf("recovered on Go: %v", s)
	}
	if data, _ := s.Data().(map[string]any); data["node"] != "node" || data["name"] != "b" {
		t.Errorf("recovered data %v", s.Data())
	}
}
