package adapter

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/duplexio/duplex/parser"
)

// countingSocket only counts the packets it is given.
type countingSocket struct{ n *atomic.Int64 }

func (s *countingSocket) write([]parser.Message, Flags) { s.n.Add(1) }

// countingNamespace is a Namespace holding countingSockets. Deliver does
// once per broadcast what package socketio's does (encode), and for each
// id what the adapter used to do itself: look the socket up and hand it
// the packet.
type countingNamespace struct {
	parser    parser.JSONParser
	sockets   map[string]*countingSocket // not changed while a benchmark runs
	delivered atomic.Int64
}

func (n *countingNamespace) Name() string { return "/" }

func (n *countingNamespace) Deliver(ids []string, p *parser.SocketPacket, flags Flags) error {
	msgs, err := n.parser.Encode(p)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if s := n.sockets[id]; s != nil {
			s.write(msgs, flags)
		}
	}
	return nil
}

func (n *countingNamespace) DeliverWithAck(context.Context, []string, *parser.SocketPacket, Flags, func([]parser.Value)) (int, error) {
	return 0, nil
}
func (n *countingNamespace) Join([]string, []string)                               {}
func (n *countingNamespace) Leave([]string, []string)                              {}
func (n *countingNamespace) Disconnect([]string, bool)                             {}
func (n *countingNamespace) Describe([]string) []SocketInfo                        { return nil }
func (n *countingNamespace) Connected(id string) bool                              { return n.sockets[id] != nil }
func (n *countingNamespace) OnServerSideEmit(string, []parser.Value, func(...any)) {}

// BenchmarkMemoryBroadcast measures the in-memory adapter's part of a
// broadcast among 10,000 local sockets in 1,000 rooms of 10: selecting
// the recipients, encoding once, handing the packet to each. One op is one
// broadcast.
func BenchmarkMemoryBroadcast(b *testing.B) {
	const sockets, rooms = 10000, 1000
	nsp := &countingNamespace{sockets: make(map[string]*countingSocket, sockets)}
	m := NewMemory(nsp, MemoryOptions{})
	for i := range sockets {
		id := fmt.Sprintf("socket%d", i)
		nsp.sockets[id] = &countingSocket{n: &nsp.delivered}
		m.AddAll(id, id, fmt.Sprintf("room%d", i%rooms))
	}
	p := &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: "/", Data: []any{"news", "0123456789abcdef0123456789abcdef"}}
	ctx := context.Background()
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
			nsp.delivered.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Broadcast(ctx, p, &bc.opts); err != nil {
					b.Fatal(err)
				}
			}
			if got, want := nsp.delivered.Load(), bc.want*int64(b.N); got != want {
				b.Fatalf("%d deliveries, want %d", got, want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(nsp.delivered.Load()), "ns/delivery")
		})
	}
}

// BenchmarkMemoryJoinLeave measures a socket joining and leaving a room
// among 10,000 sockets.
func BenchmarkMemoryJoinLeave(b *testing.B) {
	nsp := &countingNamespace{sockets: map[string]*countingSocket{}}
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
