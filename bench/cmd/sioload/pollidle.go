package main

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// runPollingIdle opens cfg.n sessions over long-polling, cfg.conc
// handshakes at a time, and keeps them idle as a browser's polling client
// keeps an idle session: a GET always pending, a ping answered with a
// pong POST (on the keep-alive connection the CONNECT went over, dialed
// again if the server closed it). After cfg.hold it measures the server's
// memory per session as the connect scenario does per WebSocket client
// (without and after a forced GC, heap per session), then one broadcast
// to every session, and what the server keeps once all were closed.
func runPollingIdle(ctx context.Context, cfg *config) (*result, error) {
	t, err := newPollTarget(cfg.url)
	if err != nil {
		return nil, err
	}
	target, err := wsURL(cfg.url)
	if err != nil {
		return nil, err
	}
	ctl, err := newControl(ctx, target, nil)
	if err != nil {
		return nil, err
	}
	defer ctl.c.close()

	res := &result{Scenario: "polling-idle", Transport: "polling", Clients: cfg.n, Unit: "connections"}
	mem := &memory{}
	res.Memory = mem
	base, err := baseMemory(ctx, cfg, ctl, mem)
	if err != nil {
		return res, err
	}

	m := startCPU(cfg.pid)
	clients, fails := pollHandshakeMany(ctx, t, cfg.n, cfg.conc)
	u := m.stop()
	res.fill(uint64(len(clients)), u)
	n := len(clients)
	if n == 0 {
		return res, errors.New("no client connected")
	}

	var idle idlePollers
	for _, p := range clients {
		idle.wg.Add(1)
		go idle.poll(ctx, p)
	}
	stop := func() {
		if idle.stopped.Swap(true) {
			return
		}
		for _, p := range clients {
			p.get.shutdown() // ends the pending GETs, and a pong POST in progress
			p.post.shutdown()
		}
		idle.wg.Wait()
	}
	defer stop()

	holdErr := sleep(ctx, cfg.hold)
	mem.Pings = idle.pings.Load()
	if holdErr != nil {
		return res, holdErr
	}
	if err := idleMemory(ctx, cfg, ctl, mem, base, n); err != nil {
		return res, err
	}

	// One broadcast to every session.
	t0 := now()
	if err := ctl.c.emit(-1, []byte(`["broadcast",0,"all"]`)); err != nil {
		return res, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for idle.reached.Load() < int64(n) && time.Now().Before(deadline) {
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return res, err
		}
	}
	mem.BroadcastReached = int(idle.reached.Load())
	if at := idle.allAt.Load(); at > 0 && mem.BroadcastReached >= n {
		mem.BroadcastAllMs = round(float64(at-t0)/1e6, 2)
	}
	mem.Pings = idle.pings.Load()

	stop()
	res.Errors = uint64(fails) + idle.errs.Load()
	// The pollers are gone: each session's POST connection is free for
	// its close packet.
	closePollMany(ctx, clients)
	return res, leftAfterClose(ctx, cfg, ctl, mem)
}

// idlePollers is the state the pollers of runPollingIdle share.
type idlePollers struct {
	wg      sync.WaitGroup
	stopped atomic.Bool
	pings   atomic.Uint64 // pings answered, all sessions together
	errs    atomic.Uint64 // sessions lost before stopped
	reached atomic.Int64  // sessions the broadcast reached
	allAt   atomic.Int64  // now() when the last of them got it
	logged  atomic.Bool   // the first error was logged
}

// poll keeps session p idle until stopped: it GETs (the GET waits at the
// server until a packet comes), answers each ping with a pong POST, counts
// the broadcasts, and GETs again.
func (s *idlePollers) poll(ctx context.Context, p *pollClient) {
	defer s.wg.Done()
	for {
		body, err := p.get.roundTrip(ctx, p.getReq)
		if err != nil {
			s.fail("polling GET", err)
			return
		}
		pinged := false
		for pkt := range bytes.SplitSeq(body, []byte{0x1e}) {
			switch {
			case bytes.Equal(pkt, []byte("2")):
				pinged = true
			case bytes.HasPrefix(pkt, []byte("42")) && bytes.HasPrefix(pkt[2:], broadcastPrefix):
				s.allAt.Store(now())
				s.reached.Add(1)
			case bytes.Equal(pkt, []byte("1")), bytes.HasPrefix(pkt, []byte("41")):
				s.fail("polling", errors.New("session closed by the server"))
				return
			}
		}
		if pinged {
			if err := p.send(ctx, pong); err != nil {
				s.fail("polling POST", err)
				return
			}
			s.pings.Add(1)
		}
	}
}

// fail counts a session lost while the pollers run, and logs the first.
func (s *idlePollers) fail(what string, err error) {
	if s.stopped.Load() {
		return
	}
	s.errs.Add(1)
	if !s.logged.Swap(true) {
		logf("%s: %v", what, err)
	}
}
