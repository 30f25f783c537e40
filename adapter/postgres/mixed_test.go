package postgresadapter_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	postgresadapter "github.com/duplexio/duplex/adapter/postgres"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// The mixed-cluster tests run Node servers (socket.io with
// @socket.io/postgres-adapter, from interop/node-server.mjs) and Go
// servers on one PostgreSQL, with clients on each.

// nodeNode is a Node server of a mixed cluster.
type nodeNode = clustertest.NodeServer

// startNodeNode starts interop/node-server.mjs with the test heartbeats.
func startNodeNode(t testing.TB, pg *pgServer, name string) *nodeNode {
	t.Helper()
	return clustertest.StartNodeServer(t, "interop", "PG_URL="+pg.url(), "NAME="+name,
		fmt.Sprintf("HEARTBEAT_MS=%d", testHeartbeat.Milliseconds()),
		fmt.Sprintf("HEARTBEAT_TIMEOUT_MS=%d", testTimeout.Milliseconds()))
}

// nodeSocket is a socket as the Node server's control API reports it.
type nodeSocket = clustertest.NodeSocket

// TestMixedCluster runs a Go node and a Node node on one PostgreSQL, with
// two clients on each, and checks every cross-node operation both ways
// (clustertest.MixedScenario).
func TestMixedCluster(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	g := startGoNode(t, "go", pg.factory(nil))
	n := startNodeNode(t, pg, "node")
	waitServerCount(t, 2, g.io)
	eventually(t, "the Node server counts 2 nodes", func() bool { return n.Count() == 2 })
	clustertest.MixedScenario(t, clustertest.Mixed{Go: g.GoNode, Node: n})

	// A Go node leaving says goodbye: Node stops counting it at once.
	g.close()
	eventually(t, "the Node server counts 1 node", func() bool { return n.Count() == 1 })
}

// TestEmitters checks @socket.io/postgres-emitter against Go and Node
// nodes, and the Go Emitter against both.
func TestEmitters(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	g := startGoNode(t, "go", pg.factory(nil))
	n := startNodeNode(t, pg, "node")
	waitServerCount(t, 2, g.io)
	eventually(t, "the Node server counts 2 nodes", func() bool { return n.Count() == 2 })
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

	// The Node emitter: Go nodes act on its messages. Node nodes on
	// @socket.io/postgres-adapter 0.5 do not (its messages have no
	// top-level nsp, by which that adapter routes them), so na gets
	// nothing although it is in r.
	n.Ctl("emitter", map[string]any{"rooms": []string{"r"}, "event": "node-emitter", "args": []any{"x", 2}}, nil)
	for _, e := range exactly("node-emitter", ga) {
		if got := string(mustJSON(t, e.Args)); got != `["x",2]` {
			t.Errorf("args %s", got)
		}
	}
	n.Ctl("emitter", map[string]any{"except": []string{"r"}, "event": "node-emitter-except"}, nil)
	exactly("node-emitter-except", gb)
	n.Ctl("emitter", map[string]any{"event": "node-emitter-bin", "args": []any{map[string]any{"$bin": []int{9}}}}, nil)
	for _, e := range exactly("node-emitter-bin", ga, gb) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x09" {
			t.Errorf("attachments %q", e.Bins)
		}
	}
	n.Ctl("emitterJoin", map[string]any{"rooms": []string{gb.SID}, "join": "w"}, nil)
	eventually(t, "gb in w", func() bool {
		return slices.Contains(g.io.Of("/").LocalSocket(gb.SID).Rooms(), "w")
	})
	n.Ctl("emitterLeave", map[string]any{"rooms": []string{gb.SID}, "leave": "w"}, nil)
	eventually(t, "gb out of w", func() bool {
		return !slices.Contains(g.io.Of("/").LocalSocket(gb.SID).Rooms(), "w")
	})
	n.Ctl("emitterSse", map[string]any{"event": "hello", "args": []any{"from-node-emitter"}}, nil)
	eventually(t, "Go got hello", func() bool { return slices.Contains(g.Received(), "hello:from-node-emitter") })

	// The Go emitter, to both servers.
	em := postgresadapter.NewEmitter(pg.pool(), nil)
	ctx := context.Background()
	if err := em.To("r").Emit(ctx, "go-emitter", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	exactly("go-emitter", ga, na)
	if err := em.Except("r").Emit(ctx, "go-emitter-except"); err != nil {
		t.Fatal(err)
	}
	exactly("go-emitter-except", gb)
	if err := em.To("r").Emit(ctx, "go-emitter-bin", []byte{7}); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("go-emitter-bin", ga, na) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x07" {
			t.Errorf("attachments %q", e.Bins)
		}
	}
	clustertest.EmitterRequests(t, g.GoNode, n, em, ga, na)
}

