// Command benchtable turns the JSON lines of sioload runs into a markdown
// table of absolute figures and ratios: Duplex against the Node server and
// against the floor and, with -baseline, against another build of Duplex
// (bench/run.sh's BASELINE=<rev>). A case run several times shows the
// median of each figure. bench/run.sh calls it.
//
//	benchtable < results.jsonl
//	benchtable -baseline baseline -ref node,floor < results.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// result is the part of sioload's output the table shows.
type result struct {
	Case       string   `json:"case"`
	Scenario   string   `json:"scenario"`
	Server     string   `json:"server"`
	Clients    int      `json:"clients"`
	Rooms      int      `json:"rooms"`
	RoomsPer   int      `json:"rooms_per_client"`
	Offered    float64  `json:"offered_per_s"`
	Window     int      `json:"window"`
	PerSec     float64  `json:"per_s"`
	Ops        int      `json:"ops"`
	Errors     uint64   `json:"errors"`
	Lost       uint64   `json:"lost"`
	Skipped    uint64   `json:"skipped"`
	ToolCPU    float64  `json:"tool_cpu"`
	OtherCPU   float64  `json:"other_cpu"`
	ServerCPU  *float64 `json:"server_cpu"`
	ServerUsOp *float64 `json:"server_cpu_us_per_op"`
	Latency    *struct {
		P50, P99, P999 float64
	} `json:"latency_us"`
	Memory *struct {
		PerClient   float64 `json:"kib_per_client"`
		PerClientGC float64 `json:"kib_per_client_gc"`
		Heap        float64 `json:"heap_bytes_per_client"`
		Goroutines  float64 `json:"goroutines_per_client"`
		Reached     int     `json:"broadcast_reached"`
		AllMs       float64 `json:"broadcast_all_ms"`
		After       int     `json:"clients_after_close"`
		Pings       uint64  `json:"pings"`
	} `json:"memory"`
	Error string `json:"error"`
}

type metric struct {
	name  func(r *result) string
	value func(r *result) (float64, bool)
	lower bool // lower is better
}

func perSec(r *result) (float64, bool) { return r.PerSec, r.PerSec > 0 }
func cpuOp(r *result) (float64, bool) {
	if r.ServerUsOp == nil {
		return 0, false
	}
	return *r.ServerUsOp, true
}
func p50(r *result) (float64, bool) {
	if r.Latency == nil {
		return 0, false
	}
	return r.Latency.P50, true
}
func p99(r *result) (float64, bool) {
	if r.Latency == nil {
		return 0, false
	}
	return r.Latency.P99, true
}
func mem(f func(r *result) float64) func(r *result) (float64, bool) {
	return func(r *result) (float64, bool) {
		if r.Memory == nil {
			return 0, false
		}
		v := f(r)
		return v, v != 0
	}
}

func rate(r *result) string              { return strconv.FormatFloat(r.Offered, 'f', -1, 64) }
func count(n int) string                 { return strconv.Itoa(n) }
func text(s string) func(*result) string { return func(*result) string { return s } }

// inRooms is " in K rooms" for clients that joined K rooms (connect -join).
func inRooms(r *result) string { return " in " + count(r.RoomsPer) + " rooms" }

// Figures of the memory section of a result.
var (
	kibPerClient   = mem(func(r *result) float64 { return r.Memory.PerClient })
	kibPerClientGC = mem(func(r *result) float64 { return r.Memory.PerClientGC })
	heapPerClient  = mem(func(r *result) float64 { return r.Memory.Heap })
	pingsPerClient = mem(func(r *result) float64 { return float64(r.Memory.Pings) / float64(max(r.Ops, 1)) })
	reached        = mem(func(r *result) float64 { return float64(r.Memory.Reached) })
)

