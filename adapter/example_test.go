package adapter_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/socketio"
)

// The in-memory adapter is the default; set it yourself to keep broadcast
// events for connection state recovery longer than the server's window,
// say. A multi-node adapter (package adapter/redis) goes in the same field.
func ExampleMemoryFactory() {
	io := socketio.NewServer(&socketio.Options{
		Adapter:                 adapter.MemoryFactory(adapter.MemoryOptions{RecoveryWindow: 5 * time.Minute}),
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 5 * time.Minute},
	})
	defer io.Close()
	n, _ := io.Of("/").Adapter().ServerCount(context.Background())
	fmt.Println(n, "node")
	// Output: 1 node
}

// An adapter keeps the rooms of one namespace: which socket is in which
// room, and which sockets a broadcast selects. Every socket is also in the
// room named by its id.
func ExampleMemory() {
	io := socketio.NewServer(nil)
	defer io.Close()
	a := io.Of("/").Adapter()

	a.AddAll("ann", "ann", "news", "sport")
	a.AddAll("bob", "bob", "news", "muted")
	a.AddAll("cat", "cat", "sport")
	selected := a.Sockets(&adapter.BroadcastOptions{Rooms: []string{"news", "sport"}, Except: []string{"muted"}})
	slices.Sort(selected)
	fmt.Println(selected)

	a.Del("ann", "sport")
	annRooms := a.SocketRooms("ann")
	slices.Sort(annRooms)
	fmt.Println(annRooms)
	a.DelAll("bob")
	rooms := a.Rooms()
	slices.Sort(rooms)
	fmt.Println(rooms)
	// Output:
	// [ann cat]
	// [ann news]
	// [ann cat news sport]
}

// tracing is an Adapter that tells of each broadcast before the in-memory
// adapter carries it: embedding Memory, it overrides only what it needs.
type tracing struct {
	*adapter.Memory
}

// Broadcast prints the broadcast, then lets Memory carry it.
func (t tracing) Broadcast(ctx context.Context, p *parser.SocketPacket, opts *adapter.BroadcastOptions) error {
	fmt.Printf("broadcast %v to %v except %v\n", p.Data, opts.Rooms, opts.Except)
	return t.Memory.Broadcast(ctx, p, opts)
}

// A custom adapter wraps another: a Factory makes one per namespace.
func ExampleFactory() {
	io := socketio.NewServer(&socketio.Options{
		Adapter: func(nsp adapter.Namespace) adapter.Adapter {
			return tracing{adapter.NewMemory(nsp, adapter.MemoryOptions{})}
		},
	})
	defer io.Close()

	io.To("news").Except("muted").Emit("headline", "hello")
	io.Of("/chat").Emit("ping", 1)
	// Output:
	// broadcast [headline hello] to [news] except [muted]
	// broadcast [ping 1] to [] except []
}
