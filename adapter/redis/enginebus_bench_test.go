package redisadapter_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duplexio/duplex/socketio"
)

// BenchmarkPollingForwarded measures what serving a polling session's
// requests on another node costs: one op is an event with an ack over
// long-polling (a POST carrying the event, then the GET that gets the
// ack), sent to the node holding the session ("direct") or to another
// node, which serves both requests over the engine bus ("forwarded").
// Besides the time per op, cpu-µs/op is the CPU of the whole cluster per
// op: this process (client and both nodes) and redis-server.
func BenchmarkPollingForwarded(b *testing.B) {
	r := startRedis(b, false)
	var nodes []*busNode
	for range 2 {
		nodes = append(nodes, startBusNode(b, r, func(io *socketio.Server) {
			io.OnConnection(func(s *socketio.Socket) {
				s.On("echo", func(text string, ack socketio.Ack) { _ = ack(text) })
			})
		}))
	}
	b.Cleanup(func() {
		for _, n := range nodes {
			n.close()
		}
	})
	for _, mode := range []string{"direct", "forwarded"} {
		b.Run(mode, func(b *testing.B) {
			c := &rrClient{t: b, nodes: nodes[:1], hc: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout}}
			defer c.hc.CloseIdleConnections()
			open := c.get()
			c.sid = open[len(`0{"sid":"`) : len(`0{"sid":"`)+20]
			c.post("40")
			c.getUntil("40")
			if mode == "forwarded" {
				c.nodes = nodes[1:]
			}
			redisCPU := procCPU(b, r.pid())
			selfCPU := rusageCPU()
			b.ResetTimer()
			for i := range b.N {
				c.post(fmt.Sprintf(`42%d["echo","x"]`, i))
				c.getUntil("43")
			}
			b.StopTimer()
			cpu := rusageCPU() - selfCPU + procCPU(b, r.pid()) - redisCPU
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			c.post("1")
		})
	}
}

// rusageCPU is this process's CPU time so far.
func rusageCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU time of process pid so far, from /proc (Linux).
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100) // clock ticks
}
