package socketio

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// recorder is an Observer that writes down what it sees, one line each.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// take returns the lines so far and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	return out
}

// has reports whether line was recorded.
func (r *recorder) has(line string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.lines, line)
}

func (r *recorder) observer() *Observer {
	return &Observer{
		NamespaceCreated: func(n *Namespace) { r.add("namespace %s", n.Name()) },
		ConnectionOpened: func(conn engineio.Conn) { r.add("open %s", conn.ID()) },
		ConnectionClosed: func(conn engineio.Conn, reason Reason) { r.add("close %s %s", conn.ID(), reason) },
		SocketConnected:  func(s *Socket) { r.add("connected %s %s", s.Namespace().Name(), s.ID()) },
		SocketDisconnected: func(s *Socket, reason Reason) {
			r.add("disconnected %s %s %s", s.Namespace().Name(), s.ID(), reason)
		},
		SocketDataSet: func(s *Socket) { r.add("data %s %v", s.ID(), s.Data()) },
		RoomJoined:    func(s *Socket, room string) { r.add("join %s %s", s.ID(), room) },
		RoomLeft:      func(s *Socket, room string) { r.add("leave %s %s", s.ID(), room) },
		EventReceived: func(s *Socket, event string, args Args) {
			var v []any
			for _, a := range args {
				var x any
				_ = a.Decode(&x)
				v = append(v, x)
			}
			r.add("in %s %s %v", s.ID(), event, v)
		},
		EventSent: func(s *Socket, event string, args []any) { r.add("out %s %s %v", s.ID(), event, args) },
	}
}

// An observer sees every step of a socket's life, in order, and nothing
// once removed.
func TestObserverLifecycle(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	rec := &recorder{}
	remove := ts.io.Observe(rec.observer())

	ts.io.Of("/chat")
	ts.io.Of("/chat") // exists: no second notification
	conns := onConnections(ts.io.Of("/"))
	dyn := make(chan *Socket, 1)
	ts.io.OfRegexp(regexp.MustCompile(`^/dyn-`)).OnConnection(func(s *Socket) { dyn <- s })

	c, s := ts.connectSocket("/", conns)
	sid := s.ID()
	eid := c.sid
	want := []string{
		"namespace /chat",
		"open " + eid,
		"join " + sid + " " + sid,
		"connected / " + sid,
	}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("connecting:\n got %q\nwant %q", got, want)
	}

	s.Join("a", "b", "a")
	s.Join("b")  // already in: nothing
	s.Leave("c") // not in: nothing
	s.Leave("a")
	s.SetData("x")
	if err := ts.io.To("b").SocketsJoin("d"); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.In(sid).SocketsLeave("d"); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"join " + sid + " a", "join " + sid + " b",
		"leave " + sid + " a",
		"data " + sid + " x",
		"join " + sid + " d",
		"leave " + sid + " d",
	}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("rooms:\n got %q\nwant %q", got, want)
	}

	got := make(chan string, 1)
	s.On("ping", func(n int) { got <- "handled" })
	c.emit("/", "ping", 1)
	recv(t, got)
	if err := s.Emit("pong", 2); err != nil {
		t.Fatal(err)
	}
	c.expectEvent()
	if err := ts.io.To("b").Emit("news", "hi"); err != nil {
		t.Fatal(err)
	}
	c.expectEvent()
	want = []string{
		"in " + sid + " ping [1]",
		"out " + sid + " pong [2]",
		"out " + sid + " news [hi]",
	}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}

	c.connect("/dyn-1", nil)
	d := recv(t, dyn)
	waitFor(t, "dynamic socket connected", func() bool { return rec.has("connected /dyn-1 " + d.ID()) })
	if got := rec.take(); got[0] != "namespace /dyn-1" {
		t.Fatalf("dynamic namespace: got %q first", got)
	}

	c.send("1") // the client leaves "/"
	waitFor(t, "disconnect", func() bool {
		return rec.has("disconnected / " + sid + " " + string(ReasonClientNamespaceDisconnect))
	})
	lines := rec.take()
	last := lines[len(lines)-1]
	left := sorted(lines[:len(lines)-1])
	if want := sorted([]string{"leave " + sid + " " + sid, "leave " + sid + " b"}); !slices.Equal(left, want) {
		t.Fatalf("disconnecting: rooms left %q, want %q (then %q)", left, want, last)
	}

	c.Close()
	waitFor(t, "connection closed", func() bool {
		return rec.has("close " + eid + " " + string(ReasonTransportClose))
	})
	rec.take()

	remove()
	remove() // twice is fine
	c2, s2 := ts.connectSocket("/", conns)
	s2.Join("z")
	_ = s2.Emit("e")
	c2.expectEvent()
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("after remove: %q", got)
	}
}

