package socketio

import (
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// waitNamespaceStats waits until the snapshot's namespaces are want.
func waitNamespaceStats(t *testing.T, srv *Server, want []NamespaceStats) Stats {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		st := srv.Stats()
		if reflect.DeepEqual(st.Namespaces, want) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("Namespaces:\n got  %+v\n want %+v", st.Namespaces, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestStats drives a server with WebSocket and polling clients in two
// namespaces and a dynamic one, and checks the snapshot at each step.
func TestStats(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	main := onConnections(ts.io.Of("/"))
	chat := onConnections(ts.io.Of("/chat"))
	rooms := onConnections(ts.io.OfRegexp(regexp.MustCompile(`^/room-\d+$`)))

	st := waitNamespaceStats(t, ts.io, []NamespaceStats{{Name: "/"}, {Name: "/chat"}})
	if st.Engine != (engineio.Stats{}) {
		t.Errorf("Engine before any client: %+v", st.Engine)
	}

	a, sa := ts.connectSocket("/", main)
	_, sb := ts.connectSocket("/", main)
	sa.Join("red", "blue")
	sb.Join("red")
	a.connect("/chat", nil)
	recv(t, chat)
	p := ts.dialPolling(4)
	p.post("40/chat,")
	if got := p.poll(); len(got) != 1 {
		t.Fatalf("poll: %q", got)
	}
	sp := recv(t, chat)
	sp.Join("lobby")
	p.post("40/room-7,")
	if got := p.poll(); len(got) != 1 {
		t.Fatalf("poll: %q", got)
	}
	recv(t, rooms)

	st = waitNamespaceStats(t, ts.io, []NamespaceStats{
		{Name: "/", Sockets: 2, Rooms: 2},
		{Name: "/chat", Sockets: 2, Rooms: 1},
		{Name: "/room-7", Sockets: 1},
	})
	e := st.Engine
	if e.Sessions != 3 || e.WebSocketSessions != 2 || e.PollingSessions != 1 || e.Handshakes != 3 {
		t.Errorf("Engine: %+v", e)
	}
	// Three CONNECT packets over WebSocket, two in polling payloads.
	if e.PacketsIn != 5 {
		t.Errorf("PacketsIn %d, want 5", e.PacketsIn)
	}

	// A client leaves: its rooms go with it, the other's stay.
	a.Close()
	st = waitNamespaceStats(t, ts.io, []NamespaceStats{
		{Name: "/", Sockets: 1, Rooms: 1},
		{Name: "/chat", Sockets: 1, Rooms: 1},
		{Name: "/room-7", Sockets: 1},
	})
	waitFor(t, "the session to close", func() bool { return ts.io.Stats().Engine.Closes.TransportClose == 1 })
	if e := ts.io.Stats().Engine; e.Sessions != 2 || e.WebSocketSessions != 1 {
		t.Errorf("Engine after a client left: %+v", e)
	}
}

// TestStatsManyRooms: rooms are counted once however many sockets are in
// them, and a socket's own room is never counted.
func TestStatsManyRooms(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	for i := range 3 {
		_, s := ts.connectSocket("/", conns)
		for j := range 10 {
			s.Join(fmt.Sprintf("r%d", (i+j)%12))
		}
	}
	waitNamespaceStats(t, ts.io, []NamespaceStats{{Name: "/", Sockets: 3, Rooms: 12}})
}
