package duplexprom

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// figures are the values a scrape should show.
type figures struct {
	polling, websocket     int
	handshakes, upgrades   int
	packetsIn, packetsOut  int
	bytesIn, bytesOut      int
	transportClose         int
	mainSockets, mainRooms int
	chatSockets, chatRooms int
}

// exposition is the text a scrape of f should give, HELP and TYPE lines
// included.
func (f figures) exposition() string {
	return fmt.Sprintf(`# HELP duplex_sessions Open Engine.IO sessions (client connections), by transport.
# TYPE duplex_sessions gauge
duplex_sessions{transport="polling"} %d
duplex_sessions{transport="websocket"} %d
# HELP duplex_handshakes_total Engine.IO sessions opened.
# TYPE duplex_handshakes_total counter
duplex_handshakes_total %d
# HELP duplex_upgrades_total Engine.IO sessions upgraded from polling to WebSocket.
# TYPE duplex_upgrades_total counter
duplex_upgrades_total %d
# HELP duplex_packets_received_total Engine.IO packets read from clients, the handshake's open packet excepted.
# TYPE duplex_packets_received_total counter
duplex_packets_received_total %d
# HELP duplex_packets_sent_total Engine.IO packets written to clients, the handshake's open packet excepted.
# TYPE duplex_packets_sent_total counter
duplex_packets_sent_total %d
# HELP duplex_received_bytes_total Size of the Engine.IO packets read from clients: type byte and data, before transport framing, base64 and compression.
# TYPE duplex_received_bytes_total counter
duplex_received_bytes_total %d
# HELP duplex_sent_bytes_total Size of the Engine.IO packets written to clients: type byte and data, before transport framing, base64 and compression.
# TYPE duplex_sent_bytes_total counter
duplex_sent_bytes_total %d
# HELP duplex_volatile_dropped_total Volatile packets dropped because the client could not take them at once.
# TYPE duplex_volatile_dropped_total counter
duplex_volatile_dropped_total 0
# HELP duplex_disconnects_total Engine.IO sessions closed, by close reason; reason="slow consumer" counts the clients disconnected for falling behind.
# TYPE duplex_disconnects_total counter
duplex_disconnects_total{reason="forced close"} 0
duplex_disconnects_total{reason="parse error"} 0
duplex_disconnects_total{reason="ping timeout"} 0
duplex_disconnects_total{reason="server shutting down"} 0
duplex_disconnects_total{reason="slow consumer"} 0
duplex_disconnects_total{reason="transport close"} %d
duplex_disconnects_total{reason="transport error"} 0
# HELP duplex_namespace_sockets Sockets connected to the namespace on this node.
# TYPE duplex_namespace_sockets gauge
duplex_namespace_sockets{nsp="/"} %d
duplex_namespace_sockets{nsp="/chat"} %d
# HELP duplex_namespace_rooms Rooms with members in the namespace on this node, each socket's own room excepted.
# TYPE duplex_namespace_rooms gauge
duplex_namespace_rooms{nsp="/"} %d
duplex_namespace_rooms{nsp="/chat"} %d
`, f.polling, f.websocket, f.handshakes, f.upgrades, f.packetsIn, f.packetsOut, f.bytesIn, f.bytesOut,
		f.transportClose, f.mainSockets, f.chatSockets, f.mainRooms, f.chatRooms)
}

// metricNames are the collector's metrics.
var metricNames = []string{
	"duplex_sessions", "duplex_handshakes_total", "duplex_upgrades_total",
	"duplex_packets_received_total", "duplex_packets_sent_total",
	"duplex_received_bytes_total", "duplex_sent_bytes_total",
	"duplex_volatile_dropped_total", "duplex_disconnects_total",
	"duplex_namespace_sockets", "duplex_namespace_rooms",
}

// testServer is a Socket.IO server and its /metrics on one mux, behind a
// loopback HTTP server.
type testServer struct {
	io      *socketio.Server
	reg     *prometheus.Registry
	hs      *httptest.Server
	metrics string // the /metrics URL
}

func newTestServer(t *testing.T, opts *Options) *testServer {
	t.Helper()
	io := socketio.NewServer(nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(io, opts))
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := httptest.NewServer(mux)
	return &testServer{io: io, reg: reg, hs: hs, metrics: hs.URL + "/metrics"}
}

