package clustertest

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchBroadcast measures broadcasts delivered per second across a
// cluster whose nodes serve at urls: clientsPerNode bare clients connect
// to each, then emit(n) has one node emit n broadcasts of the event "b"
// to everyone, in windows of window broadcasts, each window waited for
// until every client has every broadcast. It reports broadcasts/s and
// deliveries/s (packets received by clients).
func BenchBroadcast(b *testing.B, urls []string, clientsPerNode, window int, emit func(n int)) {
	var received atomic.Int64
	for _, u := range urls {
		for range clientsPerNode {
			dialCounter(b, u, &received)
		}
	}
	clients := int64(len(urls) * clientsPerNode)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n := min(window, b.N-sent)
		emit(n)
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

// dialCounter connects a bare client to the namespace "/" of the server
// at baseURL that counts the EVENT packets it receives in n and answers
// pings, until the benchmark ends.
func dialCounter(b *testing.B, baseURL string, n *atomic.Int64) {
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
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	b.Cleanup(func() { conn.Close(); <-done })
}

// GoEmit is the emit function of BenchBroadcast for a Go node.
func GoEmit(b *testing.B, n *GoNode) func(int) {
	return func(count int) {
		for j := range count {
			if err := n.IO.Emit("b", j); err != nil {
				b.Fatal(err)
			}
		}
	}
}
