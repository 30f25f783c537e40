package gopool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
)

func TestRunsEveryTask(t *testing.T) {
	defer leakcheck.Check(t)()
	p := New(time.Second, 16)
	var n atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		p.Go(func() { n.Add(1); wg.Done() })
	}
	wg.Wait()
	if got := n.Load(); got != 1000 {
		t.Fatalf("ran %d tasks, want 1000", got)
	}
	p.Close()
}

func TestReusesIdleGoroutines(t *testing.T) {
	defer leakcheck.Check(t)()
	p := New(time.Minute, 16)
	defer p.Close()
	done := make(chan struct{})
	for i := 0; i < 100; i++ { // one task at a time: one goroutine serves them all
		p.Go(func() { done <- struct{}{} })
		<-done
		waitIdle(t, p, 1)
	}
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle != 1 {
		t.Fatalf("%d idle goroutines after sequential tasks, want 1", idle)
	}
}

func TestIdleGoroutinesEnd(t *testing.T) {
	defer leakcheck.Check(t)()
	p := New(20*time.Millisecond, 16)
	block := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		p.Go(func() { <-block; wg.Done() })
	}
	close(block)
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		idle, reaper := len(p.idle), p.reaper
		p.mu.Unlock()
		if idle == 0 && reaper == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still idle after their idle time", idle)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The pool still works once its goroutines have ended.
	ran := make(chan struct{})
	p.Go(func() { close(ran) })
	<-ran
	p.Close()
}

func TestCloseWaitsAndLaterTasksStillRun(t *testing.T) {
	defer leakcheck.Check(t)()
	p := New(time.Minute, 16)
	release := make(chan struct{})
	running := make(chan struct{})
	p.Go(func() { close(running); <-release })
	<-running
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a task was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle != 0 {
		t.Fatalf("%d idle goroutines after Close", idle)
	}
	ran := make(chan struct{})
	p.Go(func() { close(ran) })
	<-ran
	p.Close() // a second Close is harmless
}

// waitIdle waits until the pool has n idle goroutines.
func waitIdle(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		idle := len(p.idle)
		p.mu.Unlock()
		if idle == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle goroutines, want %d", idle, n)
		}
		runtime.Gosched()
	}
}

func BenchmarkPoolGo(b *testing.B) {
	p := New(time.Second, 16)
	defer p.Close()
	var wg sync.WaitGroup
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		p.Go(func() { deepen(32); wg.Done() })
		wg.Wait()
	}
}

func BenchmarkGoStatement(b *testing.B) {
	var wg sync.WaitGroup
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		go func() { deepen(32); wg.Done() }()
		wg.Wait()
	}
}

// deepen uses some stack, as an event handler encoding a packet does.
func deepen(n int) int {
	var buf [128]byte
	buf[n%128] = byte(n)
	if n == 0 {
		return int(buf[0])
	}
	return deepen(n-1) + int(buf[n%128])
}

func TestKeepsAtMostMaxIdle(t *testing.T) {
	defer leakcheck.Check(t)()
	p := New(time.Minute, 3)
	defer p.Close()
	block := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ { // ten at once: ten goroutines
		wg.Add(1)
		p.Go(func() { <-block; wg.Done() })
	}
	close(block)
	wg.Wait()
	waitIdle(t, p, 3)
	time.Sleep(50 * time.Millisecond) // the seven others end rather than park
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle != 3 {
		t.Fatalf("%d idle goroutines, want the cap of 3", idle)
	}
}