// rows lists, per case of bench/run.sh, the figures shown.
var rows = []struct {
	tag     string
	metrics []metric
}{
	{"connect", []metric{
		{func(r *result) string { return "WebSocket connections/s (" + count(r.Clients) + " clients)" }, perSec, false},
		{text("server CPU µs per connection"), cpuOp, true},
		{func(r *result) string { return "RSS KiB per idle client at " + count(r.Clients) }, mem(func(r *result) float64 { return r.Memory.PerClient }), true},
		{text("RSS KiB per idle client after forced GC"), mem(func(r *result) float64 { return r.Memory.PerClientGC }), true},
		{text("heap bytes per client (server's own count)"), mem(func(r *result) float64 { return r.Memory.Heap }), true},
		{text("ms for one broadcast to reach every client"), mem(func(r *result) float64 { return r.Memory.AllMs }), true},
	}},
	{"connect-rooms", []metric{
		{func(r *result) string { return "RSS KiB per idle client" + inRooms(r) + " at " + count(r.Clients) }, kibPerClient, true},
		{func(r *result) string {
			return "RSS KiB per idle client" + inRooms(r) + " after forced GC at " + count(r.Clients)
		}, kibPerClientGC, true},
		{func(r *result) string { return "heap bytes per client" + inRooms(r) + " (server's own count)" }, heapPerClient, true},
	}},
	{"connect-polling", []metric{
		{func(r *result) string { return "polling handshakes/s (" + count(r.Clients) + " clients)" }, perSec, false},
		{text("server CPU µs per polling handshake"), cpuOp, true},
	}},
	{"polling-idle", []metric{
		{func(r *result) string { return "RSS KiB per idle polling session at " + count(r.Clients) }, kibPerClient, true},
		{func(r *result) string {
			return "RSS KiB per idle polling session after forced GC at " + count(r.Clients)
		}, kibPerClientGC, true},
		{text("heap bytes per polling session (server's own count)"), heapPerClient, true},
		{text("heartbeats answered per polling session while held"), pingsPerClient, false},
		{text("polling sessions one broadcast reached"), reached, false},
	}},
	{"echo", []metric{
		{func(r *result) string { return "echo acks/s, closed loop, " + count(r.Clients) + " clients" }, perSec, false},
		{text("server CPU µs per echo ack at that peak"), cpuOp, true},
		{text("echo latency p50 µs"), p50, true},
		{text("echo latency p99 µs"), p99, true},
	}},
	{"echo-rate", []metric{
		{func(r *result) string { return "server CPU µs per echo ack at " + rate(r) + " acks/s" }, cpuOp, true},
		{text("echo latency p50 µs at that rate"), p50, true},
		{text("echo latency p99 µs at that rate"), p99, true},
	}},
	{"broadcast", []metric{
		{func(r *result) string {
			return "broadcast deliveries/s to " + count(r.Clients) + " clients, " + count(r.Window) + " in flight"
		}, perSec, false},
		{text("server CPU µs per delivery at that peak"), cpuOp, true},
		{text("delivery latency p50 µs"), p50, true},
		{text("delivery latency p99 µs"), p99, true},
	}},
	{"broadcast-rate", []metric{
		{func(r *result) string {
			return "server CPU µs per delivery at " + rate(r) + " deliveries/s to " + count(r.Clients) + " clients"
		}, cpuOp, true},
		{text("delivery latency p50 µs at that rate"), p50, true},
		{text("delivery latency p99 µs at that rate"), p99, true},
	}},
	{"rooms", []metric{
		{func(r *result) string {
			return "room deliveries/s, " + count(r.Rooms) + " rooms of " + count(r.Clients/max(r.Rooms, 1)) + ", " + count(r.Window) + " in flight"
		}, perSec, false},
		{text("server CPU µs per room delivery at that peak"), cpuOp, true},
		{text("room delivery latency p50 µs"), p50, true},
		{text("room delivery latency p99 µs"), p99, true},
	}},
	{"polling", []metric{
		{func(r *result) string { return "polling echo acks/s, closed loop, " + count(r.Clients) + " clients" }, perSec, false},
		{text("server CPU µs per polling echo ack at that peak"), cpuOp, true},
		{text("polling echo latency p50 µs"), p50, true},
		{text("polling echo latency p99 µs"), p99, true},
	}},
	{"polling-rate", []metric{
		{func(r *result) string { return "server CPU µs per polling echo ack at " + rate(r) + " acks/s" }, cpuOp, true},
	}},
	{"connect-scale", []metric{
		{func(r *result) string { return "held clients, through heartbeats" }, func(r *result) (float64, bool) { return float64(r.Ops), r.Ops > 0 }, false},
		{func(r *result) string { return "RSS KiB per idle client at that count" }, mem(func(r *result) float64 { return r.Memory.PerClient }), true},
		{text("RSS KiB per idle client after forced GC"), mem(func(r *result) float64 { return r.Memory.PerClientGC }), true},
		{text("heartbeats answered per client while held"), mem(func(r *result) float64 {
			return float64(r.Memory.Pings) / float64(max(r.Ops, 1))
		}), false},
		{text("clients one broadcast reached"), mem(func(r *result) float64 { return float64(r.Memory.Reached) }), false},
		{text("ms for that broadcast to reach every client"), mem(func(r *result) float64 { return r.Memory.AllMs }), true},
	}},
	{"connect-rooms-scale", []metric{
		{func(r *result) string { return "held clients" + inRooms(r) + ", through heartbeats" }, func(r *result) (float64, bool) { return float64(r.Ops), r.Ops > 0 }, false},
		{func(r *result) string { return "RSS KiB per idle client" + inRooms(r) + " at that count" }, kibPerClient, true},
		{func(r *result) string {
			return "RSS KiB per idle client" + inRooms(r) + " after forced GC at that count"
		}, kibPerClientGC, true},
		{func(r *result) string { return "heap bytes per client" + inRooms(r) + " (server's own count)" }, heapPerClient, true},
		{text("heartbeats answered per client while held"), pingsPerClient, false},
		{text("clients one broadcast reached"), reached, false},
	}},
	{"echo-2cores", []metric{
		{func(r *result) string { return "echo acks/s, server on both cores, " + count(r.Clients) + " clients" }, perSec, false},
	}},
	{"broadcast-2cores", []metric{
		{func(r *result) string { return "broadcast deliveries/s, server on both cores, to " + count(r.Clients) }, perSec, false},
	}},
}

