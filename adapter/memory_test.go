package adapter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
)

// fakeNamespace is an adapter.Namespace holding fakeSockets. It acts as
// package socketio's does (Deliver encodes once and writes to those of the
// ids it holds, skipping the others) and records every call, so tests can
// check which ids each operation selected.
type fakeNamespace struct {
	name   string
	parser parser.JSONParser
	m      *Memory

	mu      sync.Mutex
	ackIDs  uint64
	sockets map[string]*fakeSocket
	calls   []call
	err     error           // when set, Deliver and DeliverWithAck fail with it
	owing   map[string]bool // sockets DeliverWithAck leaves out, as if owing too many answers
	count   int             // when above zero, DeliverWithAck reports it instead of the sockets reached
}

// call is one call the adapter made to its namespace.
type call struct {
	op    string   // the method's name
	ids   []string // a sorted copy of the ids handed over
	rooms []string
	flags Flags
	close bool
	ctx   context.Context
}

func newFake(opts MemoryOptions) (*fakeNamespace, *Memory) {
	n := &fakeNamespace{name: "/", sockets: make(map[string]*fakeSocket), owing: make(map[string]bool)}
	n.m = NewMemory(n, opts)
	return n, n.m
}

// connect adds a local socket, in its own room and in rooms.
func (n *fakeNamespace) connect(id string, rooms ...string) *fakeSocket {
	s := &fakeSocket{id: id, acks: make(map[uint64]func([]parser.Value))}
	n.mu.Lock()
	n.sockets[id] = s
	n.mu.Unlock()
	n.m.AddAll(id, append([]string{id}, rooms...)...)
	return s
}

// record keeps c, with a sorted copy of ids: the adapter may reuse its
// list once the call returned.
func (n *fakeNamespace) record(c call, ids []string) {
	c.ids = sorted(ids)
	n.mu.Lock()
	n.calls = append(n.calls, c)
	n.mu.Unlock()
}

// takeCalls returns the calls recorded since the last time, and forgets
// them.
func (n *fakeNamespace) takeCalls() []call {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.calls
	n.calls = nil
	return out
}

