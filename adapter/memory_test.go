package adapter

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
)

// fakeNamespace is an adapter.Namespace holding fakeSockets.
type fakeNamespace struct {
	name    string
	parser  parser.JSONParser
	mu      sync.Mutex
	ids     uint64
	sockets map[string]*fakeSocket
	encodes int
	m       *Memory
}

func newFake(opts MemoryOptions) (*fakeNamespace, *Memory) {
	n := &fakeNamespace{name: "/", sockets: make(map[string]*fakeSocket)}
	n.m = NewMemory(n, opts)
	return n, n.m
}

// connect adds a local socket, in its own room and in rooms.
func (n *fakeNamespace) connect(id string, rooms ...string) *fakeSocket {
	s := &fakeSocket{id: id, nsp: n, acks: make(map[uint64]func([]parser.Value))}
	n.mu.Lock()
	n.sockets[id] = s
	n.mu.Unlock()
	n.m.AddAll(id, append([]string{id}, rooms...)...)
	return s
}

func (n *fakeNamespace) Name() string { return n.name }

func (n *fakeNamespace) Encode(p *parser.SocketPacket) ([]parser.Message, error) {
	n.mu.Lock()
	n.encodes++
	n.mu.Unlock()
	return n.parser.Encode(p)
}

func (n *fakeNamespace) NextAckID() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ids++
	return n.ids - 1
}

func (n *fakeNamespace) Socket(id string) Socket {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.sockets[id]; s != nil {
		return s
	}
	return nil
}

func (n *fakeNamespace) OnServerSideEmit(string, []parser.Value, func(...any)) {}

// fakeSocket records what it is asked to do.
type fakeSocket struct {
	id  string
	nsp *fakeNamespace

	mu           sync.Mutex
	written      []string // the first message of each packet
	msgs         [][]parser.Message
	flags        []Flags
	acks         map[uint64]func([]parser.Value)
	disconnected []bool // the close argument of each Disconnect
}

func (s *fakeSocket) ID() string { return s.id }

func (s *fakeSocket) WritePacket(p *parser.SocketPacket, msgs []parser.Message, flags Flags) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = append(s.written, string(msgs[0].Data))
	s.msgs = append(s.msgs, msgs)
	s.flags = append(s.flags, flags)
}

func (s *fakeSocket) RegisterAck(id uint64, fn func(args []parser.Value)) {
	s.mu.Lock()
	s.acks[id] = fn
	s.mu.Unlock()
}

func (s *fakeSocket) Join(rooms ...string) { s.nsp.m.AddAll(s.id, rooms...) }

func (s *fakeSocket) Leave(room string) { s.nsp.m.Del(s.id, room) }

func (s *fakeSocket) Disconnect(close bool) {
	s.mu.Lock()
	s.disconnected = append(s.disconnected, close)
	s.mu.Unlock()
}

func (s *fakeSocket) Info() SocketInfo {
	return SocketInfo{ID: s.id, Rooms: s.nsp.m.SocketRooms(s.id), Data: "data of " + s.id}
}

func (s *fakeSocket) takeWritten() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.written
	s.written = nil
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func event(name string, args ...any) *parser.SocketPacket {
	return &parser.SocketPacket{Type: parser.SocketPacketEvent, Data: append([]any{name}, args...)}
}

