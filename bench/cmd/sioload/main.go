// Command sioload is a load generator for Socket.IO v5 servers (Engine.IO
// v4). It speaks the protocol itself over WebSocket and HTTP long-polling,
// drives a server on loopback with a bounded number of clients for a
// bounded time, and prints one JSON line per scenario.
//
// The server must implement the small contract of the reference servers
// in bench/servers: "echo" answers its ack with its arguments, "broadcast"
// emits "broadcast" with its arguments to every socket of "/", "join"
// joins a room and acks, "to" emits "broadcast" with the remaining
// arguments to the room named by the first, and "gc" collects garbage and
// acks {clients, goroutines, heap, rss}.
//
//	sioload -url http://127.0.0.1:3000 -scenario echo -c 50 -duration 5s -pid 1234
//
// See bench/README.md for the scenarios and what they measure.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

type config struct {
	url       string
	label     string
	tag       string
	pid       string
	scenarios []string
	n         int
	conc      int
	transport string
	duration  time.Duration
	warmup    time.Duration
	rate      float64
	window    int
	rooms     int
	join      int
	payload   int
	hold      time.Duration
	timeout   time.Duration
}

// exitCode is set by realMain, so that its deferred calls run first.
var exitCode int

func main() {
	realMain()
	os.Exit(exitCode)
}

func realMain() {
	var cfg config
	var scen string
	var pid int
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:3000", "server `URL` (loopback); the Engine.IO path defaults to /socket.io/")
	flag.StringVar(&cfg.label, "label", "", "server name to put in the output")
	flag.StringVar(&cfg.tag, "case", "", "case name to put in the output (bench/run.sh names its runs)")
	flag.IntVar(&pid, "pid", 0, "server `pid`, to read its CPU time and resident memory from /proc")
	flag.StringVar(&scen, "scenario", "echo", "comma-separated scenarios: connect, echo, broadcast, rooms, polling, polling-idle")
	flag.IntVar(&cfg.n, "n", 1000, "clients connected (connect, broadcast, rooms, polling-idle)")
	flag.IntVar(&cfg.conc, "c", 50, "clients in the closed loop (echo, polling), or dialing at once (connect)")
	flag.StringVar(&cfg.transport, "transport", "websocket", "connect scenario transport: websocket or polling")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measurement window")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "time run before the measurement window")
	flag.Float64Var(&cfg.rate, "rate", 0, "offered rate (echo, polling: acks/s; broadcast, rooms: deliveries/s); 0 = closed loop, as fast as the server goes")
	flag.IntVar(&cfg.window, "window", 8, "broadcasts in flight in the closed loop (broadcast, rooms)")
	flag.IntVar(&cfg.rooms, "rooms", 100, "rooms (rooms)")
	flag.IntVar(&cfg.join, "join", 0, "connect: rooms each client joins once connected (r0-<i mod 100>, r1-<i mod 1000>, ..., then u<i/2>)")
	flag.IntVar(&cfg.payload, "payload", 32, "bytes of the string argument of each event")
	flag.DurationVar(&cfg.hold, "hold", 0, "connect, polling-idle: time the clients stay connected before memory is read (heartbeats)")
	flag.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "bound on each scenario's run time")
	cpuProfile := flag.String("cpuprofile", "", "write the load tool's CPU profile to `file`")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			logf("%v", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			logf("%v", err)
			os.Exit(2)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	if pid > 0 {
		cfg.pid = fmt.Sprint(pid)
	}
	if cfg.join < 0 {
		logf("-join %d: want 0 or more", cfg.join)
		os.Exit(2)
	}
	for _, s := range strings.Split(scen, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.scenarios = append(cfg.scenarios, s)
		}
	}
	failed := false
	for _, s := range cfg.scenarios {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
		res, err := run(ctx, &cfg, s)
		cancel()
		if err != nil {
			logf("%s: %v", s, err)
			failed = true
			if res == nil {
				res = &result{Scenario: s}
			}
			res.Error = err.Error()
		}
		res.Server = cfg.label
		res.Case = cfg.tag
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			logf("%v", err)
			exitCode = 1
			return
		}
	}
	if failed {
		exitCode = 1
	}
}