// local returns the sockets of ids it holds, skipping the others.
func (n *fakeNamespace) local(ids []string) []*fakeSocket {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*fakeSocket
	for _, id := range ids {
		if s := n.sockets[id]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (n *fakeNamespace) failure() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

func (n *fakeNamespace) Name() string { return n.name }

func (n *fakeNamespace) Deliver(ids []string, p *parser.SocketPacket, flags Flags) error {
	n.record(call{op: "Deliver", flags: flags}, ids)
	if err := n.failure(); err != nil {
		return err
	}
	msgs, err := n.parser.Encode(p)
	if err != nil {
		return err
	}
	for _, s := range n.local(ids) {
		s.write(msgs, flags)
	}
	return nil
}

func (n *fakeNamespace) DeliverWithAck(ctx context.Context, ids []string, p *parser.SocketPacket, flags Flags, onAck func([]parser.Value)) (int, error) {
	n.record(call{op: "DeliverWithAck", flags: flags, ctx: ctx}, ids)
	if err := n.failure(); err != nil {
		return 0, err
	}
	n.mu.Lock()
	p.ID, p.HasID = n.ackIDs, true
	n.ackIDs++
	owing, count := maps.Clone(n.owing), n.count
	n.mu.Unlock()
	msgs, err := n.parser.Encode(p)
	if err != nil {
		return 0, err
	}
	reached := 0
	for _, s := range n.local(ids) {
		if owing[s.id] {
			continue
		}
		s.registerAck(p.ID, onAck)
		s.write(msgs, flags)
		reached++
	}
	if count > 0 {
		return count, nil
	}
	return reached, nil
}

// Join makes the sockets join as socketio's do: through the adapter.
func (n *fakeNamespace) Join(ids, rooms []string) {
	n.record(call{op: "Join", rooms: slices.Clone(rooms)}, ids)
	for _, s := range n.local(ids) {
		n.m.AddAll(s.id, rooms...)
	}
}

func (n *fakeNamespace) Leave(ids, rooms []string) {
	n.record(call{op: "Leave", rooms: slices.Clone(rooms)}, ids)
	for _, s := range n.local(ids) {
		for _, r := range rooms {
			n.m.Del(s.id, r)
		}
	}
}

func (n *fakeNamespace) Disconnect(ids []string, close bool) {
	n.record(call{op: "Disconnect", close: close}, ids)
	for _, s := range n.local(ids) {
		s.mu.Lock()
		s.disconnected = append(s.disconnected, close)
		s.mu.Unlock()
	}
}

func (n *fakeNamespace) Describe(ids []string) []SocketInfo {
	n.record(call{op: "Describe"}, ids)
	var out []SocketInfo
	for _, s := range n.local(ids) {
		out = append(out, SocketInfo{ID: s.id, Rooms: n.m.SocketRooms(s.id), Data: "data of " + s.id})
	}
	return out
}

func (n *fakeNamespace) Connected(id string) bool {
	n.record(call{op: "Connected"}, []string{id})
	return len(n.local([]string{id})) == 1
}

func (n *fakeNamespace) OnServerSideEmit(event string, _ []parser.Value, _ func(...any)) {
	n.record(call{op: "OnServerSideEmit", rooms: []string{event}}, nil)
}

// fakeSocket records what its namespace does to it.
type fakeSocket struct {
	id string

	mu           sync.Mutex
	written      []string // the first message of each packet
	flags        []Flags
	acks         map[uint64]func([]parser.Value)
	disconnected []bool // the close argument of each Disconnect
}

func (s *fakeSocket) write(msgs []parser.Message, flags Flags) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = append(s.written, string(msgs[0].Data))
	s.flags = append(s.flags, flags)
}

func (s *fakeSocket) registerAck(id uint64, fn func([]parser.Value)) {
	s.mu.Lock()
	s.acks[id] = fn
	s.mu.Unlock()
}

func (s *fakeSocket) takeWritten() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.written
	s.written = nil
	return out
}

// checkCalls fails unless the calls recorded are want (op, ids and, when
// set in want, rooms), and forgets them.
func checkCalls(t *testing.T, n *fakeNamespace, want ...call) []call {
	t.Helper()
	got := n.takeCalls()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].op == want[i].op && slices.Equal(got[i].ids, sorted(want[i].ids)) &&
			(want[i].rooms == nil || slices.Equal(got[i].rooms, want[i].rooms))
	}
	if !same {
		t.Fatalf("calls to the namespace %s, want %s", describeCalls(got), describeCalls(want))
	}
	return got
}

func describeCalls(cs []call) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s(%q", c.op, c.ids)
		if c.rooms != nil {
			fmt.Fprintf(&b, ", %q", c.rooms)
		}
		b.WriteString(") ")
	}
	return "[" + strings.TrimSpace(b.String()) + "]"
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

func TestMemoryAddAll(t *testing.T) {
	_, m := newFake(MemoryOptions{})
	steps := []struct {
		id    string
		rooms []string
		want  []string
	}{
		{"s1", []string{"s1", "a", "b"}, []string{"a", "b", "s1"}},
		{"s1", []string{"b", "c", "c", "d", "c"}, []string{"c", "d"}}, // b already joined, c counted once
		{"s1", []string{"a", "s1", "a"}, nil},
		{"s1", nil, nil},
		{"s2", []string{"s2", "a", "a"}, []string{"a", "s2"}}, // a room others are in is new for s2
		{"s2", []string{"a"}, nil},
	}
	for i, st := range steps {
		if got := sorted(m.AddAll(st.id, st.rooms...)); !slices.Equal(got, st.want) {
			t.Fatalf("step %d: AddAll(%s, %q) = %q, want %q", i, st.id, st.rooms, got, st.want)
		}
	}
	if got, want := sorted(m.SocketRooms("s1")), []string{"a", "b", "c", "d", "s1"}; !slices.Equal(got, want) {
		t.Fatalf("SocketRooms(s1) = %q, want %q", got, want)
	}
	// A room left is new again.
	m.Del("s1", "a")
	if got := m.AddAll("s1", "a", "b"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("AddAll after Del = %q, want [a]", got)
	}
	m.DelAll("s1")
	if got := sorted(m.AddAll("s1", "s1", "b")); !slices.Equal(got, []string{"b", "s1"}) {
		t.Fatalf("AddAll after DelAll = %q, want [b s1]", got)
	}
}