func main() {
	base := flag.String("base", "duplex", "the server compared")
	others := flag.String("ref", "node,floor", "comma-separated reference servers")
	baseline := flag.String("baseline", "", "an earlier build of the server compared: its column comes first, its ratio before the references'")
	flag.Parse()
	results, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	var refs []string
	for _, r := range strings.Split(*others, ",") {
		if r = strings.TrimSpace(r); r != "" && r != *base && r != *baseline && !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	w := bufio.NewWriter(os.Stdout)
	table(w, results, *base, *baseline, refs)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// table writes the markdown table of results: a column per server, then
// base's figure over each other server's. A baseline (when not "") is
// another build of base: its column goes right before base's, as its runs
// do, and its ratio before the references'.
func table(w io.Writer, results map[string]map[string][]*result, base, baseline string, refs []string) {
	servers := append([]string{base}, refs...)
	if baseline != "" {
		refs = append([]string{baseline}, refs...)
		servers = append([]string{baseline}, servers...)
	}

	fmt.Fprintf(w, "| figure | %s |", strings.Join(servers, " | "))
	for _, r := range refs {
		fmt.Fprintf(w, " %s/%s |", base, r)
	}
	fmt.Fprintf(w, " load tool CPU (%s) |\n", strings.Join(servers, " / "))
	fmt.Fprint(w, "|---|")
	for range servers {
		fmt.Fprint(w, "---:|")
	}
	for range refs {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w, "---|")

	var notes []string
	for _, row := range rows {
		byServer := results[row.tag]
		if len(byServer) == 0 {
			continue
		}
		var any *result
		for _, s := range servers {
			if rs := byServer[s]; len(rs) > 0 {
				any = rs[0]
				break
			}
		}
		if any == nil {
			continue
		}
		for i, m := range row.metrics {
			arrow := "↑"
			if m.lower {
				arrow = "↓"
			}
			fmt.Fprintf(w, "| %s %s |", m.name(any), arrow)
			vals := map[string]float64{}
			for _, s := range servers {
				var vs []float64
				for _, r := range byServer[s] {
					if v, ok := m.value(r); ok {
						vs = append(vs, v)
					}
				}
				if len(vs) == 0 {
					fmt.Fprint(w, " – |")
					continue
				}
				v := median(vs)
				vals[s] = v
				fmt.Fprintf(w, " %s |", num(v))
			}
			for _, ref := range refs {
				b, ok1 := vals[base]
				o, ok2 := vals[ref]
				if !ok1 || !ok2 || o == 0 {
					fmt.Fprint(w, " – |")
					continue
				}
				fmt.Fprintf(w, " %.2f |", b/o)
			}
			if i == 0 {
				var cpus []string
				for _, s := range servers {
					var vs []float64
					for _, r := range byServer[s] {
						vs = append(vs, r.ToolCPU)
					}
					if len(vs) > 0 {
						cpus = append(cpus, strconv.FormatFloat(median(vs), 'f', 2, 64))
					} else {
						cpus = append(cpus, "–")
					}
				}
				fmt.Fprintf(w, " %s |\n", strings.Join(cpus, " / "))
			} else {
				fmt.Fprintln(w, " |")
			}
		}
		for _, s := range servers {
			for i, r := range byServer[s] {
				var bad []string
				if r.Error != "" {
					bad = append(bad, "error: "+r.Error)
				}
				if r.Errors > 0 {
					bad = append(bad, fmt.Sprintf("%d errors", r.Errors))
				}
				if r.Lost > 0 {
					bad = append(bad, fmt.Sprintf("%d deliveries lost", r.Lost))
				}
				if r.Skipped > 0 {
					bad = append(bad, fmt.Sprintf("%d sends skipped (server behind the offered rate)", r.Skipped))
				}
				if r.Memory != nil && r.Memory.Reached != r.Ops {
					bad = append(bad, fmt.Sprintf("broadcast reached %d of %d clients", r.Memory.Reached, r.Ops))
				}
				if r.Memory != nil && r.Memory.After > 0 {
					bad = append(bad, fmt.Sprintf("%d clients still counted after all closed", r.Memory.After))
				}
				if r.OtherCPU > 0.2 {
					bad = append(bad, fmt.Sprintf("other processes used %.2f cores meanwhile", r.OtherCPU))
				}
				if r.ToolCPU > 0.9 {
					bad = append(bad, fmt.Sprintf("load tool at %.2f cores: figure bounded by the tool", r.ToolCPU))
				}
				if len(bad) > 0 {
					run := ""
					if len(byServer[s]) > 1 {
						run = fmt.Sprintf(" (run %d)", i+1)
					}
					notes = append(notes, fmt.Sprintf("%s, %s%s: %s", row.tag, s, run, strings.Join(bad, "; ")))
				}
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

// Tag is the case a result belongs to.
func (r *result) Tag() string {
	if r.Case != "" {
		return r.Case
	}
	return r.Scenario
}

// read groups results by case and server; a case run several times has
// several results per server.
func read(in io.Reader) (map[string]map[string][]*result, error) {
	out := map[string]map[string][]*result{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] != '{' {
			continue
		}
		r := new(result)
		if err := json.Unmarshal([]byte(line), r); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		if out[r.Tag()] == nil {
			out[r.Tag()] = map[string][]*result{}
		}
		out[r.Tag()][r.Server] = append(out[r.Tag()][r.Server], r)
	}
	return out, sc.Err()
}

// median is the middle value, or the mean of the two middle ones.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// num prints a figure with three significant digits, or as an integer.
func num(v float64) string {
	switch {
	case v >= 1000 || v <= -1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
