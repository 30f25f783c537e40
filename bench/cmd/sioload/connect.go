package main

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"
)

var broadcastPrefix = []byte(`["broadcast",`)

// runConnect connects cfg.n clients over WebSocket, cfg.conc at a time,
// and measures connections/s; then, with every client connected, the
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
	ctl, err := newControl(ctx, target, onEvent)
	if err != nil {
		return nil, err
	}
	defer ctl.c.close()

	res := &result{Scenario: "connect", Transport: "websocket", Clients: cfg.n, Unit: "connections"}
	mem := &memory{}
	res.Memory = mem
	base, err := ctl.gc(ctx)
	if err != nil {
		return res, err
	}
	mem.GoroutinesBase = base.Goroutines
	if cfg.pid != "" {
		mem.BaseKiB, _ = rssKiB(cfg.pid)
	}

	m := startCPU(cfg.pid)
	clients, fails := dialMany(ctx, target, cfg.n, cfg.conc, handlers{onEvent: onEvent})
	u := m.stop()
	defer closeAll(clients)
	res.fill(uint64(len(clients)), u)
	res.Errors = uint64(fails)
	n := len(clients)
	if n == 0 {
		return res, errors.New("no client connected")
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
	if cfg.pid != "" {
		mem.RSSKiB, _ = rssKiB(cfg.pid)
	}
	info, err := ctl.gc(ctx)
	if err != nil {
		return res, err
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
	after, err := ctl.waitGC(ctx, 10*time.Second, func(i serverInfo) bool { return i.Clients <= 1 })
	if err != nil {
		return res, err
	}
	mem.ClientsAfter = after.Clients - 1
	// A server may keep idle goroutines for a moment after their work
	// (Duplex's reused writers end after a second idle): wait for them
	// before counting what is left.
	if after.Goroutines > mem.GoroutinesBase {
		after, err = ctl.waitGC(ctx, 5*time.Second, func(i serverInfo) bool { return i.Goroutines <= mem.GoroutinesBase })
		if err != nil {
			return res, err
		}
	}
	mem.GoroutinesAfter = after.Goroutines
	if cfg.pid != "" {
		mem.RSSAfterKiB, _ = rssKiB(cfg.pid)
	}
	return res, nil
}