func TestMemoryRooms(t *testing.T) {
	_, m := newFake(MemoryOptions{})
	m.AddAll("s1", "s1", "a", "b")
	m.AddAll("s2", "s2", "b")
	m.AddAll("s1", "b", "c") // again: no duplicates

	if got, want := sorted(m.SocketRooms("s1")), []string{"a", "b", "c", "s1"}; !slices.Equal(got, want) {
		t.Fatalf("SocketRooms(s1) = %q, want %q", got, want)
	}
	if got, want := sorted(m.Rooms()), []string{"a", "b", "c", "s1", "s2"}; !slices.Equal(got, want) {
		t.Fatalf("Rooms = %q, want %q", got, want)
	}

	m.Del("s1", "a")
	m.Del("s1", "nope")
	m.Del("unknown", "b")
	if got, want := sorted(m.SocketRooms("s1")), []string{"b", "c", "s1"}; !slices.Equal(got, want) {
		t.Fatalf("after Del: SocketRooms(s1) = %q, want %q", got, want)
	}
	if slices.Contains(m.Rooms(), "a") {
		t.Fatal("an empty room is still listed")
	}
	if got, want := sorted(m.Sockets(&BroadcastOptions{Rooms: []string{"b"}})), []string{"s1", "s2"}; !slices.Equal(got, want) {
		t.Fatalf("members of b %q, want %q", got, want)
	}

	m.DelAll("s1")
	m.DelAll("unknown")
	if got := m.SocketRooms("s1"); len(got) != 0 {
		t.Fatalf("after DelAll: SocketRooms(s1) = %q", got)
	}
	if got, want := sorted(m.Rooms()), []string{"b", "s2"}; !slices.Equal(got, want) {
		t.Fatalf("after DelAll: Rooms = %q, want %q", got, want)
	}
	m.DelAll("s2")
	if len(m.Rooms()) != 0 || len(m.rooms) != 0 || len(m.sids) != 0 {
		t.Fatalf("state left after every socket left: rooms %v sids %v", m.rooms, m.sids)
	}
}

