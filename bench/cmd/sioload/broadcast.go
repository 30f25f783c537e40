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

// runBroadcast connects cfg.n clients; one of them emits "broadcast" (or,
// with rooms, "to" a room, the rooms taken in turn) carrying the time it
// was sent, and every receiver records the delivery latency. In the closed
// loop (cfg.rate 0) at most cfg.window broadcasts are in flight; with
// cfg.rate the broadcasts are sent on a schedule that offers that many
// deliveries per second, for the server's CPU per delivery.
func runBroadcast(ctx context.Context, cfg *config, rooms bool) (*result, error) {
	target, err := wsURL(cfg.url)
	if err != nil {
		return nil, err
	}
	lat := newLatencies()
	var delivered, waitFor, joined, errs atomic.Uint64
	wake := make(chan struct{}, 1)
	joinedAll := make(chan struct{})
	var joinWant atomic.Uint64
	onEvent := func(_ *client, data []byte) {
		rest, ok := bytes.CutPrefix(data, broadcastPrefix)
		if !ok {
			return
		}
		var t int64
		i := 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			t = t*10 + int64(rest[i]-'0')
		}
		if i == 0 {
			errs.Add(1)
			return
		}
		lat.Record(time.Duration(now() - t))
		d := delivered.Add(1)
		if w := waitFor.Load(); w != 0 && d >= w {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
	onAck := func(*client, uint64, []byte) { // join
		if joined.Add(1) == joinWant.Load() {
			close(joinedAll)
		}
	}
	clients, fails := dialMany(ctx, target, cfg.n, cfg.conc, handlers{onEvent: onEvent, onAck: onAck})
	defer closeAll(clients)
	n := len(clients)
	if n == 0 {
		return nil, errors.New("no client connected")
	}
	res := &result{Scenario: "broadcast", Transport: "websocket", Clients: n, Payload: cfg.payload, Unit: "deliveries"}

	// per[k] is how many clients get broadcast k.
	per := []uint64{uint64(n)}
	if rooms {
		res.Scenario = "rooms"
		r := min(cfg.rooms, n)
		res.Rooms = r
		per = make([]uint64, r)
		joinWant.Store(uint64(n))
		for i, c := range clients {
			per[i%r]++
			if err := c.emit(0, []byte(`["join","r`+strconv.Itoa(i%r)+`"]`)); err != nil {
				return res, fmt.Errorf("join: %w", err)
			}
		}
		select {
		case <-joinedAll:
		case <-time.After(30 * time.Second):
			return res, fmt.Errorf("join: %d of %d acks in 30s", joined.Load(), n)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}

	payload := payloadJSON(cfg.payload)
	sender := clients[0]
	var expected atomic.Uint64
	var skipped uint64
	stop := make(chan struct{})
	senderDone := make(chan struct{})
	var sendErr error
	go func() {
		defer close(senderDone)
		var buf []byte
		k := 0
		send := func() error {
			if rooms {
				buf = append(buf[:0], `["to","r`...)
				buf = strconv.AppendInt(buf, int64(k), 10)
				buf = append(buf, `",`...)
			} else {
				buf = append(buf[:0], broadcastPrefix...)
			}
			buf = strconv.AppendInt(buf, now(), 10)
			buf = append(buf, ',')
			buf = append(buf, payload...)
			buf = append(buf, ']')
			expected.Add(per[k])
			k = (k + 1) % len(per)
			return sender.emit(-1, buf)
		}
		if cfg.rate <= 0 {
			// Closed loop: at most window broadcasts in flight.
			inflight := make([]uint64, 0, cfg.window) // expected totals of the broadcasts in flight
			for {
				select {
				case <-stop:
					return
				default:
				}
				if len(inflight) >= cfg.window {
					need := inflight[0]
					if delivered.Load() < need {
						waitFor.Store(need)
						if delivered.Load() < need {
							select {
							case <-wake:
							case <-stop:
								return
							case <-time.After(100 * time.Millisecond):
							}
						}
						waitFor.Store(0)
						continue
					}
					inflight = inflight[1:]
					continue
				}
				if sendErr = send(); sendErr != nil {
					return
				}
				inflight = append(inflight, expected.Load())
			}
		}
		// Fixed offered rate: broadcast k is due when the deliveries
		// offered so far reach rate × elapsed time.
		start := time.Now()
		var offered uint64
		maxBehind := max(64*per[0], 20000)
		for {
			due := time.Duration(float64(offered) / cfg.rate * float64(time.Second))
			if d := time.Until(start.Add(due)); d > 0 {
				select {
				case <-stop:
					return
				case <-time.After(d):
				}
			}
			select {
			case <-stop:
				return
			default:
			}
			offered += per[k]
			if expected.Load()-delivered.Load() > maxBehind {
				skipped++
				k = (k + 1) % len(per)
				continue
			}
			if sendErr = send(); sendErr != nil {
				return
			}
		}
	}()

	w, err := measure(ctx, cfg, delivered.Load, lat)
	close(stop)
	<-senderDone
	// Let the broadcasts in flight arrive, then count what did not.
	deadline := time.Now().Add(3 * time.Second)
	for delivered.Load() < expected.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if e, d := expected.Load(), delivered.Load(); e > d {
		res.Lost = e - d
	}
	res.fill(w.ops, w.cpu)
	res.setLatency(w.lat)
	res.Errors = errs.Load() + uint64(fails)
	res.Skipped = skipped
	if cfg.rate > 0 {
		res.Offered = cfg.rate
	} else {
		res.Window = cfg.window
	}
	if err == nil && sendErr != nil {
		err = fmt.Errorf("sender: %w", sendErr)
	}
	return res, err
}
