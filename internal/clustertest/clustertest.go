// Package clustertest holds the scenarios that the tests of every
// cluster adapter (adapter/redis, adapter/postgres, adapter/nats) run
// against three Go nodes of their own: broadcasts, acknowledgements,
// FetchSockets, remote joins and disconnections, server-side events, and
// a node that leaves or stops answering. An adapter's test starts the
// nodes (Node) and hands them to Start. MixedScenario and EmitterRequests
// run a Go node beside a Node server (NodeServer) on the same engine.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/clusterclient"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio"
)

// Quiet is how long a test waits to be sure an event does not come.
const Quiet = 300 * time.Millisecond

// Heartbeat is the heartbeat interval of the test clusters' nodes.
const Heartbeat = 200 * time.Millisecond

// Node is one Go server of a test cluster. Its sockets answer "join" and
// "leave" (then ack) and carry {node, name} as data, name being the
// client's auth name; its server-side handler of "hello" records
// "hello:<arg>" and answers with the node's name.
type Node interface {
	Server() *socketio.Server
	URL() string        // of its HTTP server
	Name() string       // "n0", "n1", ...
	Received() []string // the server-side events it received
	Close()
}

// Cluster is three nodes with clients spread over them:
//
//	n0: A (room r), B
//	n1: C (room r), D (rooms r and x)
//	n2: E
type Cluster struct {
	Nodes         []Node
	A, B, C, D, E *clusterclient.Client
	// Joined, when set, is called after a scenario has sockets of nodes
	// (that many) join room through the cluster, before it broadcasts to
	// the room: an adapter that subscribes per room waits there for the
	// subscriptions.
	Joined func(t *testing.T, room string, nodes int)
}

// joined calls cl.Joined, if set.
func (cl *Cluster) joined(t *testing.T, room string, nodes int) {
	if cl.Joined != nil {
		cl.Joined(t, room, nodes)
	}
}

// Start waits until each of the three nodes counts the three, then
// connects the clients.
func Start(t *testing.T, nodes ...Node) *Cluster {
	t.Helper()
	cl := &Cluster{Nodes: nodes}
	var servers []*socketio.Server
	for _, n := range nodes {
		servers = append(servers, n.Server())
	}
	WaitServerCount(t, len(nodes), servers...)
	cl.A = clusterclient.Dial(t, nodes[0].URL(), "a", nil)
	cl.B = clusterclient.Dial(t, nodes[0].URL(), "b", nil)
	cl.C = clusterclient.Dial(t, nodes[1].URL(), "c", nil)
	cl.D = clusterclient.Dial(t, nodes[1].URL(), "d", nil)
	cl.E = clusterclient.Dial(t, nodes[2].URL(), "e", nil)
	cl.A.Join("r")
	cl.C.Join("r")
	cl.D.Join("r")
	cl.D.Join("x")
	return cl
}

// RunScenarios runs Broadcast, BroadcastWithAck, FetchSockets,
// SocketsJoinLeaveDisconnect and ServerSideEmit as subtests, each on a
// cluster of its own from start, with a goroutine leak check.
func RunScenarios(t *testing.T, start func(t *testing.T) *Cluster) {
	for _, sc := range []struct {
		name string
		run  func(*testing.T, *Cluster)
	}{
		{"Broadcast", Broadcast},
		{"BroadcastWithAck", BroadcastWithAck},
		{"FetchSockets", FetchSockets},
		{"SocketsJoinLeaveDisconnect", SocketsJoinLeaveDisconnect},
		{"ServerSideEmit", ServerSideEmit},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Cleanup(leakcheck.Check(t)) // after the cluster's cleanups
			sc.run(t, start(t))
		})
	}
}

// Clients are the cluster's five clients.
func (cl *Cluster) Clients() []*clusterclient.Client {
	return []*clusterclient.Client{cl.A, cl.B, cl.C, cl.D, cl.E}
}

