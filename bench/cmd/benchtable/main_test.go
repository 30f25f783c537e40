package main

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := `{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":300,"tool_cpu":0.5,"server_cpu_us_per_op":20}
{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":100,"tool_cpu":0.5,"server_cpu_us_per_op":30}
{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":200,"tool_cpu":0.95,"server_cpu_us_per_op":10}
{"case":"echo","scenario":"echo","server":"node","clients":50,"per_s":100,"tool_cpu":0.4}
`
	res, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res["echo"]["duplex"]); n != 3 {
		t.Fatalf("%d duplex results, want 3", n)
	}
	var vs []float64
	for _, r := range res["echo"]["duplex"] {
		v, _ := perSec(r)
		vs = append(vs, v)
	}
	if m := median(vs); m != 200 {
		t.Errorf("median %v, want 200", m)
	}
	if m := median([]float64{1, 2, 3, 4}); m != 2.5 {
		t.Errorf("median of four %v, want 2.5", m)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{43196.4: "43196", 155.4: "155", 12.94: "12.9", 0.818: "0.82"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestTable checks the columns and ratios, with and without a baseline
// build of Duplex beside the current one.
func TestTable(t *testing.T) {
	in := `{"case":"echo","scenario":"echo","server":"baseline","clients":50,"per_s":100,"tool_cpu":0.5,"server_cpu_us_per_op":40}
{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":200,"tool_cpu":0.75,"server_cpu_us_per_op":20}
{"case":"echo","scenario":"echo","server":"node","clients":50,"per_s":50,"tool_cpu":0.25,"server_cpu_us_per_op":80}
{"case":"echo-rate","scenario":"echo","server":"baseline","clients":50,"offered_per_s":5000,"per_s":5000,"tool_cpu":0.2,"server_cpu_us_per_op":30}
{"case":"echo-rate","scenario":"echo","server":"duplex","clients":50,"offered_per_s":5000,"per_s":5000,"tool_cpu":0.2,"server_cpu_us_per_op":24}
`
	res, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		baseline string
		refs     []string
		want     string
	}{
		{"node only", "", []string{"node"}, `| figure | duplex | node | duplex/node | load tool CPU (duplex / node) |
|---|---:|---:|---:|---|
| echo acks/s, closed loop, 50 clients ↑ | 200 | 50.0 | 4.00 | 0.75 / 0.25 |
| server CPU µs per echo ack at that peak ↓ | 20.0 | 80.0 | 0.25 | |
| echo latency p50 µs ↓ | – | – | – | |
| echo latency p99 µs ↓ | – | – | – | |
| server CPU µs per echo ack at 5000 acks/s ↓ | 24.0 | – | – | 0.20 / – |
| echo latency p50 µs at that rate ↓ | – | – | – | |
| echo latency p99 µs at that rate ↓ | – | – | – | |
`},
		{"baseline", "baseline", []string{"node"}, `| figure | baseline | duplex | node | duplex/baseline | duplex/node | load tool CPU (baseline / duplex / node) |
|---|---:|---:|---:|---:|---:|---|
| echo acks/s, closed loop, 50 clients ↑ | 100 | 200 | 50.0 | 2.00 | 4.00 | 0.50 / 0.75 / 0.25 |
| server CPU µs per echo ack at that peak ↓ | 40.0 | 20.0 | 80.0 | 0.50 | 0.25 | |
| echo latency p50 µs ↓ | – | – | – | – | – | |
| echo latency p99 µs ↓ | – | – | – | – | – | |
| server CPU µs per echo ack at 5000 acks/s ↓ | 30.0 | 24.0 | – | 0.80 | – | 0.20 / 0.20 / – |
| echo latency p50 µs at that rate ↓ | – | – | – | – | – | |
| echo latency p99 µs at that rate ↓ | – | – | – | – | – | |
`},
		{"baseline alone", "baseline", nil, `| figure | baseline | duplex | duplex/baseline | load tool CPU (baseline / duplex) |
|---|---:|---:|---:|---|
| echo acks/s, closed loop, 50 clients ↑ | 100 | 200 | 2.00 | 0.50 / 0.75 |
| server CPU µs per echo ack at that peak ↓ | 40.0 | 20.0 | 0.50 | |
| echo latency p50 µs ↓ | – | – | – | |
| echo latency p99 µs ↓ | – | – | – | |
| server CPU µs per echo ack at 5000 acks/s ↓ | 30.0 | 24.0 | 0.80 | 0.20 / 0.20 |
| echo latency p50 µs at that rate ↓ | – | – | – | |
| echo latency p99 µs at that rate ↓ | – | – | – | |
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			table(&b, res, "duplex", tc.baseline, tc.refs)
			if got := b.String(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestMemoryRows checks the rows of the idle-memory cases: clients in
// rooms, and idle polling sessions, with a broadcast that missed a session
// noted under the table.
func TestMemoryRows(t *testing.T) {
	in := `{"case":"connect-rooms","scenario":"connect","server":"duplex","clients":10000,"rooms_per_client":3,"ops":10000,"tool_cpu":0.5,"memory":{"kib_per_client":8,"kib_per_client_gc":6,"heap_bytes_per_client":5000,"broadcast_reached":10000}}
{"case":"connect-rooms","scenario":"connect","server":"node","clients":10000,"rooms_per_client":3,"ops":10000,"tool_cpu":0.25,"memory":{"kib_per_client":16,"kib_per_client_gc":16,"heap_bytes_per_client":12500,"broadcast_reached":10000}}
{"case":"polling-idle","scenario":"polling-idle","server":"duplex","clients":1000,"ops":1000,"tool_cpu":0.1,"memory":{"kib_per_client":20,"kib_per_client_gc":15,"heap_bytes_per_client":9000,"pings":1000,"broadcast_reached":1000}}
{"case":"polling-idle","scenario":"polling-idle","server":"node","clients":1000,"ops":1000,"tool_cpu":0.2,"memory":{"kib_per_client":40,"kib_per_client_gc":40,"heap_bytes_per_client":30000,"pings":1000,"broadcast_reached":999}}
`
	res, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	table(&b, res, "duplex", "", []string{"node"})
	want := `| figure | duplex | node | duplex/node | load tool CPU (duplex / node) |
|---|---:|---:|---:|---|
| RSS KiB per idle client in 3 rooms at 10000 ↓ | 8.00 | 16.0 | 0.50 | 0.50 / 0.25 |
| RSS KiB per idle client in 3 rooms after forced GC at 10000 ↓ | 6.00 | 16.0 | 0.38 | |
| heap bytes per client in 3 rooms (server's own count) ↓ | 5000 | 12500 | 0.40 | |
| RSS KiB per idle polling session at 1000 ↓ | 20.0 | 40.0 | 0.50 | 0.10 / 0.20 |
| RSS KiB per idle polling session after forced GC at 1000 ↓ | 15.0 | 40.0 | 0.38 | |
| heap bytes per polling session (server's own count) ↓ | 9000 | 30000 | 0.30 | |
| heartbeats answered per polling session while held ↑ | 1.00 | 1.00 | 1.00 | |
| polling sessions one broadcast reached ↑ | 1000 | 999 | 1.00 | |

- polling-idle, node: broadcast reached 999 of 1000 clients
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