// TestMixedThreeNodes runs one Go node and two Node nodes, a client on
// each: every node's requests are answered by the two others, whatever
// their language (answers travel on the namespace's channel, which every
// node hears).
func TestMixedThreeNodes(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	g := startGoNode(t, "go", pg.factory(nil))
	n1 := startNodeNode(t, pg, "node1")
	n2 := startNodeNode(t, pg, "node2")
	waitServerCount(t, 3, g.io)
	for _, n := range []*nodeNode{n1, n2} {
		eventually(t, "a Node server counts 3 nodes", func() bool { return n.Count() == 3 })
	}
	gc := Dial(t, g.hs.URL, "gc", nil)
	c1 := Dial(t, n1.URL, "c1", nil)
	c2 := Dial(t, n2.URL, "c2", nil)
	all := []*Client{gc, c1, c2}
	for _, c := range all {
		c.Join("r")
		c.SetAnswer(func(e Event) []any { return []any{c.Name} })
	}
	everyone := func(name string) {
		t.Helper()
		for _, c := range all {
			c.Expect(name)
		}
		for _, c := range all {
			c.ExpectNone(quiet / 3)
		}
	}
	ctx := context.Background()

	// From Go.
	if err := g.io.To("r").Emit("go-r"); err != nil {
		t.Fatal(err)
	}
	everyone("go-r")
	sockets, err := g.io.In("r").FetchSockets(ctx)
	if err != nil || len(sockets) != 3 {
		t.Fatalf("Go fetch: %d, %v", len(sockets), err)
	}
	answers, err := g.io.Of("/").ServerSideEmitWithAck(ctx, "hello", "go")
	if err != nil {
		t.Fatalf("Go serverSideEmitWithAck: %v", err)
	}
	if names := clustertest.SortedStrings(t, answers); !slices.Equal(names, []string{"node1", "node2"}) {
		t.Fatalf("Go serverSideEmitWithAck answers %v", names)
	}
	acks, err := g.io.To("r").Timeout(5*time.Second).EmitWithAck(ctx, "ask-go")
	if err != nil || len(acks) != 3 {
		t.Fatalf("Go emitWithAck: %d, %v", len(acks), err)
	}
	everyone("ask-go")

	// From each Node node.
	for _, n := range []*nodeNode{n1, n2} {
		n.Ctl("emit", map[string]any{"rooms": []string{"r"}, "event": "node-r"}, nil)
		everyone("node-r")
		var ns []nodeSocket
		n.Ctl("fetch", map[string]any{"rooms": []string{"r"}}, &ns)
		if len(ns) != 3 {
			t.Fatalf("Node fetch: %+v", ns)
		}
		var out struct {
			Answers []any
			Err     string
		}
		n.Ctl("sseAck", map[string]any{"event": "hello", "args": []any{"node"}}, &out)
		if len(out.Answers) != 2 || !slices.Contains(out.Answers, any("go")) || out.Err != "" {
			t.Fatalf("Node serverSideEmitWithAck: %v, %q", out.Answers, out.Err)
		}
		n.Ctl("emitWithAck", map[string]any{"rooms": []string{"r"}, "event": "ask-node"}, &out)
		sort.Slice(out.Answers, func(i, j int) bool { return fmt.Sprint(out.Answers[i]) < fmt.Sprint(out.Answers[j]) })
		if fmt.Sprint(out.Answers) != "[c1 c2 gc]" || out.Err != "" {
			t.Fatalf("Node emitWithAck: %v, %q", out.Answers, out.Err)
		}
		everyone("ask-node")
	}
}
