package socketio

import (
	"slices"
	"strings"

	"github.com/duplexio/duplex/engineio"
)

// Stats is a snapshot of a server's figures, returned by Server.Stats.
type Stats struct {
	// Engine holds the Engine.IO figures: sessions by transport,
	// handshakes, upgrades, packets and bytes, volatile packets dropped and
	// sessions closed by reason.
	Engine engineio.Stats
	// Namespaces describes each namespace that exists, sorted by name.
	// Templates of dynamic namespaces (OfFunc, OfRegexp) are not
	// namespaces; the namespaces they created are.
	Namespaces []NamespaceStats
}

// NamespaceStats describes one namespace at the time of a snapshot, on
// this node.
type NamespaceStats struct {
	// Name is the namespace's name, like "/" or "/chat".
	Name string
	// Sockets is the number of sockets connected to the namespace.
	Sockets int
	// Rooms is the number of rooms with members, not counting the room of
	// each socket's own id.
	Rooms int
}

// Stats returns a snapshot of the server's figures: the Engine.IO
// counters, read without a lock, and each namespace's sockets and rooms,
// counted now. Counting rooms lists them from each namespace's adapter, so
// a snapshot costs time and memory in proportion to the number of rooms;
// take it when metrics are scraped, not for each packet.
func (s *Server) Stats() Stats {
	st := Stats{Engine: s.engine.Stats()}
	nsps := s.Namespaces()
	slices.SortFunc(nsps, func(a, b *Namespace) int { return strings.Compare(a.name, b.name) })
	st.Namespaces = make([]NamespaceStats, 0, len(nsps))
	for _, n := range nsps {
		st.Namespaces = append(st.Namespaces, n.stats())
	}
	return st
}

// stats counts the namespace's sockets and rooms.
func (n *Namespace) stats() NamespaceStats {
	var rooms []string
	if n.adapter != nil {
		rooms = n.adapter.Rooms()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	ns := NamespaceStats{Name: n.name, Sockets: len(n.sockets)}
	for _, r := range rooms {
		if n.sockets[r] == nil {
			ns.Rooms++
		}
	}
	return ns
}