func TestMemorySelect(t *testing.T) {
	_, m := newFake(MemoryOptions{})
	m.AddAll("s1", "s1", "a", "b")
	m.AddAll("s2", "s2", "b")
	m.AddAll("s3", "s3", "c")
	tests := []struct {
		name string
		opts *BroadcastOptions
		want []string
	}{
		{"nil options", nil, []string{"s1", "s2", "s3"}},
		{"no rooms", &BroadcastOptions{}, []string{"s1", "s2", "s3"}},
		{"one room", &BroadcastOptions{Rooms: []string{"b"}}, []string{"s1", "s2"}},
		{"two rooms, no duplicates", &BroadcastOptions{Rooms: []string{"a", "b"}}, []string{"s1", "s2"}},
		{"rooms of both kinds", &BroadcastOptions{Rooms: []string{"s3", "a"}}, []string{"s1", "s3"}},
		{"unknown room", &BroadcastOptions{Rooms: []string{"x"}}, nil},
		{"except", &BroadcastOptions{Except: []string{"b"}}, []string{"s3"}},
		{"except a socket", &BroadcastOptions{Except: []string{"s2"}}, []string{"s1", "s3"}},
		{"rooms and except", &BroadcastOptions{Rooms: []string{"b", "c"}, Except: []string{"a"}}, []string{"s2", "s3"}},
		{"one room and except", &BroadcastOptions{Rooms: []string{"b"}, Except: []string{"s1"}}, []string{"s2"}},
		{"except everyone", &BroadcastOptions{Except: []string{"b", "c"}}, nil},
		{"except unknown", &BroadcastOptions{Except: []string{"x"}}, []string{"s1", "s2", "s3"}},
	}
	for _, tt := range tests {
		if got := sorted(m.Sockets(tt.opts)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Sockets = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMemoryBroadcast(t *testing.T) {
	n, m := newFake(MemoryOptions{})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2", "r")
	s3 := n.connect("s3")
	m.AddAll("remote", "remote", "r") // a member that is not a local socket

	opts := &BroadcastOptions{Rooms: []string{"r"}, Flags: Flags{Volatile: true}}
	if err := m.Broadcast(event("ev", 1, []byte{2}), opts); err != nil {
		t.Fatal(err)
	}
	if n.encodes != 1 {
		t.Fatalf("encoded %d times, want once", n.encodes)
	}
	want := []string{`51-["ev",1,{"_placeholder":true,"num":0}]`}
	for _, s := range []*fakeSocket{s1, s2} {
		if got := s.takeWritten(); !slices.Equal(got, want) {
			t.Fatalf("%s got %q, want %q", s.id, got, want)
		}
		if s.flags[0] != opts.Flags {
			t.Fatalf("%s flags %+v", s.id, s.flags[0])
		}
	}
	if &s1.msgs[0][0] != &s2.msgs[0][0] {
		t.Fatal("recipients got different encodings of one broadcast")
	}
	if got := s3.takeWritten(); len(got) != 0 {
		t.Fatalf("s3 got %q", got)
	}

	if err := m.Broadcast(event("all"), nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*fakeSocket{s1, s2, s3} {
		if got := s.takeWritten(); !slices.Equal(got, []string{`2["all"]`}) {
			t.Fatalf("%s got %q", s.id, got)
		}
	}

	if err := m.Broadcast(event("bad", make(chan int)), nil); err == nil {
		t.Fatal("a packet that cannot be encoded was broadcast")
	}
}

func TestMemoryBroadcastWithAck(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2", "r")
	n.connect("s3")
	n.NextAckID() // ids go on from the namespace's counter

	var counts []int
	var answers []string
	p := event("q")
	err := m.BroadcastWithAck(p, &BroadcastOptions{Rooms: []string{"r"}}, func(c int) { counts = append(counts, c) }, func(a []parser.Value) {
		var s string
		_ = a[0].Decode(&s)
		answers = append(answers, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasID || p.ID != 1 {
		t.Fatalf("packet id %d (%v), want 1", p.ID, p.HasID)
	}
	if !slices.Equal(counts, []int{2}) {
		t.Fatalf("counts %v, want [2]", counts)
	}
	for _, s := range []*fakeSocket{s1, s2} {
		// No offset: packets with an acknowledgement are not kept.
		if got := s.takeWritten(); !slices.Equal(got, []string{`21["q"]`}) {
			t.Fatalf("%s got %q", s.id, got)
		}
		fn := s.acks[1]
		if fn == nil {
			t.Fatalf("%s has no ack registered", s.id)
		}
		dec := (&parser.JSONParser{}).NewDecoder()
		ack, err := dec.Add([]byte(`31["from `+s.id+`"]`), false)
		if err != nil {
			t.Fatal(err)
		}
		fn(ack.Args)
	}
	if got := sorted(answers); !slices.Equal(got, []string{"from s1", "from s2"}) {
		t.Fatalf("answers %q", got)
	}
	if len(m.packets) != 0 {
		t.Fatalf("%d packets kept for recovery", len(m.packets))
	}
}

func TestMemorySocketOperations(t *testing.T) {
	n, m := newFake(MemoryOptions{})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2", "r")
	s3 := n.connect("s3")
	m.AddAll("remote", "remote", "r")

	infos, err := m.FetchSockets(context.Background(), &BroadcastOptions{Rooms: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range infos {
		ids = append(ids, i.ID)
		if i.Data != "data of "+i.ID || !slices.Contains(i.Rooms, "r") {
			t.Fatalf("info %+v", i)
		}
	}
	if got := sorted(ids); !slices.Equal(got, []string{"s1", "s2"}) {
		t.Fatalf("FetchSockets %q", got)
	}

	if err := m.AddSockets(&BroadcastOptions{Except: []string{"r"}}, []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	if got := sorted(m.SocketRooms("s3")); !slices.Equal(got, []string{"s3", "x", "y"}) {
		t.Fatalf("after AddSockets: %q", got)
	}
	if err := m.DelSockets(&BroadcastOptions{Rooms: []string{"s3"}}, []string{"x", "nope"}); err != nil {
		t.Fatal(err)
	}
	if got := sorted(m.SocketRooms("s3")); !slices.Equal(got, []string{"s3", "y"}) {
		t.Fatalf("after DelSockets: %q", got)
	}

	if err := m.DisconnectSockets(&BroadcastOptions{Rooms: []string{"r"}, Except: []string{"s2"}}, true); err != nil {
		t.Fatal(err)
	}
	if err := m.DisconnectSockets(&BroadcastOptions{Rooms: []string{"s2"}}, false); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s1.disconnected, []bool{true}) || !slices.Equal(s2.disconnected, []bool{false}) || len(s3.disconnected) != 0 {
		t.Fatalf("disconnections s1 %v s2 %v s3 %v", s1.disconnected, s2.disconnected, s3.disconnected)
	}

	if c, err := m.ServerCount(context.Background()); c != 1 || err != nil {
		t.Fatalf("ServerCount = %d, %v", c, err)
	}
	if c, err := m.ServerSideEmit(context.Background(), "ev", nil, func([]parser.Value) { t.Error("answer from nowhere") }); c != 0 || err != nil {
		t.Fatalf("ServerSideEmit = %d, %v", c, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryFactory(t *testing.T) {
	n := &fakeNamespace{name: "/x", sockets: make(map[string]*fakeSocket)}
	a := MemoryFactory(MemoryOptions{RecoveryWindow: time.Second})(n)
	m, ok := a.(*Memory)
	if !ok || m.nsp != n || m.window != time.Second {
		t.Fatalf("factory made %#v", a)
	}
	if b := MemoryFactory(MemoryOptions{})(n).(*Memory); b.prefix == m.prefix {
		t.Fatal("two adapters share an offset prefix")
	}
}

func TestMemoryWithoutRecovery(t *testing.T) {
	n, m := newFake(MemoryOptions{})
	s := n.connect("s1")
	p := event("ev", 1)
	if err := m.Broadcast(p, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.takeWritten(); !slices.Equal(got, []string{`2["ev",1]`}) {
		t.Fatalf("got %q, want no offset", got)
	}
	m.PersistSession(&Session{SID: "s1", PID: "p1"})
	if _, err := m.RestoreSession("p1", ""); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("RestoreSession = %v, want ErrSessionNotFound", err)
	}
	m.DelAll("s1")
	if len(m.packets) != 0 || len(m.sessions) != 0 || len(m.joinedAt) != 0 {
		t.Fatalf("recovery state kept without a window: %d packets, %d sessions, %d joins", len(m.packets), len(m.sessions), len(m.joinedAt))
	}
}

// offsetOf returns the offset appended to a packet written as text.
func offsetOf(t *testing.T, written string) string {
	t.Helper()
	i := strings.LastIndex(written, `,"`)
	if i < 0 || !strings.HasSuffix(written, `"]`) {
		t.Fatalf("no offset in %q", written)
	}
	return written[i+2 : len(written)-2]
}

func TestMemoryOffsets(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2")

	if err := m.Broadcast(event("a", 1), nil); err != nil {
		t.Fatal(err)
	}
	w1, w2 := s1.takeWritten(), s2.takeWritten()
	want := fmt.Sprintf(`2["a",1,"%s-1"]`, m.prefix)
	if len(w1) != 1 || w1[0] != want || !slices.Equal(w1, w2) {
		t.Fatalf("got %q and %q, want %q for both", w1, w2, want)
	}
	if err := m.Broadcast(event("b"), &BroadcastOptions{Rooms: []string{"r"}}); err != nil {
		t.Fatal(err)
	}
	if got := offsetOf(t, s1.takeWritten()[0]); got != m.prefix+"-2" {
		t.Fatalf("second offset %q", got)
	}
	// Volatile packets and packets other than events are not kept.
	if err := m.Broadcast(event("v"), &BroadcastOptions{Flags: Flags{Volatile: true}}); err != nil {
		t.Fatal(err)
	}
	if got := s1.takeWritten(); !slices.Equal(got, []string{`2["v"]`}) {
		t.Fatalf("volatile: %q", got)
	}
	if err := m.Broadcast(&parser.SocketPacket{Type: parser.SocketPacketDisconnect}, &BroadcastOptions{Rooms: []string{"s1"}}); err != nil {
		t.Fatal(err)
	}
	if got := s1.takeWritten(); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("disconnect: %q", got)
	}
	if len(m.packets) != 2 || m.seq != 2 {
		t.Fatalf("%d packets kept, seq %d; want 2", len(m.packets), m.seq)
	}
	// The caller's arguments are not changed.
	args := []any{"c", 1}
	p := &parser.SocketPacket{Type: parser.SocketPacketEvent, Data: args[:2:2]}
	if err := m.Broadcast(p, nil); err != nil {
		t.Fatal(err)
	}
	if len(args) != 2 {
		t.Fatalf("the caller's slice changed: %v", args)
	}
}

func TestMemoryRestoreSession(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	s1 := n.connect("s1", "r")
	n.connect("s2")

	mustBroadcast := func(p *parser.SocketPacket, opts *BroadcastOptions) {
		t.Helper()
		if err := m.Broadcast(p, opts); err != nil {
			t.Fatal(err)
		}
	}
	mustBroadcast(event("before"), nil)
	last := offsetOf(t, s1.takeWritten()[0])

	// s1 disconnects: its state is kept.
	m.PersistSession(&Session{SID: "s1", PID: "p1", Rooms: m.SocketRooms("s1"), Data: "d"})
	m.DelAll("s1")
	n.mu.Lock()
	delete(n.sockets, "s1")
	n.mu.Unlock()

	mustBroadcast(event("to all", 1), nil)
	mustBroadcast(event("to r"), &BroadcastOptions{Rooms: []string{"r"}})
	mustBroadcast(event("to s1"), &BroadcastOptions{Rooms: []string{"s1"}})
	mustBroadcast(event("to s2"), &BroadcastOptions{Rooms: []string{"s2"}})
	mustBroadcast(event("except r"), &BroadcastOptions{Except: []string{"r"}})
	mustBroadcast(event("r except s1"), &BroadcastOptions{Rooms: []string{"r"}, Except: []string{"s1"}})
	mustBroadcast(event("other room"), &BroadcastOptions{Rooms: []string{"x"}})
	mustBroadcast(event("volatile"), &BroadcastOptions{Flags: Flags{Volatile: true}})

	if _, err := m.RestoreSession("unknown", last); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("unknown pid: %v", err)
	}
	sess, err := m.RestoreSession("p1", last)
	if err != nil {
		t.Fatal(err)
	}
	if sess.SID != "s1" || sess.PID != "p1" || sess.Data != "d" || !slices.Equal(sorted(sess.Rooms), []string{"r", "s1"}) {
		t.Fatalf("session %+v", sess)
	}
	var names []string
	for _, data := range sess.MissedPackets {
		names = append(names, data[0].(string))
		if off, _ := data[len(data)-1].(string); !strings.HasPrefix(off, m.prefix+"-") {
			t.Fatalf("missed packet %v lacks its offset", data)
		}
	}
	if want := []string{"to all", "to r", "to s1"}; !slices.Equal(names, want) {
		t.Fatalf("missed %q, want %q", names, want)
	}
	// A session is handed out once.
	if _, err := m.RestoreSession("p1", last); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("second restore: %v", err)
	}
}

func TestMemoryRestoreSessionOffsets(t *testing.T) {
	setup := func() (*fakeNamespace, *Memory, string) {
		n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
		n.connect("s0")
		if err := m.Broadcast(event("before join"), nil); err != nil {
			t.Fatal(err)
		}
		s1 := n.connect("s1")
		if err := m.Broadcast(event("first"), nil); err != nil {
			t.Fatal(err)
		}
		first := offsetOf(t, s1.takeWritten()[0])
		if err := m.Broadcast(event("second"), nil); err != nil {
			t.Fatal(err)
		}
		m.PersistSession(&Session{SID: "s1", PID: "p1", Rooms: m.SocketRooms("s1")})
		m.DelAll("s1")
		return n, m, first
	}
	missed := func(s *Session) []string {
		var out []string
		for _, d := range s.MissedPackets {
			out = append(out, d[0].(string))
		}
		return out
	}
	tests := []struct {
		name   string
		offset func(m *Memory, first string) string
		want   []string // nil: not found
	}{
		{"last offset", func(m *Memory, first string) string { return first }, []string{"second"}},
		{"up to date", func(m *Memory, first string) string { return m.prefix + "-3" }, []string{}},
		{"no offset: since it joined", func(*Memory, string) string { return "" }, []string{"first", "second"}},
		{"another adapter's offset", func(m *Memory, first string) string { return "000000000000-2" }, nil},
		{"from the future", func(m *Memory, first string) string { return m.prefix + "-4" }, nil},
		{"no dash", func(m *Memory, first string) string { return m.prefix }, nil},
		{"not a number", func(m *Memory, first string) string { return m.prefix + "-x" }, nil},
	}
	for _, tt := range tests {
		_, m, first := setup()
		s, err := m.RestoreSession("p1", tt.offset(m, first))
		if tt.want == nil {
			if !errors.Is(err, ErrSessionNotFound) {
				t.Errorf("%s: %+v, %v; want ErrSessionNotFound", tt.name, s, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := missed(s); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("%s: missed %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMemoryRecoveryExpiry(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	s1 := n.connect("s1")
	n.connect("s2")
	if err := m.Broadcast(event("old"), nil); err != nil {
		t.Fatal(err)
	}
	old := offsetOf(t, s1.takeWritten()[0])
	m.PersistSession(&Session{SID: "s1", PID: "expired", Rooms: []string{"s1"}})
	m.PersistSession(&Session{SID: "s9", PID: "fresh", Rooms: []string{"s9"}})
	m.DelAll("s1")

	// Age the first packet and the first session past the window.
	m.mu.Lock()
	m.packets[0].at = time.Now().Add(-2 * time.Minute)
	st := m.sessions["expired"]
	st.at = time.Now().Add(-2 * time.Minute)
	m.sessions["expired"] = st
	m.mu.Unlock()

	if _, err := m.RestoreSession("expired", old); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	// The next broadcast prunes what is past the window.
	if err := m.Broadcast(event("new"), nil); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	packets, sessions := len(m.packets), len(m.sessions)
	m.mu.Unlock()
	if packets != 1 || sessions != 1 {
		t.Fatalf("%d packets and %d sessions kept, want 1 and 1", packets, sessions)
	}
	// A client whose offset points before what was pruned cannot be
	// recovered: it would miss packets.
	m.PersistSession(&Session{SID: "s2", PID: "p2", Rooms: []string{"s2"}})
	if _, err := m.RestoreSession("p2", m.prefix+"-0"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("restore across pruned packets: %v", err)
	}
	if s, err := m.RestoreSession("fresh", old); err != nil || s.SID != "s9" {
		t.Fatalf("fresh session: %+v, %v", s, err)
	}
}

func TestMemoryRecoveryStateReleased(t *testing.T) {
	// Sockets that leave for good leave no recovery state behind.
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	for i := 0; i < 10; i++ {
		id := fmt.Sprint("s", i)
		n.connect(id, "r")
		m.DelAll(id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.joinedAt) != 0 || len(m.sids) != 0 || len(m.rooms) != 0 {
		t.Fatalf("state left: %d joins, %d sockets, %d rooms", len(m.joinedAt), len(m.sids), len(m.rooms))
	}
}

func TestMemoryConcurrentUse(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("s", i)
			n.connect(id, "r")
			for j := 0; j < 50; j++ {
				_ = m.Broadcast(event("ev", j), &BroadcastOptions{Rooms: []string{"r"}})
				m.AddAll(id, "x")
				m.Del(id, "x")
				_ = m.Sockets(nil)
				_, _ = m.FetchSockets(context.Background(), nil)
			}
			m.PersistSession(&Session{SID: id, PID: "p" + id, Rooms: m.SocketRooms(id)})
			m.DelAll(id)
		}()
	}
	wg.Wait()
	if got := m.Rooms(); len(got) != 0 {
		t.Fatalf("rooms left %q", got)
	}
	if s, err := m.RestoreSession("ps3", ""); err != nil || s.SID != "s3" {
		t.Fatalf("restore after concurrent use: %+v, %v", s, err)
	}
	if !reflect.DeepEqual(m.SocketRooms("nobody"), []string{}) {
		t.Fatal("SocketRooms of an unknown socket is not empty")
	}
}