// A panicking observer is logged, and the server goes on, other observers
// included.
func TestObserverPanic(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	ts.io.Observe(&Observer{
		SocketConnected: func(*Socket) { panic("boom") },
		RoomJoined:      func(*Socket, string) { panic("boom") },
	})
	rec := &recorder{}
	ts.io.Observe(rec.observer())
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)
	s.Join("r")
	if err := s.Emit("hello"); err != nil {
		t.Fatal(err)
	}
	c.expectEvent()
	if !rec.has("connected / "+s.ID()) || !rec.has("join "+s.ID()+" r") {
		t.Fatalf("second observer saw %q", rec.take())
	}
}

// Joins past MaxRoomsPerSocket are refused whole: TryJoin says so, Join
// logs it, SocketsJoin skips the sockets that are full; leaving makes room.
func TestMaxRoomsPerSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	for _, observed := range []bool{false, true} {
		t.Run(fmt.Sprintf("observed=%v", observed), func(t *testing.T) {
			ts := newTestServer(t, &Options{MaxRoomsPerSocket: 3})
			defer ts.Close()
			if observed {
				ts.io.Observe(&Observer{RoomJoined: func(*Socket, string) {}})
			}
			conns := onConnections(ts.io.Of("/"))
			_, s := ts.connectSocket("/", conns) // in its own room: 1
			_, other := ts.connectSocket("/", conns)

			if err := s.TryJoin("a", "a"); err != nil { // 2
				t.Fatalf("first join: %v", err)
			}
			if err := s.TryJoin("b", "c"); !errors.Is(err, ErrTooManyRooms) { // would be 4
				t.Fatalf("join past the limit: %v, want ErrTooManyRooms", err)
			}
			if got, want := sorted(s.Rooms()), sorted([]string{s.ID(), "a"}); !slices.Equal(got, want) {
				t.Fatalf("rooms after a refused join: %q, want %q", got, want)
			}
			if err := s.TryJoin("a", "b"); err != nil { // a already: 3
				t.Fatalf("join to the limit: %v", err)
			}
			s.Join("c") // refused, logged
			if slices.Contains(s.Rooms(), "c") {
				t.Fatal("Join went past the limit")
			}
			if err := ts.io.SocketsJoin("c"); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(s.Rooms(), "c") || !slices.Contains(other.Rooms(), "c") {
				t.Fatalf("SocketsJoin: full socket in %q, other in %q", s.Rooms(), other.Rooms())
			}
			s.Leave("a")
			if err := s.TryJoin("c"); err != nil {
				t.Fatalf("join after leaving: %v", err)
			}
			// Rooms left make room however many joins came before.
			for i := range 10 {
				s.Leave("c")
				if err := s.TryJoin("c"); err != nil {
					t.Fatalf("join %d after leaving: %v", i, err)
				}
			}
		})
	}
}

// With MaxRoomsPerSocket -1, there is no limit.
func TestMaxRoomsPerSocketNone(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{MaxRoomsPerSocket: -1})
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	_, s := ts.connectSocket("/", conns)
	rooms := make([]string, DefaultMaxRoomsPerSocket+10)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("r%d", i)
	}
	if err := s.TryJoin(rooms...); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Rooms()); n != len(rooms)+1 {
		t.Fatalf("%d rooms, want %d", n, len(rooms)+1)
	}
}

// The default limit is DefaultMaxRoomsPerSocket.
func TestMaxRoomsPerSocketDefault(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	_, s := ts.connectSocket("/", conns)
	rooms := make([]string, DefaultMaxRoomsPerSocket-1) // with its own: the limit
	for i := range rooms {
		rooms[i] = "room-" + strings.Repeat("x", i%3) + fmt.Sprint(i)
	}
	if err := s.TryJoin(rooms...); err != nil {
		t.Fatalf("join to the limit: %v", err)
	}
	if err := s.TryJoin("one-more"); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("join past the default limit: %v", err)
	}
}

// BenchmarkJoinLeave measures a join and a leave of a socket in a few
// rooms: without a limit, with the default MaxRoomsPerSocket (which
// counts the socket's rooms), and watched by an observer.
func BenchmarkJoinLeave(b *testing.B) {
	for _, bc := range []struct {
		name     string
		limit    int
		observed bool
	}{{"no-limit", -1, false}, {"default-limit", 0, false}, {"observed", 0, true}} {
		b.Run(bc.name, func(b *testing.B) {
			ts := newTestServer(b, &Options{MaxRoomsPerSocket: bc.limit})
			defer ts.Close()
			if bc.observed {
				ts.io.Observe(&Observer{RoomJoined: func(*Socket, string) {}, RoomLeft: func(*Socket, string) {}})
			}
			conns := onConnections(ts.io.Of("/"))
			_, s := ts.connectSocket("/", conns)
			for i := range 8 {
				s.Join(fmt.Sprintf("r%d", i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.TryJoin("room"); err != nil {
					b.Fatal(err)
				}
				s.Leave("room")
			}
		})
	}
}