func run(ctx context.Context, cfg *config, scenario string) (*result, error) {
	switch scenario {
	case "connect":
		if cfg.transport == "polling" {
			return runConnectPolling(ctx, cfg)
		}
		return runConnect(ctx, cfg)
	case "echo":
		return runEcho(ctx, cfg)
	case "broadcast":
		return runBroadcast(ctx, cfg, false)
	case "rooms":
		return runBroadcast(ctx, cfg, true)
	case "polling":
		return runPollingEcho(ctx, cfg)
	case "polling-idle":
		return runPollingIdle(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sioload: "+format+"\n", args...)
}

// result is the JSON line printed for a scenario. Rates are per second of
// the measurement window; CPU figures are in cores (1 = one core busy).
type result struct {
	Case      string `json:"case,omitempty"`
	Scenario  string `json:"scenario"`
	Server    string `json:"server,omitempty"`
	Transport string `json:"transport,omitempty"`
	Clients   int    `json:"clients"`
	Rooms     int    `json:"rooms,omitempty"`
	// RoomsPerClient is how many rooms each client joined (connect -join).
	RoomsPerClient int     `json:"rooms_per_client,omitempty"`
	Offered        float64 `json:"offered_per_s,omitempty"`
	Window         int     `json:"window,omitempty"`
	Payload        int     `json:"payload_bytes,omitempty"`
	Seconds        float64 `json:"seconds"`

	// Unit names what Ops counts: connections, acks or deliveries.
	Unit     string   `json:"unit"`
	Ops      uint64   `json:"ops"`
	PerSec   float64  `json:"per_s"`
	Latency  *latency `json:"latency_us,omitempty"`
	Errors   uint64   `json:"errors"`
	Lost     uint64   `json:"lost,omitempty"`
	Skipped  uint64   `json:"skipped,omitempty"`
	ToolCPU  float64  `json:"tool_cpu"`
	ToolUsOp float64  `json:"tool_cpu_us_per_op"`
	// Server figures, present when -pid was given.
	ServerCPU  *float64 `json:"server_cpu,omitempty"`
	ServerUsOp *float64 `json:"server_cpu_us_per_op,omitempty"`
	// OtherCPU is what the rest of the machine used meanwhile (other
	// processes, interrupts): a busy machine makes the figures unreliable.
	OtherCPU float64 `json:"other_cpu"`

	Memory *memory `json:"memory,omitempty"`
	Error  string  `json:"error,omitempty"`
}

type latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// memory is what the connect and polling-idle scenarios measure of the
// server's memory.
type memory struct {
	// VmRSS before the clients connect (after a forced GC), with the
	// clients connected, and then after a forced GC, in KiB.
	BaseKiB int64 `json:"rss_base_kib"`
	RSSKiB  int64 `json:"rss_kib"`
	GCKiB   int64 `json:"rss_gc_kib"`
	// Per connected client, without and with the forced GC.
	PerClientKiB   float64 `json:"kib_per_client"`
	PerClientGCKiB float64 `json:"kib_per_client_gc"`
	// What the server says after the forced GC with the clients connected.
	HeapPerClient       float64 `json:"heap_bytes_per_client,omitempty"`
	GoroutinesPerClient float64 `json:"goroutines_per_client,omitempty"`
	// Heartbeats the clients got while held.
	Pings uint64 `json:"pings"`
	// A broadcast to every client with all of them connected.
	BroadcastReached int     `json:"broadcast_reached"`
	BroadcastAllMs   float64 `json:"broadcast_all_ms"`
	// After every client closed: what the server still counts, and its
	// memory after a forced GC.
	ClientsAfter    int   `json:"clients_after_close"`
	GoroutinesAfter int   `json:"goroutines_after_close,omitempty"`
	GoroutinesBase  int   `json:"goroutines_base,omitempty"`
	RSSAfterKiB     int64 `json:"rss_after_close_kib"`
}

// fill sets the rate and CPU figures of r from a measurement window.
func (r *result) fill(ops uint64, u cpuUse) {
	r.Ops = ops
	r.Seconds = round(u.Wall.Seconds(), 3)
	r.PerSec = round(float64(ops)/u.Wall.Seconds(), 1)
	r.ToolCPU = round(u.Self.Seconds()/u.Wall.Seconds(), 3)
	r.OtherCPU = round(max(u.Other.Seconds(), 0)/u.Wall.Seconds(), 3)
	if ops > 0 {
		r.ToolUsOp = round(float64(u.Self.Microseconds())/float64(ops), 3)
	}
	if u.Server >= 0 {
		c := round(u.Server.Seconds()/u.Wall.Seconds(), 3)
		r.ServerCPU = &c
		if ops > 0 {
			p := round(float64(u.Server.Microseconds())/float64(ops), 3)
			r.ServerUsOp = &p
		}
	}
}

func (r *result) setLatency(h *histogram) {
	if h.Count() == 0 {
		return
	}
	us := func(d time.Duration) float64 { return round(float64(d)/1e3, 1) }
	r.Latency = &latency{
		P50:  us(h.Quantile(0.50)),
		P99:  us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)),
		Max:  us(h.Max()),
	}
}

func round(v float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// payloadJSON returns the JSON string of n bytes that events carry.
func payloadJSON(n int) []byte {
	b := make([]byte, 0, n+2)
	b = append(b, '"')
	for i := 0; i < n; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, '"')
}
