package main

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// runEcho keeps cfg.conc clients emitting "echo" with an ack, each with
// one request outstanding (or at cfg.rate acks/s in all), and measures
// acks/s and the round-trip latency.
func runEcho(ctx context.Context, cfg *config) (*result, error) {
	target, err := wsURL(cfg.url)
	if err != nil {
		return nil, err
	}
	payload := payloadJSON(cfg.payload)
	array := append(append([]byte(`["echo",`), payload...), ']')
	want := append(append([]byte{'['}, payload...), ']')

	lat := newLatencies()
	var acks, errs atomic.Uint64
	var stopped atomic.Bool
	idle := make(chan *client, cfg.conc)
	send := func(c *client) {
		id := c.nextID.Add(1) - 1
		c.sentAt.Store(now())
		if err := c.emit(int64(id), array); err != nil && !stopped.Load() {
			errs.Add(1)
		}
	}
	onAck := func(c *client, id uint64, data []byte) {
		if id != c.nextID.Load()-1 || !bytes.Equal(data, want) {
			errs.Add(1)
		}
		lat.Record(time.Duration(now() - c.sentAt.Load()))
		acks.Add(1)
		if stopped.Load() {
			return
		}
		if cfg.rate > 0 {
			idle <- c // never blocks: cap is the number of clients
		} else {
			send(c)
		}
	}
	clients, fails := dialMany(ctx, target, cfg.conc, cfg.conc, handlers{onAck: onAck})
	defer closeAll(clients)
	if len(clients) == 0 {
		return nil, errors.New("no client connected")
	}
	res := &result{Scenario: "echo", Transport: "websocket", Clients: len(clients), Offered: cfg.rate, Payload: cfg.payload, Unit: "acks"}

	stop := make(chan struct{})
	pacerDone := make(chan struct{})
	var skipped uint64
	if cfg.rate > 0 {
		for _, c := range clients {
			idle <- c
		}
		go func() {
			defer close(pacerDone)
			pacer(cfg.rate, idle, send, &skipped, stop)
		}()
	} else {
		close(pacerDone)
		for _, c := range clients {
			send(c)
		}
	}
	w, err := measure(ctx, cfg, acks.Load, lat)
	stopped.Store(true)
	close(stop)
	<-pacerDone
	res.fill(w.ops, w.cpu)
	res.setLatency(w.lat)
	res.Errors = errs.Load() + uint64(fails)
	res.Skipped = skipped
	return res, err
}