func TestMemoryDel(t *testing.T) {
	_, m := newFake(MemoryOptions{})
	m.AddAll("s1", "s1", "a", "b")
	m.AddAll("s2", "s2", "b")
	tests := []struct {
		id, room string
		want     bool
	}{
		{"s1", "a", true},
		{"s1", "a", false}, // left already
		{"s1", "nope", false},
		{"s2", "a", false}, // a room s2 was never in
		{"unknown", "b", false},
		{"s1", "b", true},
		{"s1", "s1", true}, // its own room too
	}
	for _, tt := range tests {
		if got := m.Del(tt.id, tt.room); got != tt.want {
			t.Fatalf("Del(%s, %s) = %v, want %v", tt.id, tt.room, got, tt.want)
		}
	}
	// Del of a non-member left the members alone.
	if got := m.Sockets(&BroadcastOptions{Rooms: []string{"b"}}); !slices.Equal(got, []string{"s2"}) {
		t.Fatalf("members of b %q, want [s2]", got)
	}
	if got := sorted(m.Rooms()); !slices.Equal(got, []string{"b", "s2"}) {
		t.Fatalf("Rooms = %q, want [b s2]", got)
	}
}

func TestMemoryDelAll(t *testing.T) {
	_, m := newFake(MemoryOptions{})
	m.AddAll("s1", "s1", "a", "b")
	m.AddAll("s2", "s2", "b")
	m.Del("s1", "a")
	if got, want := sorted(m.DelAll("s1")), []string{"b", "s1"}; !slices.Equal(got, want) {
		t.Fatalf("DelAll(s1) = %q, want %q", got, want)
	}
	if got := m.DelAll("s1"); len(got) != 0 {
		t.Fatalf("second DelAll(s1) = %q, want none", got)
	}
	if got := m.DelAll("unknown"); len(got) != 0 {
		t.Fatalf("DelAll(unknown) = %q, want none", got)
	}
	if got, want := sorted(m.Rooms()), []string{"b", "s2"}; !slices.Equal(got, want) {
		t.Fatalf("Rooms = %q, want %q", got, want)
	}
}

