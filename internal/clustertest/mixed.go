package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/internal/clusterclient"
)

// NodeSocket is a socket as the Node server's control API reports it
// (fetchSockets).
type NodeSocket struct {
	ID    string
	Rooms []string
	Data  map[string]any
	Auth  map[string]any
	Query map[string]any
}

// MixedClients are the clients of a mixed cluster: ga and gb on the Go
// node, na and nb on the Node one; ga and na are in room "r".
type MixedClients struct {
	GA, GB, NA, NB *clusterclient.Client
}

// Mixed is a Go node and a Node server on one cluster engine, as
// MixedScenario runs them.
type Mixed struct {
	Go   *GoNode
	Node *NodeServer
	// Joined, when set, is called after sockets of nodes (that many) have
	// joined room, before a broadcast to it: an adapter that subscribes
	// per room waits there for the subscriptions.
	Joined func(t *testing.T, room string, nodes int)
	// AfterFetch, when set, runs after the fetchSockets checks, with
	// every client still connected: the checks of one adapter's own.
	AfterFetch func(t *testing.T, c MixedClients)
}

// MixedScenario checks every cross-node operation both ways between a Go
// node and a Node server that count each other: broadcasts with rooms,
// exceptions, volatile, binary and large arguments; fetchSockets;
// socketsJoin and socketsLeave; serverSideEmit with and without acks;
// broadcasts with acks; disconnectSockets. It leaves gb and nb
// disconnected, ga and na connected.
func MixedScenario(t *testing.T, m Mixed) MixedClients {
	t.Helper()
	g, n := m.Go, m.Node
	joined := func(room string, nodes int) {
		if m.Joined != nil {
			m.Joined(t, room, nodes)
		}
	}
	ga := clusterclient.Dial(t, g.HS.URL, "ga", nil)
	gb := clusterclient.Dial(t, g.HS.URL, "gb", nil)
	na := clusterclient.Dial(t, n.URL, "na", nil)
	nb := clusterclient.Dial(t, n.URL, "nb", nil)
	all := []*clusterclient.Client{ga, gb, na, nb}
	ga.Join("r")
	na.Join("r")
	joined("r", 2)
	exactly := func(name string, want ...*clusterclient.Client) []clusterclient.Event {
		t.Helper()
		var got []clusterclient.Event
		for _, c := range want {
			got = append(got, c.Expect(name))
		}
		for _, c := range all {
			c.ExpectNone(Quiet / 3)
		}
		return got
	}
	argsJSON := func(e clusterclient.Event) string {
		b, err := json.Marshal(e.Args)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	c := MixedClients{GA: ga, GB: gb, NA: na, NB: nb}
	mixedBroadcasts(t, g, n, exactly, argsJSON, c)
	mixedFetch(t, g, n, ga, na)
	if m.AfterFetch != nil {
		m.AfterFetch(t, c)
	}
	mixedJoinLeave(t, g, n, exactly, joined, c)
	mixedServerSide(t, g, n)
	mixedAcks(t, g, n, exactly, all, ga, na)

	// disconnectSockets both ways.
	n.Ctl("disconnect", map[string]any{"rooms": []string{gb.SID}}, nil)
	gb.ExpectDisconnect()
	if err := g.IO.In(nb.SID).DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	nb.ExpectDisconnect()
	return c
}

// exactlyFunc checks that the clients want, and no other, get the event
// name once, and returns what they got.
type exactlyFunc func(name string, want ...*clusterclient.Client) []clusterclient.Event

// mixedBroadcasts: broadcasts from Go to Node and from Node to Go, values
// intact.
func mixedBroadcasts(t *testing.T, g *GoNode, n *NodeServer, exactly exactlyFunc, argsJSON func(clusterclient.Event) string, c MixedClients) {
	t.Helper()
	ga, gb, na, nb := c.GA, c.GB, c.NA, c.NB
	if err := g.IO.To("r").Emit("from-go", 1, "two", map[string]any{"three": []any{3.5, true, nil}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("from-go", ga, na) {
		if got := argsJSON(e); got != `[1,"two",{"three":[3.5,true,null]}]` {
			t.Errorf("from-go args %s", got)
		}
	}
	if err := g.IO.Except("r").Emit("go-except"); err != nil {
		t.Fatal(err)
	}
	exactly("go-except", gb, nb)
	if err := g.IO.To(nb.SID).Emit("go-private"); err != nil {
		t.Fatal(err)
	}
	exactly("go-private", nb)
	if err := g.IO.Volatile().Compress(false).To("r").Emit("go-volatile"); err != nil {
		t.Fatal(err)
	}
	exactly("go-volatile", ga, na)
	if err := g.IO.To("r").Emit("go-bin", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("go-bin", ga, na) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x01\x02\x03" {
			t.Errorf("go-bin attachments %q", e.Bins)
		}
	}
	// Larger than a PostgreSQL notification may carry.
	big := strings.Repeat("g", 9000)
	if err := g.IO.To("r").Emit("go-big", big); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("go-big", ga, na) {
		var s string
		if err := e.Arg(0, &s); err != nil || s != big {
			t.Errorf("go-big: %d bytes, %v", len(s), err)
		}
	}

	n.Ctl("emit", map[string]any{"rooms": []string{"r"}, "event": "from-node", "args": []any{1, "two", map[string]any{"three": 3}}}, nil)
	for _, e := range exactly("from-node", ga, na) {
		if got := argsJSON(e); got != `[1,"two",{"three":3}]` {
			t.Errorf("from-node args %s", got)
		}
	}
	n.Ctl("emit", map[string]any{"except": []string{"r"}, "event": "node-except"}, nil)
	exactly("node-except", gb, nb)
	n.Ctl("emit", map[string]any{"event": "node-all"}, nil)
	exactly("node-all", ga, gb, na, nb)
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
}

// mixedFetch: fetchSockets from each side sees the other's sockets with
// their data, rooms and handshake.
func mixedFetch(t *testing.T, g *GoNode, n *NodeServer, ga, na *clusterclient.Client) {
	t.Helper()
	sockets, err := g.IO.FetchSockets(context.Background())
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
	var ns []NodeSocket
	n.Ctl("fetch", map[string]any{"rooms": []string{"r"}}, &ns)
	if len(ns) != 2 {
		t.Fatalf("Node fetch: %+v", ns)
	}
	for _, s := range ns {
		if s.ID == ga.SID && (s.Data["node"] != "go" || s.Data["name"] != "ga" || !slices.Contains(s.Rooms, "r") || s.Auth["name"] != "ga" || s.Query["EIO"] != "4") {
			t.Errorf("ga as Node sees it: %+v", s)
		}
	}
}

// mixedJoinLeave: socketsJoin and socketsLeave both ways.
func mixedJoinLeave(t *testing.T, g *GoNode, n *NodeServer, exactly exactlyFunc, joined func(string, int), c MixedClients) {
	t.Helper()
	inRoom := func(room string) int {
		var ns []NodeSocket
		n.Ctl("fetch", map[string]any{"rooms": []string{room}}, &ns)
		return len(ns)
	}
	goInRoom := func(room string) int {
		s, err := g.IO.In(room).FetchSockets(context.Background())
		if err != nil {
			return -1
		}
		return len(s)
	}
	n.Ctl("join", map[string]any{"rooms": []string{"r"}, "join": "y"}, nil)
	Eventually(t, "r joined y", func() bool { return goInRoom("y") == 2 })
	joined("y", 2)
	if err := g.IO.To("y").Emit("y"); err != nil {
		t.Fatal(err)
	}
	exactly("y", c.GA, c.NA)
	n.Ctl("leave", map[string]any{"rooms": []string{c.GA.SID}, "leave": "y"}, nil)
	Eventually(t, "ga left y", func() bool { return goInRoom("y") == 1 })
	if err := g.IO.In(c.NB.SID).SocketsJoin("z"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "nb in z", func() bool { return inRoom("z") == 1 })
	n.Ctl("emit", map[string]any{"rooms": []string{"z"}, "event": "z"}, nil)
	exactly("z", c.NB)
	if err := g.IO.In("z").SocketsLeave("z"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "nb out of z", func() bool { return inRoom("z") == 0 })
}

// mixedServerSide: serverSideEmit both ways, with and without acks.
func mixedServerSide(t *testing.T, g *GoNode, n *NodeServer) {
	t.Helper()
	if err := g.IO.Of("/").ServerSideEmit(context.Background(), "hello", "plain-go"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "Node got hello", func() bool { return slices.Contains(n.Received(), "hello:plain-go") })
	n.Ctl("sse", map[string]any{"event": "hello", "args": []any{"plain-node"}}, nil)
	Eventually(t, "Go got hello", func() bool { return slices.Contains(g.Received(), "hello:plain-node") })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	answers, err := g.IO.Of("/").ServerSideEmitWithAck(ctx, "hello", "ack-go")
	if err != nil || len(answers) != 1 {
		t.Fatalf("Go serverSideEmitWithAck: %d, %v", len(answers), err)
	}
	var who string
	if err := answers[0].Decode(&who); err != nil || who != "node" {
		t.Errorf("answer %q, %v", who, err)
	}
	var out nodeAnswers
	n.Ctl("sseAck", map[string]any{"event": "hello", "args": []any{"ack-node"}}, &out)
	if len(out.Answers) != 1 || out.Answers[0] != "go" || out.Err != "" {
		t.Errorf("Node serverSideEmitWithAck: %v, %q", out.Answers, out.Err)
	}
}

// nodeAnswers is what the Node server's control API answers for a
// request with acknowledgements.
type nodeAnswers struct {
	Answers []any
	Err     string
}

// mixedAcks: broadcasts with acks both ways.
func mixedAcks(t *testing.T, g *GoNode, n *NodeServer, exactly exactlyFunc, all []*clusterclient.Client, ga, na *clusterclient.Client) {
	t.Helper()
	for _, c := range all {
		c.SetAnswer(func(clusterclient.Event) []any { return []any{c.Name} })
	}
	acks, err := g.IO.To("r").Timeout(5*time.Second).EmitWithAck(context.Background(), "ask-go")
	if err != nil {
		t.Fatalf("Go emitWithAck: %v", err)
	}
	if names := SortedStrings(t, acks); !slices.Equal(names, []string{"ga", "na"}) {
		t.Errorf("Go emitWithAck answers %v", names)
	}
	exactly("ask-go", ga, na)
	var out nodeAnswers
	n.Ctl("emitWithAck", map[string]any{"rooms": []string{"r"}, "event": "ask-node"}, &out)
	sort.Slice(out.Answers, func(i, j int) bool { return fmt.Sprint(out.Answers[i]) < fmt.Sprint(out.Answers[j]) })
	if fmt.Sprint(out.Answers) != "[ga na]" || out.Err != "" {
		t.Errorf("Node emitWithAck answers %v, %q", out.Answers, out.Err)
	}
	exactly("ask-node", ga, na)
}

// EmitterRequests checks the requests of a Go emitter (an adapter's
// NewEmitter) to a mixed cluster whose sockets ga and na are in room "r"
// and in no room "v": a server-side event that both servers get,
// socketsJoin and socketsLeave, then disconnectSockets of na from the
// emitter and of ga from the Node server's own emitter ("emitterDisconnect"
// of the control API). It leaves ga and na disconnected.
func EmitterRequests(t *testing.T, g *GoNode, n *NodeServer, em *cluster.Emitter, ga, na *clusterclient.Client) {
	t.Helper()
	ctx := context.Background()
	if err := em.ServerSideEmit(ctx, "hello", "from-go-emitter"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "Node got hello", func() bool { return slices.Contains(n.Received(), "hello:from-go-emitter") })
	Eventually(t, "Go got hello", func() bool { return slices.Contains(g.Received(), "hello:from-go-emitter") })
	inV := func() int {
		s, err := g.IO.In("v").FetchSockets(ctx)
		if err != nil {
			return -1
		}
		return len(s)
	}
	if err := em.In("r").SocketsJoin(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "r in v", func() bool { return inV() == 2 })
	if err := em.In("v").SocketsLeave(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "nobody in v", func() bool { return inV() == 0 })
	if err := em.In(na.SID).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	na.ExpectDisconnect()
	n.Ctl("emitterDisconnect", map[string]any{"rooms": []string{ga.SID}}, nil)
	ga.ExpectDisconnect()
}
