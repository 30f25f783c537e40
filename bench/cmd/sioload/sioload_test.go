package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/socketio"
)

// newServer starts a Socket.IO server with the contract of the reference
// servers (bench/servers/duplex).
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	io := socketio.NewServer(nil)
	pass := func(args socketio.Args) []any {
		out := make([]any, len(args))
		for i, a := range args {
			out[i] = a
		}
		return out
	}
	io.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(args socketio.Args, ack socketio.Ack) { _ = ack(pass(args)...) })
		s.On("broadcast", func(args socketio.Args) { _ = io.Emit("broadcast", pass(args)...) })
		s.On("join", func(room string, ack socketio.Ack) {
			s.Join(room)
			_ = ack()
		})
		s.On("to", func(room string, args socketio.Args) { _ = io.To(room).Emit("broadcast", pass(args)...) })
		s.On("gc", func(ack socketio.Ack) {
			_ = ack(map[string]any{"clients": io.Engine().SessionCount(), "goroutines": runtime.NumGoroutine()})
		})
	})
	ts := httptest.NewServer(io)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		ts.Close()
	})
	return ts
}

func testConfig(url string) *config {
	return &config{
		url:      url,
		pid:      fmt.Sprint(os.Getpid()),
		n:        6,
		conc:     3,
		duration: 150 * time.Millisecond,
		warmup:   20 * time.Millisecond,
		window:   2,
		rooms:    3,
		payload:  16,
	}
}

func TestScenarios(t *testing.T) {
	ts := newServer(t)
	for _, tc := range []struct {
		scenario, transport string
		rate                float64
		join                int
	}{
		{"connect", "websocket", 0, 0},
		{"connect", "websocket", 0, 3},
		{"connect", "polling", 0, 0},
		{"polling-idle", "", 0, 0},
		{"echo", "", 0, 0},
		{"echo", "", 500, 0},
		{"broadcast", "", 0, 0},
		{"broadcast", "", 2000, 0},
		{"rooms", "", 0, 0},
		{"polling", "", 0, 0},
		{"polling", "", 200, 0},
	} {
		name := tc.scenario + "/" + tc.transport + fmt.Sprint(tc.rate)
		if tc.join > 0 {
			name += fmt.Sprintf("/join%d", tc.join)
		}
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(ts.URL)
			cfg.transport = tc.transport
			cfg.rate = tc.rate
			cfg.join = tc.join
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := run(ctx, cfg, tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops == 0 || res.PerSec <= 0 {
				t.Errorf("no %s: %+v", res.Unit, res)
			}
			if res.Errors != 0 || res.Lost != 0 {
				t.Errorf("errors %d, lost %d", res.Errors, res.Lost)
			}
			if res.ServerCPU == nil {
				t.Error("no server CPU figure for a pid")
			}
			if tc.scenario != "connect" && tc.scenario != "polling-idle" && (res.Latency == nil || res.Latency.P50 <= 0) {
				t.Errorf("no latency: %+v", res.Latency)
			}
			if res.RoomsPerClient != tc.join {
				t.Errorf("rooms per client %d, want %d", res.RoomsPerClient, tc.join)
			}
			if m := res.Memory; tc.transport == "websocket" || tc.scenario == "polling-idle" {
				if m == nil {
					t.Fatal("no memory figures")
				}
				if m.BroadcastReached != cfg.n || m.ClientsAfter != 0 || m.RSSKiB == 0 {
					t.Errorf("memory %+v", m)
				}
			}
		})
	}
}

// roomsOf gives each client shared rooms and, last, its user's room.
func TestRoomsOf(t *testing.T) {
	for _, tc := range []struct {
		i, k int
		want string
	}{
		{0, 0, ""},
		{7, 1, "u3"},
		{1234, 2, "r0-34 u617"},
		{1234, 3, "r0-34 r1-234 u617"},
		{98765, 4, "r0-65 r1-765 r2-8765 u49382"},
	} {
		if got := strings.Join(roomsOf(tc.i, tc.k), " "); got != tc.want {
			t.Errorf("roomsOf(%d, %d) = %q, want %q", tc.i, tc.k, got, tc.want)
		}
	}
	// At 10,000 clients in 3 rooms: 100 rooms of 100, 1,000 of 10, 5,000 of 2.
	members := map[string]int{}
	for i := 0; i < 10000; i++ {
		for _, r := range roomsOf(i, 3) {
			members[r]++
		}
	}
	sizes := map[string]map[int]int{} // room kind → room size → rooms
	for r, n := range members {
		kind := r[:1]
		if kind == "r" {
			kind = r[:2]
		}
		if sizes[kind] == nil {
			sizes[kind] = map[int]int{}
		}
		sizes[kind][n]++
	}
	want := map[string]map[int]int{"r0": {100: 100}, "r1": {10: 1000}, "u": {2: 5000}}
	if fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("room sizes %v, want %v", sizes, want)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.Quantile(tc.q)
		if d := got - tc.want; d < -tc.want/50 || d > tc.want/50 {
			t.Errorf("q%v = %v, want %v within 2%%", tc.q, got, tc.want)
		}
	}
	for v := uint64(0); v < 1<<20; v = v*3/2 + 1 {
		i := bucketOf(v)
		if lo, hi := lowerBound(i), lowerBound(i+1); v < lo || v >= hi {
			t.Fatalf("%d in bucket %d [%d, %d)", v, i, lo, hi)
		}
	}
}

func TestAckID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		id   uint64
		rest string
	}{{`12["a"]`, 12, `["a"]`}, {`[1]`, 0, `[1]`}, {`0[]`, 0, `[]`}} {
		id, rest := ackID([]byte(tc.in))
		if id != tc.id || string(rest) != tc.rest {
			t.Errorf("ackID(%q) = %d, %q", tc.in, id, rest)
		}
	}
}

// The polling client reads chunked responses and redials a connection the
// server closed.
func TestHTTPConn(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("close") == "1" {
			w.Header().Set("Connection", "close")
		}
		_, _ = w.Write([]byte("ab"))
		w.(http.Flusher).Flush() // chunked from here
		_, _ = w.Write([]byte("cd"))
	}))
	defer ts.Close()
	h := &httpConn{addr: strings.TrimPrefix(ts.URL, "http://")}
	defer h.close()
	ctx := context.Background()
	for _, q := range []string{"", "close=1", ""} {
		body, err := h.roundTrip(ctx, []byte("GET /?"+q+" HTTP/1.1\r\nHost: x\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, []byte("abcd")) {
			t.Fatalf("body %q", body)
		}
	}
}
