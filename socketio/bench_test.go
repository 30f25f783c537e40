package socketio

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkBroadcast measures a broadcast to n sockets connected over
// loopback WebSockets, from the emit to the last delivery: one op is one
// broadcast, and deliveries/s counts the packets the clients received.
// The clients are bare gorilla connections that count the frames they read.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			io := NewServer(nil)
			mux := http.NewServeMux()
			mux.Handle("/socket.io/", io)
			hs := httptest.NewServer(mux)
			defer hs.Close()
			defer io.Close()

			var received atomic.Int64
			var wg sync.WaitGroup
			conns := make([]*websocket.Conn, n)
			url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
			for i := range conns {
				c, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
				if _, _, err := c.ReadMessage(); err != nil { // the open packet
					b.Fatal(err)
				}
				if err := c.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil { // the CONNECT answer
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						_, data, err := c.ReadMessage()
						if err != nil {
							return
						}
						if len(data) > 0 && data[0] == '4' {
							received.Add(1)
						}
					}
				}()
			}
			defer func() {
				for _, c := range conns {
					c.Close()
				}
				wg.Wait()
			}()

			payload := strings.Repeat("x", 32)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var want int64
			for b.Loop() {
				want += int64(n)
				if err := io.Emit("broadcast", payload); err != nil {
					b.Fatal(err)
				}
				for received.Load() < want {
					time.Sleep(10 * time.Microsecond)
				}
			}
			b.ReportMetric(float64(want)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