func (ts *testServer) Close() {
	_ = ts.io.Shutdown(context.Background())
	ts.hs.Close()
}

// TestCollector drives a server with WebSocket and polling clients and
// checks what a scrape of /metrics shows, to the byte.
func TestCollector(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	ts.io.OnConnection(func(s *socketio.Socket) { s.Join("r") })
	ts.io.Of("/chat")
	base := ts.hs.URL

	if err := testutil.ScrapeAndCompare(ts.metrics, strings.NewReader(figures{}.exposition()), metricNames...); err != nil {
		t.Fatalf("before any client: %v", err)
	}

	a, replyA := dialWS(t, base, "", "/")
	defer a.Close()
	b, replyB := dialWS(t, base, "", "/")
	defer b.Close()
	p, replyP := dialPolling(t, base, "/chat")
	defer p.Close()
	want := figures{
		polling: 1, websocket: 2, handshakes: 3,
		packetsIn: 3, bytesIn: len("40")*2 + len("40/chat,"),
		// A packet's size is its text form's: the replies as received.
		packetsOut: 3, bytesOut: len(replyA) + len(replyB) + len(replyP),
		mainSockets: 2, mainRooms: 1, chatSockets: 1,
	}
	// The server counts a packet sent once it is written: the client may
	// see it first.
	waitFor(t, "the replies to be counted", func() bool { return ts.io.Stats().Engine.PacketsOut == 3 })
	if err := testutil.ScrapeAndCompare(ts.metrics, strings.NewReader(want.exposition()), metricNames...); err != nil {
		t.Fatalf("three clients: %v", err)
	}

	// The polling client upgrades; a WebSocket client leaves.
	ws := p.upgrade(base)
	defer ws.Close()
	a.Close()
	waitFor(t, "the upgrade and the disconnection", func() bool {
		st := ts.io.Stats()
		return st.Engine.Upgrades == 1 && st.Engine.Closes.TransportClose == 1 && st.Namespaces[0].Sockets == 1
	})
	want.polling, want.websocket, want.upgrades = 0, 2, 1
	want.packetsIn += 2 // 2probe, 5
	want.bytesIn += len("2probe") + len("5")
	want.packetsOut++ // 3probe
	want.bytesOut += len("3probe")
	want.transportClose = 1
	want.mainSockets = 1
	if err := testutil.ScrapeAndCompare(ts.metrics, strings.NewReader(want.exposition()), metricNames...); err != nil {
		t.Fatalf("after an upgrade and a disconnection: %v", err)
	}

	problems, err := testutil.GatherAndLint(ts.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorLint checks the metric names and help texts against
// Prometheus' conventions, with every metric present.
func TestCollectorLint(t *testing.T) {
	io := socketio.NewServer(nil)
	defer io.Close()
	c := NewCollector(io, nil)
	if n := testutil.CollectAndCount(c); n != 2+7+7+2*1 {
		t.Errorf("%d metrics collected", n)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorOptions: constant labels are on every metric;
// SkipNamespaces leaves the namespace gauges out.
func TestCollectorOptions(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{ConstLabels: prometheus.Labels{"node": "n1"}, SkipNamespaces: true})
	defer ts.Close()
	c, _ := dialWS(t, ts.hs.URL, "", "/")
	defer c.Close()
	families, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
		for _, m := range f.GetMetric() {
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == "node" && l.GetValue() == "n1"
			}
			if !found {
				t.Errorf("%s: no node label: %v", f.GetName(), m.GetLabel())
			}
		}
	}
	if got, want := strings.Join(names, " "), strings.Join(slices.Sorted(slices.Values(metricNames[:9])), " "); got != want {
		t.Errorf("metrics %s\nwant %s", got, want)
	}
	expected := `# HELP duplex_sessions Open Engine.IO sessions (client connections), by transport.
# TYPE duplex_sessions gauge
duplex_sessions{node="n1",transport="polling"} 0
duplex_sessions{node="n1",transport="websocket"} 1
`
	if err := testutil.ScrapeAndCompare(ts.metrics, strings.NewReader(expected), "duplex_sessions"); err != nil {
		t.Error(err)
	}
}
