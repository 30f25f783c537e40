package postgresadapter_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
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

type nodeSocket struct {
	ID    string
	Rooms []string
	Data  map[string]any
	Auth  map[string]any
	Query map[string]any
}

// TestMixedCluster runs a Go node and a Node node on one PostgreSQL, with
// two clients on each, and checks every cross-node operation both ways.
func TestMixedCluster(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	g := startGoNode(t, "go", pg.factory(nil))
	n := startNodeNode(t, pg, "node")
	waitServerCount(t, 2, g.io)
	eventually(t, "the Node server counts 2 nodes", func() bool { return n.Count() == 2 })

	ga := Dial(t, g.hs.URL, "ga", nil)
	gb := Dial(t, g.hs.URL, "gb", nil)
	na := Dial(t, n.URL, "na", nil)
	nb := Dial(t, n.URL, "nb", nil)
	all := []*Client{ga, gb, na, nb}
	ga.Join("r")
	na.Join("r")
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

	// Go to Node, values intact.
	if err := g.io.To("r").Emit("from-go", 1, "two", map[string]any{"three": []any{3.5, true, nil}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("from-go", ga, na) {
		if got := string(mustJSON(t, e.Args)); got != `[1,"two",{"three":[3.5,true,null]}]` {
			t.Errorf("from-go args %s", got)
		}
	}
	if err := g.io.Except("r").Emit("go-except"); err != nil {
		t.Fatal(err)
	}
	exactly("go-except", gb, nb)
	if err := g.io.To(nb.SID).Emit("go-private"); err != nil {
		t.Fatal(err)
	}
	exactly("go-private", nb)
	if err := g.io.Volatile().Compress(false).To("r").Emit("go-volatile"); err != nil {
		t.Fatal(err)
	}
	exactly("go-volatile", ga, na)
	if err := g.io.To("r").Emit("go-bin", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("go-bin", ga, na) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x01\x02\x03" {
			t.Errorf("go-bin attachments %q", e.Bins)
		}
	}
	big := strings.Repeat("g", 9000)
	if err := g.io.To("r").Emit("go-big", big); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("go-big", ga, na) {
		var s string
		if err := e.Arg(0, &s); err != nil || s != big {
			t.Errorf("go-big: %d bytes, %v", len(s), err)
		}
	}

	// Node to Go.
	n.Ctl("emit", map[string]any{"rooms": []string{"r"}, "event": "from-node", "args": []any{1, "two", map[string]any{"three": 3}}}, nil)
	for _, e := range exactly("from-node", ga, na) {
		if got := string(mustJSON(t, e.Args)); got != `[1,"two",{"three":3}]` {
			t.Errorf("from-node args %s", got)
		}
	}
	n.Ctl("emit", map[string]any{"except": []string{"r"}, "event": "node-except"}, nil)
	exactly("node-except", gb, nb)
	n.Ctl("emit", map[string]any{"event": "node-all"}, nil)
	exactly("node-all", all...)
	n.Ctl("emit", map[string]any{"volatile": true, "rooms": []string{gb.SID}, "event": "node-volatile"}, nil)
	exactly("node-volatile", gb)
	n.Ctl("emit", map[string]any{"rooms": []string{"r"}, "event": "node-bin", "args": []any{map[string]any{"$bin": []int{4, 5}}}}, nil)
	for _, e := range exactly("node-bin", ga, na) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x04\x05" {
			t.Errorf("node-bin attachments %q", e.Bins)
		}
	}
	bigNode := strings.Repeat("n", 9000)
	n.Ctl("emit", map[string]any{"rooms": []string{"r"}, "event": "node-big", "args": []any{bigNode}}, nil)
	for _, e := range exactly("node-big", ga, na) {
		var s string
		if err := e.Arg(0, &s); err != nil || s != bigNode {
			t.Errorf("node-big: %d bytes, %v", len(s), err)
		}
	}

	// fetchSockets across.
	sockets, err := g.io.FetchSockets(context.Background())
	if err != nil || len(sockets) != 4 {
		t.Fatalf("Go fetch: %d, %v", len(sockets), err)
	}
	for _, s := range sockets {
		data, _ := s.Data.(map[string]any)
		if s.ID == na.SID && (data["node"] != "node" || data["name"] != "na" || !slices.Contains(s.Rooms, "r")) {
			t.Errorf("na as Go sees it: %+v", s)
		}
		if s.ID == na.SID && s.Handshake.Query().Get("EIO") != "4" {
			t.Errorf("na's handshake query %v", s.Handshake.Query())
		}
	}
	var ns []nodeSocket
	n.Ctl("fetch", map[string]any{"rooms": []string{"r"}}, &ns)
	if len(ns) != 2 {
		t.Fatalf("Node fetch: %+v", ns)
	}
	for _, s := range ns {
		if s.ID == ga.SID && (s.Data["node"] != "go" || s.Data["name"] != "ga" || !slices.Contains(s.Rooms, "r") || s.Auth["name"] != "ga" || s.Query["EIO"] != "4") {
			t.Errorf("ga as Node sees it: %+v", s)
		}
	}

	// socketsJoin and socketsLeave both ways.
	n.Ctl("join", map[string]any{"rooms": []string{"r"}, "join": "y"}, nil)
	eventually(t, "r joined y", func() bool {
		s, err := g.io.In("y").FetchSockets(context.Background())
		return err == nil && len(s) == 2
	})
	if err := g.io.To("y").Emit("y"); err != nil {
		t.Fatal(err)
	}
	exactly("y", ga, na)
	n.Ctl("leave", map[string]any{"rooms": []string{ga.SID}, "leave": "y"}, nil)
	eventually(t, "ga left y", func() bool {
		s, err := g.io.In("y").FetchSockets(context.Background())
		return err == nil && len(s) == 1
	})
	if err := g.io.In(nb.SID).SocketsJoin("z"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nb in z", func() bool {
		var ns []nodeSocket
		n.Ctl("fetch", map[string]any{"rooms": []string{"z"}}, &ns)
		return len(ns) == 1
	})
	n.Ctl("emit", map[string]any{"rooms": []string{"z"}, "event": "z"}, nil)
	exactly("z", nb)
	if err := g.io.In("z").SocketsLeave("z"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nb out of z", func() bool {
		var ns []nodeSocket
		n.Ctl("fetch", map[string]any{"rooms": []string{"z"}}, &ns)
		return len(ns) == 0
	})

	// serverSideEmit both ways, with and without acks.
	if err := g.io.Of("/").ServerSideEmit(context.Background(), "hello", "plain-go"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Node got hello", func() bool { return slices.Contains(n.Received(), "hello:plain-go") })
	n.Ctl("sse", map[string]any{"event": "hello", "args": []any{"plain-node"}}, nil)
	eventually(t, "Go got hello", func() bool { return slices.Contains(g.Received(), "hello:plain-node") })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	answers, err := g.io.Of("/").ServerSideEmitWithAck(ctx, "hello", "ack-go")
	if err != nil || len(answers) != 1 {
		t.Fatalf("Go serverSideEmitWithAck: %d, %v", len(answers), err)
	}
	var who string
	if err := answers[0].Decode(&who); err != nil || who != "node" {
		t.Errorf("answer %q, %v", who, err)
	}
	var out struct {
		Answers []any
		Err     string
	}
	n.Ctl("sseAck", map[string]any{"event": "hello", "args": []any{"ack-node"}}, &out)
	if len(out.Answers) != 1 || out.Answers[0] != "go" || out.Err != "" {
		t.Errorf("Node serverSideEmitWithAck: %v, %q", out.Answers, out.Err)
	}

	// Broadcasts with acks both ways.
	for _, c := range all {
		c.SetAnswer(func(e Event) []any { return []any{c.Name} })
	}
	acks, err := g.io.To("r").Timeout(5*time.Second).EmitWithAck(context.Background(), "ask-go")
	if err != nil {
		t.Fatalf("Go emitWithAck: %v", err)
	}
	var names []string
	for _, a := range acks {
		var s string
		_ = a.Decode(&s)
		names = append(names, s)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"ga", "na"}) {
		t.Errorf("Go emitWithAck answers %v", names)
	}
	exactly("ask-go", ga, na)
	n.Ctl("emitWithAck", map[string]any{"rooms": []string{"r"}, "event": "ask-node"}, &out)
	sort.Slice(out.Answers, func(i, j int) bool { return fmt.Sprint(out.Answers[i]) < fmt.Sprint(out.Answers[j]) })
	if fmt.Sprint(out.Answers) != "[ga na]" || out.Err != "" {
		t.Errorf("Node emitWithAck answers %v, %q", out.Answers, out.Err)
	}
	exactly("ask-node", ga, na)

	// disconnectSockets both ways.
	n.Ctl("disconnect", map[string]any{"rooms": []string{gb.SID}}, nil)
	gb.ExpectDisconnect()
	if err := g.io.In(nb.SID).DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	nb.ExpectDisconnect()

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
	if err := em.ServerSideEmit(ctx, "hello", "from-go-emitter"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Node got hello", func() bool { return slices.Contains(n.Received(), "hello:from-go-emitter") })
	eventually(t, "Go got hello", func() bool { return slices.Contains(g.Received(), "hello:from-go-emitter") })
	if err := em.In("r").SocketsJoin(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r in v", func() bool {
		s, err := g.io.In("v").FetchSockets(ctx)
		return err == nil && len(s) == 2
	})
	if err := em.In("v").SocketsLeave(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nobody in v", func() bool {
		s, err := g.io.In("v").FetchSockets(ctx)
		return err == nil && len(s) == 0
	})
	if err := em.In(na.SID).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	na.ExpectDisconnect()
	n.Ctl("emitterDisconnect", map[string]any{"rooms": []string{ga.SID}}, nil)
	ga.ExpectDisconnect()
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
	var names []string
	for _, a := range answers {
		var s string
		_ = a.Decode(&s)
		names = append(names, s)
	}
	sort.Strings(names)
	if err != nil || !slices.Equal(names, []string{"node1", "node2"}) {
		t.Fatalf("Go serverSideEmitWithAck: %v, %v", names, err)
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
