package admin

import (
	"os"
	"time"

	"github.com/duplexio/duplex/engineio"
)

// serverStats is the server_stats payload, with the reference's field
// names in its order.
type serverStats struct {
	ServerID            string            `json:"serverId"`
	Hostname            string            `json:"hostname"`
	PID                 int               `json:"pid"`
	Uptime              float64           `json:"uptime"` // seconds
	ClientsCount        int               `json:"clientsCount"`
	PollingClientsCount int               `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent `json:"aggregatedEvents"`
	Namespaces          []namespaceStats  `json:"namespaces"`
}

// aggregatedEvent counts what happened in one second: connections
// (rawConnection), disconnections by reason (rawDisconnection), packets
// and bytes in and out.
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"` // Unix milliseconds, whole seconds
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     uint64 `json:"count"`
}

type namespaceStats struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

// emitStats sends server_stats: the Engine.IO figures, what changed since
// the previous time, and each namespace's sockets on this node.
func (in *Instrumentation) emitStats() {
	st := in.io.Engine().Stats()
	in.mu.Lock()
	events := aggregate(in.last, st, time.Now())
	upgraded := st.Upgrades != in.last.Upgrades
	in.last = st
	in.mu.Unlock()
	if upgraded {
		in.checkUpgrades()
	}
	nsps := sortedNamespaces(in.io)
	namespaces := make([]namespaceStats, 0, len(nsps))
	for _, n := range nsps {
		namespaces = append(namespaces, namespaceStats{Name: n.Name(), SocketsCount: n.SocketCount()})
	}
	in.send("server_stats", serverStats{
		ServerID:            in.opts.ServerID,
		Hostname:            in.hostname,
		PID:                 os.Getpid(),
		Uptime:              time.Since(processStart).Seconds(),
		ClientsCount:        st.Sessions,
		PollingClientsCount: st.PollingSessions,
		AggregatedEvents:    events,
		Namespaces:          namespaces,
	})
}

// aggregate turns the growth of the Engine.IO counters from prev to cur
// into the UI's aggregated events, stamped with the second of at.
func aggregate(prev, cur engineio.Stats, at time.Time) []aggregatedEvent {
	ts := at.UnixMilli()
	ts -= ts % 1000
	out := []aggregatedEvent{}
	add := func(typ, sub string, before, after uint64) {
		if after > before {
			out = append(out, aggregatedEvent{Timestamp: ts, Type: typ, SubType: sub, Count: after - before})
		}
	}
	add("rawConnection", "", prev.Handshakes, cur.Handshakes)
	for reason, n := range cur.Closes.All() {
		add("rawDisconnection", string(reason), prev.Closes.Count(reason), n)
	}
	add("packetsIn", "", prev.PacketsIn, cur.PacketsIn)
	add("bytesIn", "", prev.BytesIn, cur.BytesIn)
	add("packetsOut", "", prev.PacketsOut, cur.PacketsOut)
	add("bytesOut", "", prev.BytesOut, cur.BytesOut)
	return out
}
