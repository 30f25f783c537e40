package adapter

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/duplexio/duplex/parser"
)

// countingSocket is a Socket that only counts the packets it is given.
type countingSocket struct {
	id string
	n  *atomic.Int64
}

func (s *countingSocket) ID() string { return s.id }
func (s *countingSocket) WritePacket(*parser.SocketPacket, []parser.Message, Flags) {
	s.n.Add(1)
}
func (s *countingSocket) RegisterAck(uint64, func([]parser.Value)) {}
func (s *countingSocket) Join(...string)                           {}
func (s *countingSocket) Leave(string)                             {}
func (s *countingSocket) Disconnect(bool)                          {}
func (s *countingSocket) Info() SocketInfo                         { return SocketInfo{ID: s.id} }

// countingNamespace holds countingSockets.
type countingNamespace struct {
	parser  parser.JSONParser
	sockets map[string]Socket
}

func (n *countingNamespace) Name() string { return "/" }
func (n *countingNamespace) Encode(p *parser.SocketPacket) ([]parser.Message, error) {
	return n.parser.Encode(p)
}
func (n *countingNamespace) NextAckID() uint64                                     { return 0 }
func (n *countingNamespace) Socket(id string) Socket                               { return n.sockets[id] }
func (n *countingNamespace) OnServerSideEmit(string, []parser.Value, func(...any)) {}

// BenchmarkMemoryBroadcast measures the in-memory adapter's part of a
// broadcast among 10,000 local sockets in 1,000 rooms of 10: selecting
// the recipients, encoding once, handing the packet to each. One op is one
// broadcast.
func BenchmarkMemoryBroadcast(b *testing.B) {
	const sockets, rooms = 10000, 1000
	var delivered atomic.Int64
	nsp := &countingNamespace{sockets: make(map[string]Socket, sockets)}
	m := NewMemory(nsp, MemoryOptions{})
	for i := range sockets {
		id := fmt.Sprintf("socket%d", i)
		nsp.sockets[id] = &countingSocket{id: id, n: &delivered}
		m.AddAll(id, id, fmt.Sprintf("room%d", i%rooms))
	}
	p := &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: "/", Data: []any{"news", "0123456789abcdef0123456789abcdef"}}
	for _, bc := range []struct {
		name string
		opts BroadcastOptions
		want int64
	}{
		{"all", BroadcastOptions{}, sockets},
		{"one-room", BroadcastOptions{Rooms: []string{"room7"}}, sockets / rooms},
		{"three-rooms-except-one", BroadcastOptions{Rooms: []string{"room1", "room2", "room3"}, Except: []string{"room2"}}, 2 * sockets / rooms},
	} {
		b.Run(bc.name, func(b *testing.B) {
			delivered.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Broadcast(p, &bc.opts); err != nil {
					b.Fatal(err)
				}
			}
			if got, want := delivered.Load(), bc.want*int64(b.N); got != want {
				b.Fatalf("%d deliveries, want %d", got, want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered.Load()), "ns/delivery")
		})
	}
}

// BenchmarkMemoryJoinLeave measures a socket joining and leaving a room
// among 10,000 sockets.
func BenchmarkMemoryJoinLeave(b *testing.B) {
	nsp := &countingNamespace{sockets: map[string]Socket{}}
	m := NewMemory(nsp, MemoryOptions{})
	for i := range 10000 {
		id := fmt.Sprintf("socket%d", i)
		m.AddAll(id, id, fmt.Sprintf("room%d", i%1000))
	}
	b.ReportAllocs()
	for b.Loop() {
		m.AddAll("socket42", "lobby")
		m.Del("socket42", "lobby")
	}
}
