package waitgroup

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// canceled is a context that is already done: Wait with it returns nil
// only if the count is zero when it looks.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestGroup(t *testing.T) {
	// Each step is one call; want is what TryAdd returns, or for "wait"
	// (with a context already done) whether it returns nil.
	type step struct {
		op   string // add, tryadd, done, close, wait
		want bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"empty", []step{{"wait", true}}},
		{"add then done", []step{{"add", false}, {"wait", false}, {"done", false}, {"wait", true}}},
		{"tryadd while open", []step{{"tryadd", true}, {"tryadd", true}, {"done", false}, {"wait", false}, {"done", false}, {"wait", true}}},
		{"tryadd after close", []step{{"close", false}, {"tryadd", false}, {"wait", true}}},
		{"refused tryadd leaves no count", []step{{"close", false}, {"tryadd", false}, {"tryadd", false}, {"wait", true}}},
		{"add after close counts", []step{{"close", false}, {"add", false}, {"wait", false}, {"done", false}, {"wait", true}}},
		{"work counted before close is waited for", []step{
			{"tryadd", true}, {"close", false}, {"tryadd", false}, {"add", false}, // spawned by the counted work
			{"done", false}, {"wait", false}, {"done", false}, {"wait", true},
		}},
		{"close twice", []step{{"close", false}, {"close", false}, {"tryadd", false}, {"wait", true}}},
		{"back to zero, then again", []step{{"add", false}, {"done", false}, {"wait", true}, {"add", false}, {"wait", false}, {"done", false}, {"wait", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Group
			for i, s := range tt.steps {
				switch s.op {
				case "add":
					g.Add()
				case "tryadd":
					if got := g.TryAdd(); got != s.want {
						t.Fatalf("step %d: TryAdd() = %v, want %v", i, got, s.want)
					}
				case "done":
					g.Done()
				case "close":
					g.Close()
				case "wait":
					err := g.Wait(canceled())
					if s.want && err != nil {
						t.Fatalf("step %d: Wait = %v, want nil", i, err)
					}
					if !s.want && !errors.Is(err, context.Canceled) {
						t.Fatalf("step %d: Wait = %v, want context.Canceled", i, err)
					}
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
			}
		})
	}
}

func TestDoneBelowZeroPanics(t *testing.T) {
	var g Group
	defer func() {
		if recover() == nil {
			t.Fatal("Done on an empty group did not panic")
		}
	}()
	g.Done()
}

// bounded is a context for a Wait that should return: a Wait that misses
// the count's drop to zero fails the test instead of hanging it.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWaitReturnsAtZero(t *testing.T) {
	defer leakcheck.Check(t)()
	var g Group
	g.Add()
	g.Add()
	const waiters = 3
	errs := make(chan error, waiters)
	for range waiters {
		go func() { errs <- g.Wait(bounded(t)) }()
	}
	waitFor(t, "the waiters to wait", func() bool { return g.waiting.Load() == waiters })
	g.Done()
	if err := g.Wait(canceled()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with one goroutine left = %v, want context.Canceled", err)
	}
	g.Done()
	for range waiters {
		if err := <-errs; err != nil {
			t.Fatalf("Wait = %v, want nil", err)
		}
	}
}

func TestWaitDeadline(t *testing.T) {
	var g Group
	g.Add()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want context.DeadlineExceeded", err)
	}
	// A later Wait still sees the count drop, though the first one left
	// its channel behind.
	done := make(chan error, 1)
	go func() { done <- g.Wait(bounded(t)) }()
	waitFor(t, "the waiter to wait", func() bool { return g.waiting.Load() == 1 })
	g.Done()
	if err := <-done; err != nil {
		t.Fatalf("Wait = %v, want nil", err)
	}
}

// TestWaitRacesDone starts Wait and the last Done at the same moment, many
// times over: Wait must never miss the drop to zero and hang.
func TestWaitRacesDone(t *testing.T) {
	defer leakcheck.Check(t)()
	iterations := 5000
	if testing.Short() {
		iterations = 500
	}
	for i := range iterations {
		var g Group
		g.Add()
		if i%2 == 0 {
			g.Add() // a Done that does not reach zero, racing too
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i%2 == 0 {
				g.Done()
			}
			g.Done()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				<-start
				errs <- g.Wait(ctx)
			}()
		}
		close(start)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("iteration %d: Wait = %v, want nil (missed the drop to zero)", i, err)
			}
		}
		cancel()
		wg.Wait()
	}
}

// TestTryAddRacesClose runs TryAdd and Done in a loop on several
// goroutines while the group is closed and waited for: Wait must return,
// and no TryAdd may succeed once it has.
func TestTryAddRacesClose(t *testing.T) {
	defer leakcheck.Check(t)()
	for range 50 {
		var (
			g      Group
			waited atomic.Bool
			added  atomic.Int64
			wg     sync.WaitGroup
		)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for g.TryAdd() {
					if waited.Load() {
						t.Error("TryAdd succeeded after Wait returned")
					}
					added.Add(1)
					g.Add() // work spawned by the counted work
					g.Done()
					g.Done()
				}
			}()
		}
		waitFor(t, "some work to be counted", func() bool { return added.Load() >= 100 })
		g.Close()
		if err := g.Wait(bounded(t)); err != nil {
			t.Fatalf("Wait after Close = %v, want nil", err)
		}
		waited.Store(true)
		if g.TryAdd() {
			t.Fatal("TryAdd after Close succeeded")
		}
		wg.Wait()
		if n := g.n.Load(); n != 0 {
			t.Fatalf("count after every goroutine ended = %d, want 0", n)
		}
	}
}

func BenchmarkTryAddDone(b *testing.B) {
	var g Group
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if g.TryAdd() {
				g.Done()
			}
		}
	})
}
