package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

var broadcastPrefix = []byte(`["broadcast",`)

// runConnect connects cfg.n clients over WebSocket, cfg.conc at a time,
// and measures connections/s; with cfg.join > 0 each client then joins
// that many rooms (roomsOf). With every client connected it measures the
// server's memory per client (without and after a forced GC), one
// broadcast to all of them, and what the server keeps once they closed.
func runConnect(ctx context.Context, cfg *config) (*result, error) {
	target, err := wsURL(cfg.url)
	if err != nil {
		return nil, err
	}
	var reached, want, allAt atomic.Int64
	onEvent := func(_ *client, data []byte) {
		if bytes.HasPrefix(data, broadcastPrefix) && reached.Add(1) == want.Load() {
			allAt.Store(now())
		}
	}
	var joined, joinWant atomic.Int64
	joinedAll := make(chan struct{})
	onAck := func(*client, uint64, []byte) { // the acks of join
		if joined.Add(1) == joinWant.Load() {
			close(joinedAll)
		}
	}
	ctl, err := newControl(ctx, target, onEvent)
	if err != nil {
		return nil, err
	}
	defer ctl.c.close()

	res := &result{Scenario: "connect", Transport: "websocket", Clients: cfg.n, RoomsPerClient: cfg.join, Unit: "connections"}
	mem := &memory{}
	res.Memory = mem
	base, err := baseMemory(ctx, cfg, ctl, mem)
	if err != nil {
		return res, err
	}

	m := startCPU(cfg.pid)
	clients, fails := dialMany(ctx, target, cfg.n, cfg.conc, handlers{onEvent: onEvent, onAck: onAck})
	u := m.stop()
	defer closeAll(clients)
	res.fill(uint64(len(clients)), u)
	res.Errors = uint64(fails)
	n := len(clients)
	if n == 0 {
		return res, errors.New("no client connected")
	}

	if cfg.join > 0 {
		joinWant.Store(int64(n * cfg.join))
		if err := joinAll(ctx, clients, cfg.join, joinedAll, joined.Load); err != nil {
			return res, err
		}
	}
	if err := sleep(ctx, cfg.hold); err != nil {
		return res, err
	}
	for _, c := range clients {
		mem.Pings += c.pings.Load()
		select {
		case <-c.done: // closed while held
			res.Errors++
		default:
		}
	}
	if err := idleMemory(ctx, cfg, ctl, mem, base, n); err != nil {
		return res, err
	}

	// One broadcast to everyone, the control client included.
	want.Store(int64(n + 1))
	t0 := now()
	if err := ctl.c.emit(-1, []byte(`["broadcast",0,"all"]`)); err != nil {
		return res, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for reached.Load() < want.Load() && time.Now().Before(deadline) {
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return res, err
		}
	}
	mem.BroadcastReached = int(reached.Load()) - 1
	if at := allAt.Load(); at > 0 {
		mem.BroadcastAllMs = round(float64(at-t0)/1e6, 2)
	}

	closeAll(clients)
	return res, leftAfterClose(ctx, cfg, ctl, mem)
}

// roomsOf names the k rooms that client i joins in the connect scenario,
// shaped as a real application's: rooms shared by many clients (the
// first, r0-<i mod 100>, shared by one client in 100; the next, r1-<i mod
// 1000>, by one in 1000; and so on by tenfold steps), and as the last one
// a user's own room, u<i/2>, that two clients share as two tabs of one
// user would. For k = 3 and 10,000 clients: 100 rooms of 100 clients,
// 1,000 of 10 and 5,000 of 2.
func roomsOf(i, k int) []string {
	out := make([]string, 0, k)
	mod := 100
	for j := 0; j < k-1; j++ {
		out = append(out, "r"+strconv.Itoa(j)+"-"+strconv.Itoa(i%mod))
		mod *= 10
	}
	if k > 0 {
		out = append(out, "u"+strconv.Itoa(i/2))
	}
	return out
}

// joinRoomsWithin bounds the wait for the acks of all the joins.
const joinRoomsWithin = time.Minute

// joinAll has client i of clients emit join(room, ack) for each of
// roomsOf(i, k), then waits until done is closed (the clients' ack
// handler closes it at the last ack); acked counts the acks so far.
func joinAll(ctx context.Context, clients []*client, k int, done <-chan struct{}, acked func() int64) error {
	buf := make([]byte, 0, 32)
	for i, c := range clients {
		for j, room := range roomsOf(i, k) {
			buf = append(append(append(buf[:0], `["join",`...), strconv.Quote(room)...), ']')
			if err := c.emit(int64(j), buf); err != nil {
				return fmt.Errorf("join: %w", err)
			}
		}
	}
	t := time.NewTimer(joinRoomsWithin)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("join: %d of %d acks in %v", acked(), len(clients)*k, joinRoomsWithin)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// baseMemory reads the server's memory before the clients connect, after
// a forced GC: its counters (returned, for idleMemory) and VmRSS in mem.
func baseMemory(ctx context.Context, cfg *config, ctl *control, mem *memory) (serverInfo, error) {
	base, err := ctl.gc(ctx)
	if err != nil {
		return base, err
	}
	mem.GoroutinesBase = base.Goroutines
	if cfg.pid != "" {
		mem.BaseKiB, _ = rssKiB(cfg.pid)
	}
	return base, nil
}

// idleMemory reads the server's memory with n clients connected and idle:
// VmRSS, then the server's counters after a forced GC ("gc"), then VmRSS
// again, and sets mem's per-client figures against base, the counters
// taken before the clients connected.
func idleMemory(ctx context.Context, cfg *config, ctl *control, mem *memory, base serverInfo, n int) error {
	if cfg.pid != "" {
		mem.RSSKiB, _ = rssKiB(cfg.pid)
	}
	info, err := ctl.gc(ctx)
	if err != nil {
		return err
	}
	if cfg.pid != "" {
		mem.GCKiB, _ = rssKiB(cfg.pid)
		mem.PerClientKiB = round(float64(mem.RSSKiB-mem.BaseKiB)/float64(n), 2)
		mem.PerClientGCKiB = round(float64(mem.GCKiB-mem.BaseKiB)/float64(n), 2)
	}
	if info.HeapBytes > 0 {
		mem.HeapPerClient = round(float64(info.HeapBytes-base.HeapBytes)/float64(n), 1)
	}
	if info.Goroutines > 0 {
		mem.GoroutinesPerClient = round(float64(info.Goroutines-base.Goroutines)/float64(n), 2)
	}
	return nil
}

// leftAfterClose waits, once the clients were closed, until the server
// counts only the control client and is back to its goroutines before the
// run (or a few seconds passed), and sets what it still counts and its
// memory in mem.
func leftAfterClose(ctx context.Context, cfg *config, ctl *control, mem *memory) error {
	after, err := ctl.waitGC(ctx, 10*time.Second, func(i serverInfo) bool { return i.Clients <= 1 })
	if err != nil {
		return err
	}
	mem.ClientsAfter = after.Clients - 1
	// A server may keep idle goroutines for a moment after their work
	// (Duplex's reused writers end after a second idle): wait for them
	// before counting what is left.
	if after.Goroutines > mem.GoroutinesBase {
		after, err = ctl.waitGC(ctx, 5*time.Second, func(i serverInfo) bool { return i.Goroutines <= mem.GoroutinesBase })
		if err != nil {
			return err
		}
	}
	mem.GoroutinesAfter = after.Goroutines
	if cfg.pid != "" {
		mem.RSSAfterKiB, _ = rssKiB(cfg.pid)
	}
	return nil
}