func TestMemoryRoomChangesReportedOnce(t *testing.T) {
	// Sockets tell of the rooms they joined and left from these results:
	// racing calls must report each change once.
	_, m := newFake(MemoryOptions{})
	const racers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var added, removed []string
	var deleted int
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := m.AddAll("s1", "r", "q")
			mu.Lock()
			added = append(added, a...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := m.Del("s1", "q")
			mu.Lock()
			if d {
				deleted++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := m.DelAll("s1")
			mu.Lock()
			removed = append(removed, r...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got := sorted(added); !slices.Equal(got, []string{"q", "r"}) {
		t.Fatalf("AddAll reported %q, want [q r]", got)
	}
	if deleted != 1 {
		t.Fatalf("Del reported the removal %d times, want once", deleted)
	}
	if !slices.Equal(removed, []string{"r"}) {
		t.Fatalf("DelAll reported %q, want [r]", removed)
	}
}

func TestMemoryBroadcast(t *testing.T) {
	n, m := newFake(MemoryOptions{})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2", "r")
	s3 := n.connect("s3")
	m.AddAll("remote", "remote", "r") // a member that is not a local socket
	n.takeCalls()

	opts := &BroadcastOptions{Rooms: []string{"r"}, Flags: Flags{Volatile: true}}
	if err := m.Broadcast(context.Background(), event("ev", 1, []byte{2}), opts); err != nil {
		t.Fatal(err)
	}
	// One Deliver for all the recipients, so the packet is encoded once;
	// the namespace skips the ids it does not hold.
	calls := checkCalls(t, n, call{op: "Deliver", ids: []string{"remote", "s1", "s2"}})
	if calls[0].flags != opts.Flags {
		t.Fatalf("Deliver flags %+v, want %+v", calls[0].flags, opts.Flags)
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
	if got := s3.takeWritten(); len(got) != 0 {
		t.Fatalf("s3 got %q", got)
	}

	if err := m.Broadcast(context.Background(), event("all"), nil); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, n, call{op: "Deliver", ids: []string{"remote", "s1", "s2", "s3"}})
	for _, s := range []*fakeSocket{s1, s2, s3} {
		if got := s.takeWritten(); !slices.Equal(got, []string{`2["all"]`}) {
			t.Fatalf("%s got %q", s.id, got)
		}
	}

	// Nobody selected: nothing delivered, no error.
	if err := m.Broadcast(context.Background(), event("nobody"), &BroadcastOptions{Rooms: []string{"x"}, Except: []string{"y"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range n.takeCalls() {
		if len(c.ids) != 0 {
			t.Fatalf("a broadcast to nobody reached %q", c.ids)
		}
	}

	if err := m.Broadcast(context.Background(), event("bad", make(chan int)), nil); err == nil {
		t.Fatal("a packet that cannot be encoded was broadcast")
	}
}

func TestMemoryBroadcastDeliverError(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	s1 := n.connect("s1", "r")
	errDeliver := errors.New("deliver failed")
	n.err = errDeliver

	if err := m.Broadcast(context.Background(), event("ev"), &BroadcastOptions{Rooms: []string{"r"}}); !errors.Is(err, errDeliver) {
		t.Fatalf("Broadcast = %v, want the error of Deliver", err)
	}
	called := false
	err := m.BroadcastWithAck(context.Background(), event("q"), nil, func(int) { called = true }, func([]parser.Value) {})
	if !errors.Is(err, errDeliver) {
		t.Fatalf("BroadcastWithAck = %v, want the error of DeliverWithAck", err)
	}
	if called {
		t.Error("onCount was told a count after DeliverWithAck failed")
	}
	checkCalls(t, n,
		call{op: "Deliver", ids: []string{"s1"}},
		call{op: "DeliverWithAck", ids: []string{"s1"}})
	if got := s1.takeWritten(); len(got) != 0 {
		t.Fatalf("s1 got %q", got)
	}
}

func TestMemoryBroadcastWithAck(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2", "r")
	n.connect("s3")
	m.AddAll("remote", "remote", "r") // a member that is not a local socket
	n.takeCalls()
	n.ackIDs = 1 // ids are the namespace's

	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "mine"))
	defer cancel()
	var counts []int
	var answers []string
	p := event("q")
	flags := Flags{Timeout: time.Second, NoCompress: true}
	err := m.BroadcastWithAck(ctx, p, &BroadcastOptions{Rooms: []string{"r"}, Flags: flags}, func(c int) { counts = append(counts, c) }, func(a []parser.Value) {
		var s string
		_ = a[0].Decode(&s)
		answers = append(answers, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := checkCalls(t, n, call{op: "DeliverWithAck", ids: []string{"remote", "s1", "s2"}})
	if calls[0].ctx != ctx {
		t.Fatal("DeliverWithAck did not get the broadcast's context")
	}
	if calls[0].flags != flags {
		t.Fatalf("DeliverWithAck flags %+v, want %+v", calls[0].flags, flags)
	}
	if !p.HasID || p.ID != 1 {
		t.Fatalf("packet id %d (%v), want 1, set by the namespace", p.ID, p.HasID)
	}
	// The two sockets reached, not the three ids selected.
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

func TestMemoryBroadcastWithAckCount(t *testing.T) {
	// onCount gets what DeliverWithAck returned: the sockets it sent to,
	// which may be fewer than the ids selected.
	n, m := newFake(MemoryOptions{})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2", "r")
	n.owing["s2"] = true
	n.takeCalls()

	var counts []int
	onCount := func(c int) { counts = append(counts, c) }
	if err := m.BroadcastWithAck(context.Background(), event("q"), &BroadcastOptions{Rooms: []string{"r"}}, onCount, func([]parser.Value) {}); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, n, call{op: "DeliverWithAck", ids: []string{"s1", "s2"}})
	if !slices.Equal(counts, []int{1}) {
		t.Fatalf("counts %v, want [1]", counts)
	}
	if got := s2.takeWritten(); len(got) != 0 {
		t.Fatalf("s2, owing answers, got %q", got)
	}
	if got := s1.takeWritten(); len(got) != 1 {
		t.Fatalf("s1 got %q", got)
	}

	// Whatever DeliverWithAck says goes.
	n.count = 7
	counts = nil
	if err := m.BroadcastWithAck(context.Background(), event("q"), nil, onCount, func([]parser.Value) {}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(counts, []int{7}) {
		t.Fatalf("counts %v, want [7]", counts)
	}

	// Nobody selected: a count of 0, told once.
	n.count = 0
	counts = nil
	n.takeCalls()
	if err := m.BroadcastWithAck(context.Background(), event("q"), &BroadcastOptions{Rooms: []string{"x"}}, onCount, func([]parser.Value) {}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(counts, []int{0}) {
		t.Fatalf("counts %v, want [0]", counts)
	}
	for _, c := range n.takeCalls() {
		if len(c.ids) != 0 {
			t.Fatalf("a broadcast to nobody reached %q", c.ids)
		}
	}
}

func TestMemorySocketOperations(t *testing.T) {
	n, m := newFake(MemoryOptions{})
	s1 := n.connect("s1", "r")
	s2 := n.connect("s2", "r")
	s3 := n.connect("s3")
	m.AddAll("remote", "remote", "r")
	n.takeCalls()
	ctx := context.Background()

	infos, err := m.FetchSockets(ctx, &BroadcastOptions{Rooms: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, n, call{op: "Describe", ids: []string{"remote", "s1", "s2"}})
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
	if infos, err := m.FetchSockets(ctx, &BroadcastOptions{Rooms: []string{"x"}}); len(infos) != 0 || err != nil {
		t.Fatalf("FetchSockets of nobody = %+v, %v", infos, err)
	}
	n.takeCalls()

	if err := m.AddSockets(ctx, &BroadcastOptions{Except: []string{"s1"}}, []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, n, call{op: "Join", ids: []string{"remote", "s2", "s3"}, rooms: []string{"x", "y"}})
	if got := sorted(m.SocketRooms("s3")); !slices.Equal(got, []string{"s3", "x", "y"}) {
		t.Fatalf("after AddSockets: %q", got)
	}
	if got := sorted(m.SocketRooms("s1")); !slices.Equal(got, []string{"r", "s1"}) {
		t.Fatalf("after AddSockets: s1 in %q", got)
	}
	if err := m.DelSockets(ctx, &BroadcastOptions{Rooms: []string{"s3"}}, []string{"x", "nope"}); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, n, call{op: "Leave", ids: []string{"s3"}, rooms: []string{"x", "nope"}})
	if got := sorted(m.SocketRooms("s3")); !slices.Equal(got, []string{"s3", "y"}) {
		t.Fatalf("after DelSockets: %q", got)
	}

	if err := m.DisconnectSockets(ctx, &BroadcastOptions{Rooms: []string{"r"}, Except: []string{"s2"}}, true); err != nil {
		t.Fatal(err)
	}
	if err := m.DisconnectSockets(ctx, &BroadcastOptions{Rooms: []string{"s2"}}, false); err != nil {
		t.Fatal(err)
	}
	calls := checkCalls(t, n,
		call{op: "Disconnect", ids: []string{"remote", "s1"}},
		call{op: "Disconnect", ids: []string{"s2"}})
	if !calls[0].close || calls[1].close {
		t.Fatalf("Disconnect close %v then %v, want true then false", calls[0].close, calls[1].close)
	}
	if !slices.Equal(s1.disconnected, []bool{true}) || !slices.Equal(s2.disconnected, []bool{false}) || len(s3.disconnected) != 0 {
		t.Fatalf("disconnections s1 %v s2 %v s3 %v", s1.disconnected, s2.disconnected, s3.disconnected)
	}

	if c, err := m.ServerCount(ctx); c != 1 || err != nil {
		t.Fatalf("ServerCount = %d, %v", c, err)
	}
	if c, err := m.ServerSideEmit(ctx, "ev", nil, func([]parser.Value) { t.Error("answer from nowhere") }); c != 0 || err != nil {
		t.Fatalf("ServerSideEmit = %d, %v", c, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// With one node, nothing comes back to the namespace.
	checkCalls(t, n)
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
	if err := m.Broadcast(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.takeWritten(); !slices.Equal(got, []string{`2["ev",1]`}) {
		t.Fatalf("got %q, want no offset", got)
	}
	persist(t, m, &Session{SID: "s1", PID: "p1"})
	if _, err := m.RestoreSession(context.Background(), "p1", ""); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("RestoreSession = %v, want ErrSessionNotFound", err)
	}
	m.DelAll("s1")
	if len(m.packets) != 0 || len(m.sessions) != 0 || len(m.joinedAt) != 0 {
		t.Fatalf("recovery state kept without a window: %d packets, %d sessions, %d joins", len(m.packets), len(m.sessions), len(m.joinedAt))
	}
}

// persist keeps s for recovery, as a socket leaving does.
func persist(t *testing.T, m *Memory, s *Session) {
	t.Helper()
	if err := m.PersistSession(context.Background(), s); err != nil {
		t.Fatalf("PersistSession(%+v) = %v", s, err)
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

	if err := m.Broadcast(context.Background(), event("a", 1), nil); err != nil {
		t.Fatal(err)
	}
	w1, w2 := s1.takeWritten(), s2.takeWritten()
	want := fmt.Sprintf(`2["a",1,"%s-1"]`, m.prefix)
	if len(w1) != 1 || w1[0] != want || !slices.Equal(w1, w2) {
		t.Fatalf("got %q and %q, want %q for both", w1, w2, want)
	}
	if err := m.Broadcast(context.Background(), event("b"), &BroadcastOptions{Rooms: []string{"r"}}); err != nil {
		t.Fatal(err)
	}
	if got := offsetOf(t, s1.takeWritten()[0]); got != m.prefix+"-2" {
		t.Fatalf("second offset %q", got)
	}
	// Volatile packets and packets other than events are not kept.
	if err := m.Broadcast(context.Background(), event("v"), &BroadcastOptions{Flags: Flags{Volatile: true}}); err != nil {
		t.Fatal(err)
	}
	if got := s1.takeWritten(); !slices.Equal(got, []string{`2["v"]`}) {
		t.Fatalf("volatile: %q", got)
	}
	if err := m.Broadcast(context.Background(), &parser.SocketPacket{Type: parser.SocketPacketDisconnect}, &BroadcastOptions{Rooms: []string{"s1"}}); err != nil {
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
	if err := m.Broadcast(context.Background(), p, nil); err != nil {
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
		if err := m.Broadcast(context.Background(), p, opts); err != nil {
			t.Fatal(err)
		}
	}
	mustBroadcast(event("before"), nil)
	last := offsetOf(t, s1.takeWritten()[0])

	// s1 disconnects: its state is kept.
	persist(t, m, &Session{SID: "s1", PID: "p1", Rooms: m.SocketRooms("s1"), Data: "d"})
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

	if _, err := m.RestoreSession(context.Background(), "unknown", last); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("unknown pid: %v", err)
	}
	sess, err := m.RestoreSession(context.Background(), "p1", last)
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
	if _, err := m.RestoreSession(context.Background(), "p1", last); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("second restore: %v", err)
	}
}

func TestMemoryRestoreSessionOffsets(t *testing.T) {
	setup := func() (*fakeNamespace, *Memory, string) {
		n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
		n.connect("s0")
		if err := m.Broadcast(context.Background(), event("before join"), nil); err != nil {
			t.Fatal(err)
		}
		s1 := n.connect("s1")
		if err := m.Broadcast(context.Background(), event("first"), nil); err != nil {
			t.Fatal(err)
		}
		first := offsetOf(t, s1.takeWritten()[0])
		if err := m.Broadcast(context.Background(), event("second"), nil); err != nil {
			t.Fatal(err)
		}
		persist(t, m, &Session{SID: "s1", PID: "p1", Rooms: m.SocketRooms("s1")})
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
		s, err := m.RestoreSession(context.Background(), "p1", tt.offset(m, first))
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
	if err := m.Broadcast(context.Background(), event("old"), nil); err != nil {
		t.Fatal(err)
	}
	old := offsetOf(t, s1.takeWritten()[0])
	persist(t, m, &Session{SID: "s1", PID: "expired", Rooms: []string{"s1"}})
	persist(t, m, &Session{SID: "s9", PID: "fresh", Rooms: []string{"s9"}})
	m.DelAll("s1")

	// Age the first packet and the first session past the window.
	m.mu.Lock()
	m.packets[0].at = time.Now().Add(-2 * time.Minute)
	st := m.sessions["expired"]
	st.at = time.Now().Add(-2 * time.Minute)
	m.sessions["expired"] = st
	m.mu.Unlock()

	if _, err := m.RestoreSession(context.Background(), "expired", old); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	// The next broadcast prunes what is past the window.
	if err := m.Broadcast(context.Background(), event("new"), nil); err != nil {
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
	persist(t, m, &Session{SID: "s2", PID: "p2", Rooms: []string{"s2"}})
	if _, err := m.RestoreSession(context.Background(), "p2", m.prefix+"-0"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("restore across pruned packets: %v", err)
	}
	if s, err := m.RestoreSession(context.Background(), "fresh", old); err != nil || s.SID != "s9" {
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
				_ = m.Broadcast(context.Background(), event("ev", j), &BroadcastOptions{Rooms: []string{"r"}})
				m.AddAll(id, "x")
				m.Del(id, "x")
				_ = m.Sockets(nil)
				_, _ = m.FetchSockets(context.Background(), nil)
			}
			if err := m.PersistSession(context.Background(), &Session{SID: id, PID: "p" + id, Rooms: m.SocketRooms(id)}); err != nil {
				t.Errorf("PersistSession(%s) = %v", id, err)
			}
			m.DelAll(id)
		}()
	}
	wg.Wait()
	if got := m.Rooms(); len(got) != 0 {
		t.Fatalf("rooms left %q", got)
	}
	if s, err := m.RestoreSession(context.Background(), "ps3", ""); err != nil || s.SID != "s3" {
		t.Fatalf("restore after concurrent use: %+v, %v", s, err)
	}
	if !reflect.DeepEqual(m.SocketRooms("nobody"), []string{}) {
		t.Fatal("SocketRooms of an unknown socket is not empty")
	}
}

func TestMemorySessionRoundTrip(t *testing.T) {
	n, m := newFake(MemoryOptions{RecoveryWindow: time.Minute})
	n.connect("s1", "r")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s := &Session{SID: "s1", PID: "p1", Rooms: []string{"r", "s1"}, Data: "d"}
	if err := m.PersistSession(ctx, s); err != nil {
		t.Fatalf("PersistSession = %v", err)
	}
	m.DelAll("s1")
	s.Data = "changed later" // the adapter keeps its own copy
	got, err := m.RestoreSession(ctx, "p1", "")
	if err != nil {
		t.Fatalf("RestoreSession = %v", err)
	}
	if got == s || got.SID != "s1" || got.PID != "p1" || got.Data != "d" || !slices.Equal(got.Rooms, []string{"r", "s1"}) || len(got.MissedPackets) != 0 {
		t.Fatalf("restored %+v", got)
	}
	if _, err := m.RestoreSession(ctx, "p1", ""); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("second RestoreSession = %v, want ErrSessionNotFound", err)
	}
}
