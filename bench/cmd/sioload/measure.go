package main

import (
	"context"
	"time"
)

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// window runs the warm-up, then measures count, the latencies and the CPU
// used over the measurement window.
type window struct {
	ops uint64
	cpu cpuUse
	lat *histogram
}

func measure(ctx context.Context, cfg *config, count func() uint64, lat *latencies) (window, error) {
	if err := sleep(ctx, cfg.warmup); err != nil {
		return window{}, err
	}
	lat.Reset()
	o0 := count()
	m := startCPU(cfg.pid)
	err := sleep(ctx, cfg.duration)
	u := m.stop()
	o1 := count()
	return window{ops: o1 - o0, cpu: u, lat: lat.Reset()}, err
}

// pacer offers rate requests per second: every millisecond it takes the
// requests due from idle clients; a request due when no client is idle
// is skipped and counted.
func pacer[T any](rate float64, idle chan T, send func(T), skipped *uint64, stop <-chan struct{}) {
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var sent uint64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		due := uint64(rate * time.Since(start).Seconds())
		for ; sent < due; sent++ {
			select {
			case c := <-idle:
				send(c)
			default:
				*skipped++
			}
		}
	}
}
