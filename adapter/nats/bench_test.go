package natsadapter_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsadapter "github.com/duplexio/duplex/adapter/nats"
	"github.com/gorilla/websocket"
)

// counter is a bare client for the benchmark: it counts the EVENT
// packets it receives.
type counter struct {
	conn *websocket.Conn
	done chan struct{}
}

func dialCounter(b *testing.B, baseURL string, n *atomic.Int64) *counter {
	b.Helper()
	u := "ws" + strings.TrimPrefix(baseURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if _, _, err := conn.ReadMessage(); err != nil { // open
		b.Fatal(err)
	}
	_ = conn.WriteMessage(websocket.TextMessage, []byte("40"))
	if _, msg, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "40") {
		b.Fatalf("connect: %q, %v", msg, err)
	}
	c := &counter{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			switch {
			case len(msg) > 1 && msg[0] == '4' && msg[1] == '2':
				n.Add(1)
			case len(msg) == 1 && msg[0] == '2':
				_ = conn.WriteMessage(websocket.TextMessage, []byte("3"))
			}
		}
	}()
	b.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

// BenchmarkClusterBroadcast measures broadcasts delivered per second
// across a cluster of three Go nodes on one nats-server, with ten
// clients on each node: one node emits to everyone, in windows of 500
// broadcasts, each window waited for (the scenario of adapter/redis's
// and adapter/postgres's benchmarks). The "core" run is on core NATS;
// the "jetstream" run has RecoveryWindow, so each broadcast is a
// JetStream publish, read back by every node. deliveries/s counts
// packets received by clients.
//
//	go test -run '^$' -bench ClusterBroadcast -benchtime 20000x
func BenchmarkClusterBroadcast(b *testing.B) {
	const (
		clientsPerNode = 10
		window         = 500
	)
	for _, mode := range []string{"core", "jetstream"} {
		b.Run(mode, func(b *testing.B) {
			var opts *natsadapter.Options
			if mode == "jetstream" {
				opts = &natsadapter.Options{RecoveryWindow: time.Minute}
			}
			benchmarkClusterBroadcast(b, opts, clientsPerNode, window)
		})
	}
}

func benchmarkClusterBroadcast(b *testing.B, opts *natsadapter.Options, clientsPerNode, window int) {
	ns := startNATS(b)
	var nodes []*goNode
	for i := range 3 {
		nodes = append(nodes, startGoNode(b, ns, fmt.Sprintf("n%d", i), opts))
	}
	waitServerCount(b, 3, nodes[0].io, nodes[1].io, nodes[2].io)
	var received atomic.Int64
	for _, n := range nodes {
		for range clientsPerNode {
			dialCounter(b, n.hs.URL, &received)
		}
	}
	clients := int64(3 * clientsPerNode)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n := min(window, b.N-sent)
		for j := range n {
			if err := nodes[0].io.Emit("b", j); err != nil {
				b.Fatal(err)
			}
		}
		sent += n
		want := int64(sent) * clients
		deadline := time.Now().Add(30 * time.Second)
		for received.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d packets delivered", received.Load(), want)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "broadcasts/s")
	b.ReportMetric(float64(int64(b.N)*clients)/elapsed.Seconds(), "deliveries/s")
}
