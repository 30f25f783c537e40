package socketio

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// roomServer is a server whose dynamic namespaces /ns-<n> let clients
// join the rooms they name, as a chat's "join" handler does: the "join"
// event's acknowledgement says whether the join was let through.
func roomServer(t *testing.T, opts *Options) (*testServer, chan *Socket) {
	ts := newTestServer(t, opts)
	sockets := make(chan *Socket, 1024)
	ts.io.OfRegexp(regexp.MustCompile(`^/ns-\d+$`)).OnConnection(func(s *Socket) {
		s.On("join", func(rooms []string, ack Ack) {
			ack(s.TryJoin(rooms...) == nil)
		})
		sockets <- s
	})
	return ts, sockets
}

// join asks the server to put the client's socket of nsp in rooms and
// reports whether it did.
func (c *testClient) joinRooms(nsp string, id int, rooms []string) bool {
	c.t.Helper()
	c.emitWithAck(nsp, id, "join", rooms)
	got := c.expectText()
	switch want := fmt.Sprintf("3%s%d", nsPrefix(nsp), id); got {
	case want + "[true]":
		return true
	case want + "[false]":
		return false
	}
	c.t.Fatalf("join in %s: got %q", nsp, got)
	return false
}

func roomNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// One connection cannot hold more namespaces than
// MaxNamespacesPerConnection, nor more rooms across all of them than
// MaxRoomsPerConnection, with the default limits; another connection is
// not affected.
func TestRoomsAcrossNamespacesBounded(t *testing.T) {
	defer leakcheck.Check(t)()
	ts, sockets := roomServer(t, nil)
	defer ts.Close()
	before := heapInUse()

	attacker := ts.dial()
	for i := range DefaultMaxNamespacesPerConnection {
		attacker.connect(fmt.Sprintf("/ns-%d", i), nil)
	}
	for i := DefaultMaxNamespacesPerConnection; i < DefaultMaxNamespacesPerConnection+5; i++ {
		nsp := fmt.Sprintf("/ns-%d", i)
		attacker.sendConnect(nsp, nil)
		attacker.expect(`4` + nsp + `,{"message":"Too many namespaces"}`)
	}
	held := make([]*Socket, 0, DefaultMaxNamespacesPerConnection)
	for range DefaultMaxNamespacesPerConnection {
		held = append(held, recv(t, sockets))
	}

	// 500 rooms asked for in each namespace: 50,000 in all.
	const batch = 500
	granted := 0
	for i := range DefaultMaxNamespacesPerConnection {
		nsp := fmt.Sprintf("/ns-%d", i)
		if attacker.joinRooms(nsp, 1, roomNames(nsp, batch)) {
			granted++
		}
	}
	total := 0
	for _, s := range held {
		total += len(s.Rooms())
	}
	// Each socket's own room counts: 100 of the 4,000.
	wantGranted := (DefaultMaxRoomsPerConnection - DefaultMaxNamespacesPerConnection) / batch
	if granted != wantGranted || total != DefaultMaxNamespacesPerConnection+wantGranted*batch {
		t.Errorf("%d joins of %d rooms granted, %d rooms held; want %d joins, %d rooms", granted, batch, total, wantGranted, DefaultMaxNamespacesPerConnection+wantGranted*batch)
	}
	// Leaving makes room again, within the same connection.
	leaver := held[0]
	for _, r := range leaver.Rooms() {
		if r != leaver.ID() {
			leaver.Leave(r)
		}
	}
	if !attacker.joinRooms(held[0].Namespace().Name(), 2, roomNames("again", batch)) {
		t.Error("a join after leaving as many rooms was refused")
	}
	t.Logf("one connection asking for %d namespaces and %d rooms holds %d namespaces, %d rooms, %d KiB of heap",
		DefaultMaxNamespacesPerConnection+5, DefaultMaxNamespacesPerConnection*batch, len(held), total, (int64(heapInUse())-int64(before))>>10)

	// Another connection joins namespaces and rooms as it likes.
	other := ts.dial()
	other.connect("/ns-7", nil)
	other.connect("/ns-500", nil)
	if !other.joinRooms("/ns-7", 1, roomNames("b", 900)) || !other.joinRooms("/ns-500", 1, roomNames("b", 900)) {
		t.Error("a bystander's join was refused")
	}
	recv(t, sockets)
	recv(t, sockets)

	// Once the attacker goes, its rooms go with it.
	_ = attacker.Close()
	waitFor(t, "the attacker's sockets gone", func() bool {
		for _, s := range held {
			if s.Connected() {
				return false
			}
		}
		return true
	})
}

// Dynamic namespaces that connections created and left do not use up
// MaxDynamicNamespaces: a client that comes after any number of them
// still gets a new one.
func TestDynamicNamespacesNotUsedUp(t *testing.T) {
	defer leakcheck.Check(t)()
	const most = 300
	ts, sockets := roomServer(t, &Options{MaxDynamicNamespaces: most})
	defer ts.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for { // nobody looks at them here
			select {
			case <-sockets:
			case <-stop:
				return
			}
		}
	}()

	// Connections come one after the other, each creating 100 namespaces,
	// then go: 1,000 namespaces in all, over a limit of 300.
	next := 0
	for range 10 {
		c := ts.dial()
		for range DefaultMaxNamespacesPerConnection {
			c.connect(fmt.Sprintf("/ns-%d", next), nil)
			next++
		}
		_ = c.Close()
	}
	waitFor(t, "every socket gone", func() bool {
		for _, n := range ts.io.Namespaces() {
			if n.SocketCount() > 0 {
				return false
			}
		}
		return true
	})
	c := ts.dial()
	c.connect("/ns-5000", nil)
	if n := len(ts.io.Namespaces()); n > most+1 {
		t.Errorf("%d namespaces kept, want at most %d and the main one", n, most)
	}

	// Namespaces with sockets count: three connections holding 100 each
	// use the limit up, and a fourth is refused a new one (but not an
	// existing one).
	for i := range 3 {
		h := ts.dial()
		for j := range DefaultMaxNamespacesPerConnection {
			if i == 0 && j == 0 {
				continue // /ns-5000, held by c, is one of the 300
			}
			h.connect(fmt.Sprintf("/ns-9%d%03d", i, j), nil)
		}
	}
	late := ts.dial()
	late.sendConnect("/ns-6000", nil)
	if got := late.expectText(); !strings.HasPrefix(got, `4/ns-6000,{"message":"Invalid namespace"}`) {
		t.Errorf("a new namespace past the limit: %q", got)
	}
	late.connect("/ns-91005", nil)
}

// TestOfChildNotReclaimed: a dynamic namespace the application made with
// Of (a child of an OfRegexp parent) is not reclaimed when clients' empty
// ones are, at MaxDynamicNamespaces: its handlers stay.
func TestOfChildNotReclaimed(t *testing.T) {
	defer leakcheck.Check(t)()
	const most = 5
	ts, _ := roomServer(t, &Options{MaxDynamicNamespaces: most})
	defer ts.Close()
	own := ts.io.Of("/ns-999999")
	if own.parent == nil {
		t.Fatal("Of made no child of the OfRegexp parent")
	}
	joined := onConnections(own)
	for i := range 3 * most {
		c := ts.dial()
		c.connect(fmt.Sprintf("/ns-%d", i), nil)
		_ = c.Close()
	}
	if ts.io.Of("/ns-999999") != own {
		t.Fatal("the namespace Of made was reclaimed")
	}
	c := ts.dial()
	c.connect("/ns-999999", nil)
	if s := recv(t, joined); s.Namespace() != own {
		t.Fatalf("joined %q", s.Namespace().Name())
	}
}
