// Package gopool runs short tasks on goroutines that are kept for a little
// while after their task ends. A task handed to a kept goroutine starts on a
// stack that has already grown to what such tasks need, instead of paying
// for a new goroutine and the copies of its growing stack; a burst of tasks
// reuses the same few goroutines. Goroutines idle for longer than the
// pool's idle time end, so an idle server keeps none.
package gopool

import (
	"sync"
	"time"
)

// Pool runs tasks on reused goroutines. Its zero value is not usable; call
// New. Its methods are safe for concurrent use.
type Pool struct {
	idleTime time.Duration
	maxIdle  int

	mu     sync.Mutex
	idle   []*worker // most recently parked last
	reaper *time.Timer
	closed bool
	wg     sync.WaitGroup
}

type worker struct {
	tasks  chan func()
	parked time.Time
}

// New returns a pool that keeps at most maxIdle goroutines without a task,
// each for at most idleTime.
func New(idleTime time.Duration, maxIdle int) *Pool {
	return &Pool{idleTime: idleTime, maxIdle: maxIdle}
}

// Go runs task on an idle goroutine of the pool, or on a new one. After
// Close it runs task on a new goroutine that is not kept.
func (p *Pool) Go(task func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.tasks <- task // buffered: never blocks
		return
	}
	if p.closed {
		p.mu.Unlock()
		go task()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go p.run(&worker{tasks: make(chan func(), 1)}, task)
}

func (p *Pool) run(w *worker, task func()) {
	defer p.wg.Done()
	for task != nil {
		task()
		if !p.park(w) {
			return
		}
		task = <-w.tasks
	}
}

// park puts w on the idle list; false means it must end instead.
func (p *Pool) park(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= p.maxIdle {
		return false
	}
	w.parked = time.Now()
	p.idle = append(p.idle, w)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.idleTime, p.reap)
	}
	return true
}

// reap ends the goroutines idle for longer than the idle time, and comes
// back while any are left.
func (p *Pool) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reaper = nil
	if p.closed {
		return
	}
	limit := time.Now().Add(-p.idleTime)
	n := 0
	for n < len(p.idle) && !p.idle[n].parked.After(limit) {
		p.idle[n].tasks <- nil
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	clear(p.idle[len(p.idle):cap(p.idle)])
	if len(p.idle) > 0 {
		p.reaper = time.AfterFunc(p.idleTime, p.reap)
	}
}

// Close ends the idle goroutines, and the others when their task ends, and
// waits for all of them. Tasks already handed over still run; tasks handed
// over after Close run on goroutines of their own.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.reaper != nil {
			p.reaper.Stop()
			p.reaper = nil
		}
		for _, w := range p.idle {
			w.tasks <- nil
		}
		p.idle = nil
	}
	p.mu.Unlock()
	p.wg.Wait()
}
