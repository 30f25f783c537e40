package duplexprom

import (
	"github.com/duplexio/duplex/socketio"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a Collector. The zero value exports every metric
// with no constant labels.
type Options struct {
	// ConstLabels are added to every metric: the node's name in a
	// cluster, say, when the scrape does not add it.
	ConstLabels prometheus.Labels
	// SkipNamespaces leaves out the per-namespace gauges: a server with
	// many dynamic namespaces would otherwise export two series for each,
	// and counting rooms lists every room at each scrape.
	SkipNamespaces bool
}

// Collector is a prometheus.Collector for a Socket.IO server. Register it
// with a prometheus.Registerer.
type Collector struct {
	srv  *socketio.Server
	opts Options

	sessions        *prometheus.Desc
	handshakes      *prometheus.Desc
	upgrades        *prometheus.Desc
	packetsReceived *prometheus.Desc
	packetsSent     *prometheus.Desc
	bytesReceived   *prometheus.Desc
	bytesSent       *prometheus.Desc
	volatileDropped *prometheus.Desc
	disconnects     *prometheus.Desc
	nspSockets      *prometheus.Desc
	nspRooms        *prometheus.Desc
}

// NewCollector returns a collector of srv's figures. A nil opts means the
// zero Options.
func NewCollector(srv *socketio.Server, opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("duplex_"+name, help, labels, o.ConstLabels)
	}
	return &Collector{
		srv:  srv,
		opts: o,
		sessions: desc("sessions",
			"Open Engine.IO sessions (client connections), by transport.", "transport"),
		handshakes: desc("handshakes_total",
			"Engine.IO sessions opened."),
		upgrades: desc("upgrades_total",
			"Engine.IO sessions upgraded from polling to WebSocket."),
		packetsReceived: desc("packets_received_total",
			"Engine.IO packets read from clients, the handshake's open packet excepted."),
		packetsSent: desc("packets_sent_total",
			"Engine.IO packets written to clients, the handshake's open packet excepted."),
		bytesReceived: desc("received_bytes_total",
			"Size of the Engine.IO packets read from clients: type byte and data, before transport framing, base64 and compression."),
		bytesSent: desc("sent_bytes_total",
			"Size of the Engine.IO packets written to clients: type byte and data, before transport framing, base64 and compression."),
		volatileDropped: desc("volatile_dropped_total",
			"Volatile packets dropped because the client could not take them at once."),
		disconnects: desc("disconnects_total",
			`Engine.IO sessions closed, by close reason; reason="slow consumer" counts the clients disconnected for falling behind.`, "reason"),
		nspSockets: desc("namespace_sockets",
			"Sockets connected to the namespace on this node.", "nsp"),
		nspRooms: desc("namespace_rooms",
			"Rooms with members in the namespace on this node, each socket's own room excepted.", "nsp"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.sessions, c.handshakes, c.upgrades,
		c.packetsReceived, c.packetsSent, c.bytesReceived, c.bytesSent,
		c.volatileDropped, c.disconnects,
	} {
		ch <- d
	}
	if !c.opts.SkipNamespaces {
		ch <- c.nspSockets
		ch <- c.nspRooms
	}
}

// Collect implements prometheus.Collector: it takes a snapshot of the
// server's figures.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var st socketio.Stats
	if c.opts.SkipNamespaces {
		st.Engine = c.srv.Engine().Stats()
	} else {
		st = c.srv.Stats()
	}
	e := st.Engine
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.sessions, float64(e.PollingSessions), "polling")
	gauge(c.sessions, float64(e.WebSocketSessions), "websocket")
	counter(c.handshakes, e.Handshakes)
	counter(c.upgrades, e.Upgrades)
	counter(c.packetsReceived, e.PacketsIn)
	counter(c.packetsSent, e.PacketsOut)
	counter(c.bytesReceived, e.BytesIn)
	counter(c.bytesSent, e.BytesOut)
	counter(c.volatileDropped, e.VolatileDropped)
	for reason, n := range e.Closes.All() {
		counter(c.disconnects, n, string(reason))
	}
	for _, n := range st.Namespaces {
		gauge(c.nspSockets, float64(n.Sockets), n.Name)
		gauge(c.nspRooms, float64(n.Rooms), n.Name)
	}
}

var _ prometheus.Collector = (*Collector)(nil)
