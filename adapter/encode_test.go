package adapter

import (
	"context"
	"testing"
)

// A packet that cannot be encoded is refused whoever the broadcast
// selects, nobody included, as socket.io-adapter's broadcast (which
// encodes first) refuses it.
func TestMemoryBroadcastUnencodableToNobody(t *testing.T) {
	n, m := newFake(MemoryOptions{})
	n.connect("s1")
	if err := m.Broadcast(context.Background(), event("bad", make(chan int)), nil); err == nil {
		t.Fatal("to everyone: no error")
	}
	if err := m.Broadcast(context.Background(), event("bad", make(chan int)), &BroadcastOptions{Rooms: []string{"empty"}}); err == nil {
		t.Fatal("to an empty room: a packet that cannot be encoded was accepted")
	}
}