// SortedStrings decodes acknowledgements whose first argument is a
// string, sorted.
func SortedStrings(t *testing.T, answers []socketio.Args) []string {
	t.Helper()
	var got []string
	for _, a := range answers {
		var s string
		if err := a.Decode(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	sort.Strings(got)
	return got
}

// Eventually polls cond until it holds or the wait times out.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clusterclient.WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitServerCount waits until every server counts n nodes.
func WaitServerCount(t testing.TB, n int, servers ...*socketio.Server) {
	t.Helper()
	for _, s := range servers {
		Eventually(t, fmt.Sprintf("server count %d", n), func() bool {
			c, err := s.Of("/").Adapter().ServerCount(context.Background())
			return err == nil && c == n
		})
	}
}

// ExpectExactly checks that the given clients get the event once and the
// others none.
func ExpectExactly(t *testing.T, cl *Cluster, name string, want ...*clusterclient.Client) {
	t.Helper()
	for _, c := range want {
		c.Expect(name)
	}
	for _, c := range cl.Clients() {
		c.ExpectNone(Quiet / 5)
	}
}

// Broadcast: to everyone from each node, rooms, except, a socket's own
// room, volatile and uncompressed, local, from a socket, binary.
func Broadcast(t *testing.T, cl *Cluster) {
	{
		n0, n1, n2 := cl.Nodes[0].Server(), cl.Nodes[1].Server(), cl.Nodes[2].Server()

		// Everyone, from each node.
		for _, n := range []*socketio.Server{n0, n1, n2} {
			if err := n.Emit("all", 1, "two", map[string]any{"three": 3}); err != nil {
				t.Fatal(err)
			}
			ExpectExactly(t, cl, "all", cl.Clients()...)
		}

		// A room, from a node without members.
		if err := n2.To("r").Emit("room", "r"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*clusterclient.Client{cl.A, cl.C, cl.D} {
			var s string
			if err := c.Expect("room").Arg(0, &s); err != nil || s != "r" {
				t.Fatalf("%s: got %q, %v", c.Name, s, err)
			}
		}
		ExpectExactly(t, cl, "room")

		// Two rooms: members of both get it once.
		if err := n0.To("r", "x").Emit("rooms"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "rooms", cl.A, cl.C, cl.D)

		// Except.
		if err := n1.To("r").Except("x").Emit("except"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "except", cl.A, cl.C)
		if err := n2.Except("r").Emit("except-all"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "except-all", cl.B, cl.E)

		// A socket's own room, on another node.
		if err := n2.To(cl.C.SID).Emit("private"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "private", cl.C)

		// Volatile and uncompressed broadcasts go everywhere too.
		if err := n0.Volatile().Compress(false).To("x").Emit("volatile"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "volatile", cl.D)

		// Local stays on its node.
		if err := n1.Local().Emit("local"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "local", cl.C, cl.D)

		// From a socket: everyone else in the room.
		if err := n1.Of("/").LocalSocket(cl.C.SID).To("r").Emit("from-c"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "from-c", cl.A, cl.D)

		// Binary arrives as binary.
		if err := n0.To("x").Emit("bin", []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		expectBinary(t, cl.D)
	}
}

// expectBinary reads a binary event: its packet, then its attachment.
func expectBinary(t *testing.T, c *clusterclient.Client) {
	t.Helper()
	e := c.Expect("bin")
	if len(e.Bins) != 1 || string(e.Bins[0]) != "\x01\x02\x03" {
		t.Fatalf("%s: attachments %q", c.Name, e.Bins)
	}
}

// BroadcastWithAck: the acknowledgements of every client, whichever
// node it is on.
func BroadcastWithAck(t *testing.T, cl *Cluster) {
	{
		for _, c := range cl.Clients() {
			c.SetAnswer(func(e clusterclient.Event) []any { return []any{"ok-" + c.Name} })
		}
		answers, err := cl.Nodes[2].Server().To("r").Timeout(5*time.Second).EmitWithAck(context.Background(), "ask", 1)
		if err != nil {
			t.Fatal(err)
		}
		got := SortedStrings(t, answers)
		if want := []string{"ok-a", "ok-c", "ok-d"}; !slices.Equal(got, want) {
			t.Fatalf("answers %v, want %v", got, want)
		}
		for _, c := range []*clusterclient.Client{cl.A, cl.C, cl.D} {
			c.Expect("ask")
		}

		// Everyone, from a node with clients.
		answers, err = cl.Nodes[0].Server().Timeout(5*time.Second).EmitWithAck(context.Background(), "ask-all")
		if err != nil {
			t.Fatal(err)
		}
		if len(answers) != 5 {
			t.Fatalf("%d answers, want 5", len(answers))
		}
	}
}

// FetchSockets: remote sockets with their data, rooms and handshake,
// with rooms selected and left out, and acting through the cluster.
func FetchSockets(t *testing.T, cl *Cluster) {
	{
		sockets, err := cl.Nodes[2].Server().In("r").FetchSockets(context.Background())
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
		for _, c := range []*clusterclient.Client{cl.A, cl.C, cl.D} {
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
		if d := byID[cl.D.SID]; !slices.Contains(d.Rooms, "x") {
			t.Errorf("d: rooms %v", d.Rooms)
		}
		if data, _ := byID[cl.C.SID].Data.(map[string]any); data["node"] != "n1" {
			t.Errorf("c: data %v", data)
		}

		all, err := cl.Nodes[0].Server().FetchSockets(context.Background())
		if err != nil || len(all) != 5 {
			t.Fatalf("all sockets: %d, %v", len(all), err)
		}
		some, err := cl.Nodes[1].Server().Except("r").FetchSockets(context.Background())
		if err != nil || len(some) != 2 {
			t.Fatalf("except r: %d, %v", len(some), err)
		}

		// A remote socket acts through the cluster.
		if err := byID[cl.A.SID].Emit("direct", "hi"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "direct", cl.A)
	}
}

// SocketsJoinLeaveDisconnect: SocketsJoin, SocketsLeave, a remote
// socket's Join, and DisconnectSockets with and without closing.
func SocketsJoinLeaveDisconnect(t *testing.T, cl *Cluster) {
	{
		n0, n1, n2 := cl.Nodes[0].Server(), cl.Nodes[1].Server(), cl.Nodes[2].Server()

		if err := n2.In("r").SocketsJoin("y"); err != nil {
			t.Fatal(err)
		}
		Eventually(t, "sockets of r in y", func() bool {
			s, err := n2.In("y").FetchSockets(context.Background())
			return err == nil && len(s) == 3
		})
		cl.joined(t, "y", 2)
		if err := n0.To("y").Emit("y"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "y", cl.A, cl.C, cl.D)

		if err := n0.In("x").SocketsLeave("y"); err != nil {
			t.Fatal(err)
		}
		Eventually(t, "d out of y", func() bool {
			s, err := n2.In("y").FetchSockets(context.Background())
			return err == nil && len(s) == 2
		})
		if err := n2.To("y").Emit("y2"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "y2", cl.A, cl.C)

		// A remote socket joins through the cluster.
		remote, err := n2.In(cl.B.SID).FetchSockets(context.Background())
		if err != nil || len(remote) != 1 {
			t.Fatalf("b: %d, %v", len(remote), err)
		}
		if err := remote[0].Join("z"); err != nil {
			t.Fatal(err)
		}
		Eventually(t, "b in z", func() bool {
			return slices.Contains(n0.Of("/").LocalSocket(cl.B.SID).Rooms(), "z")
		})
		cl.joined(t, "z", 1)
		if err := n1.To("z").Emit("z"); err != nil {
			t.Fatal(err)
		}
		ExpectExactly(t, cl, "z", cl.B)

		if err := n2.In("y").DisconnectSockets(false); err != nil {
			t.Fatal(err)
		}
		cl.A.ExpectDisconnect()
		cl.C.ExpectDisconnect()
		Eventually(t, "3 sockets left", func() bool {
			s, err := n2.FetchSockets(context.Background())
			return err == nil && len(s) == 3
		})
		if err := n0.Emit("after"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*clusterclient.Client{cl.B, cl.D, cl.E} {
			c.Expect("after")
		}
		// Closing the connection.
		if err := n0.In(cl.E.SID).DisconnectSockets(true); err != nil {
			t.Fatal(err)
		}
		select {
		case <-cl.E.Done():
		case <-time.After(clusterclient.WaitTimeout):
			t.Fatal("e: connection not closed")
		}
	}
}

// ServerSideEmit: server-side events to the other nodes, with and
// without acknowledgements.
func ServerSideEmit(t *testing.T, cl *Cluster) {
	{
		n0 := cl.Nodes[0].Server().Of("/")
		if err := n0.ServerSideEmit(context.Background(), "hello", "plain"); err != nil {
			t.Fatal(err)
		}
		for _, n := range cl.Nodes[1:] {
			Eventually(t, n.Name()+" got hello", func() bool { return slices.Contains(n.Received(), "hello:plain") })
		}
		if got := cl.Nodes[0].Received(); len(got) != 0 {
			t.Errorf("the sender got its own event: %v", got)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		answers, err := n0.ServerSideEmitWithAck(ctx, "hello", "ack")
		if err != nil {
			t.Fatal(err)
		}
		got := SortedStrings(t, answers)
		if !slices.Equal(got, []string{"n1", "n2"}) {
			t.Fatalf("answers %v", got)
		}
		// The same through the Server, for its main namespace.
		if answers, err := cl.Nodes[0].Server().ServerSideEmitWithAck(ctx, "hello", "ack"); err != nil || len(answers) != 2 {
			t.Fatalf("Server.ServerSideEmitWithAck: %d answers, %v", len(answers), err)
		}
		if n, err := cl.Nodes[1].Server().Of("/").Adapter().ServerCount(ctx); err != nil || n != 3 {
			t.Fatalf("server count %d, %v", n, err)
		}
	}
}

// NodeLeaves: a node that leaves is no longer counted, and requests do
// not wait for it; a node that does not answer makes requests fail with
// errTimeout, the adapter's. beat sends one heartbeat of such a node, of
// uid "silentsilent0000", on the namespace "/". It closes cl.Nodes[2].
func NodeLeaves(t *testing.T, cl *Cluster, errTimeout error, beat func()) {
	cl.Nodes[2].Close()
	WaitServerCount(t, 2, cl.Nodes[0].Server(), cl.Nodes[1].Server())
	sockets, err := cl.Nodes[0].Server().FetchSockets(context.Background())
	if err != nil || len(sockets) != 4 {
		t.Fatalf("fetch: %d sockets, %v", len(sockets), err)
	}

	// A node that sends heartbeats and never answers: counted, then
	// requests time out waiting for it.
	ctx := context.Background()
	stop := make(chan struct{})
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		for {
			beat()
			select {
			case <-stop:
				return
			case <-time.After(Heartbeat):
			}
		}
	}()
	defer func() { close(stop); <-beats }()
	WaitServerCount(t, 3, cl.Nodes[0].Server())
	SilentNodeTimesOut(t, cl.Nodes[0].Server(), errTimeout)

	// Once it stops its heartbeats, it no longer counts, and a fetch
	// waiting for it completes with the answers of the others, before
	// the requests timeout.
	WaitServerCount(t, 3, cl.Nodes[0].Server())
	type result struct {
		n   int
		err error
		d   time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		s, err := cl.Nodes[0].Server().FetchSockets(ctx)
		done <- result{len(s), err, time.Since(start)}
	}()
	close(stop)
	<-beats
	stop = make(chan struct{})
	beats = make(chan struct{})
	close(beats)
	select {
	case r := <-done:
		if r.err != nil || r.n != 4 {
			t.Fatalf("fetch while the silent node goes: %d sockets, %v", r.n, r.err)
		}
		if r.d >= 2*time.Second {
			t.Errorf("the fetch took %v: it waited for the requests timeout", r.d)
		}
	case <-time.After(clusterclient.WaitTimeout):
		t.Fatal("the fetch never returned")
	}
	WaitServerCount(t, 2, cl.Nodes[0].Server())
}

// SilentNodeTimesOut checks srv's requests in a cluster of srv, one node
// that answers and one counted node that never answers: a fetch fails
// after the requests timeout with errTimeout (the adapter's), saying how
// many answered, and a server-side event with an ack gets the one answer.
func SilentNodeTimesOut(t *testing.T, srv *socketio.Server, errTimeout error) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	_, err := srv.FetchSockets(ctx)
	if !errors.Is(err, errTimeout) {
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
	answers, err := srv.Of("/").ServerSideEmitWithAck(tctx, "hello", "x")
	if !errors.Is(err, socketio.ErrAckTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("serverSideEmitWithAck with a silent node: %v", err)
	}
	if len(answers) != 1 {
		t.Errorf("%d answers, want n1's", len(answers))
	}
}
