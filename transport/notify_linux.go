//go:build linux

package transport

import (
	"sync"
	"syscall"
)

// An idle connection should cost no goroutine. The notifier watches the
// descriptors of idle WebSocket connections with one epoll instance and
// one goroutine for the whole process, and starts a goroutine for a
// connection only when it has bytes to read. The descriptor stays in the
// runtime's own poller too (writes and Close go through it as usual);
// a second epoll instance watching it changes nothing there.
//
// A watch is armed with EPOLLONESHOT: it fires once, then stays in the
// epoll set, disabled, until armed again (EPOLL_CTL_MOD). Level-triggered,
// so bytes that arrived before the arming fire it at once. Its token, not
// the descriptor, identifies it in the event: a closed descriptor's number
// may be reused by a new connection before a late event is read.

// notifier is the process's epoll instance and its watches.
type notifier struct {
	once sync.Once
	epfd int // -1 when epoll could not be set up
	mu   sync.Mutex
	// watches holds every watch registered in the epoll set, by token.
	watches map[int32]*readWatch
	next    int32
}

// readWatch is a WebSocket's registration. Its fields are guarded by the
// notifier's mu.
type readWatch struct {
	token      int32
	registered bool   // in the epoll set
	closed     bool   // the connection is closed: arm calls fn at once
	fn         func() // what to start when readable; nil when not armed
}

var readiness = notifier{epfd: -1}

const watchEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// start sets the epoll instance up once and reports whether it is there.
func (n *notifier) start() bool {
	n.once.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		n.epfd = fd
		n.watches = make(map[int32]*readWatch)
		go n.loop()
	})
	return n.epfd >= 0
}

// loop starts the function of each watch that fires. It runs for the
// life of the process, blocked in epoll_wait when nothing happens.
func (n *notifier) loop() {
	events := make([]syscall.EpollEvent, 256)
	for {
		k, err := syscall.EpollWait(n.epfd, events, -1)
		if err != nil {
			continue // EINTR; nothing else can happen to a valid instance
		}
		n.mu.Lock()
		for _, ev := range events[:k] {
			w := n.watches[ev.Fd]
			if w == nil || w.fn == nil {
				continue
			}
			fn := w.fn
			w.fn = nil
			go fn()
		}
		n.mu.Unlock()
	}
}

// arm has fn started in a new goroutine once the connection of rc is
// readable, is closed by the peer, or fails, or has been closed (forget).
// *wp is the connection's registration, created on first use. It reports
// false when epoll is not available, and then does nothing.
func (n *notifier) arm(rc syscall.RawConn, wp **readWatch, fn func()) bool {
	if !n.start() {
		return false
	}
	n.mu.Lock()
	w := *wp
	if w == nil {
		w = &readWatch{token: n.newTokenLocked()}
		*wp = w
	}
	if w.closed {
		n.mu.Unlock()
		go fn()
		return true
	}
	op := syscall.EPOLL_CTL_MOD
	if !w.registered {
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{Events: watchEvents, Fd: w.token}
	var cerr error
	// Control holds the descriptor open across the call, so the number
	// cannot belong to another connection meanwhile.
	err := rc.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(n.epfd, op, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		// Closed under us, or refused: fn's read reports it.
		n.mu.Unlock()
		go fn()
		return true
	}
	if !w.registered {
		w.registered = true
		n.watches[w.token] = w
	}
	w.fn = fn
	n.mu.Unlock()
	return true
}

// newTokenLocked returns a token no registered watch has.
func (n *notifier) newTokenLocked() int32 {
	for {
		n.next++
		if _, used := n.watches[n.next]; !used {
			return n.next
		}
	}
}

// forget removes the watch *wp of rc's connection before the connection
// closes, and returns the function that was armed, for the caller to
// start once the connection is closed (it then sees the connection
// closed).
func (n *notifier) forget(rc syscall.RawConn, wp **readWatch) func() {
	n.mu.Lock()
	defer n.mu.Unlock()
	w := *wp
	if w == nil {
		// Closed before ever armed: a later arm starts its fn at once.
		*wp = &readWatch{closed: true}
		return nil
	}
	if w.closed {
		return nil
	}
	w.closed = true
	if w.registered {
		_ = rc.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(n.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
		delete(n.watches, w.token)
		w.registered = false
	}
	fn := w.fn
	w.fn = nil
	return fn
}

// OnReadable has fn started in a new goroutine once the connection has
// bytes to read, has been closed (by the peer or by Close), or has failed,
// holding neither a goroutine nor a buffer until then; fn then reads with
// ReadPacketNow. It reports false, doing nothing, where connections cannot
// be watched that way (see CanWait; Linux only).
func (ws *WebSocket) OnReadable(fn func()) bool {
	if ws.rd == nil {
		return false
	}
	if len(ws.rd.rest) > 0 {
		go fn()
		return true
	}
	return readiness.arm(ws.rc, &ws.watch, fn)
}

// closeWatched closes the connection of a WebSocket that may be watched,
// starting the armed function, if any, once it is closed.
func (ws *WebSocket) closeWatched() error {
	if ws.rd == nil {
		return ws.raw.Close()
	}
	fn := readiness.forget(ws.rc, &ws.watch)
	err := ws.raw.Close()
	if fn != nil {
		go fn()
	}
	return err
}

// watchConn has fn started once the connection of rc is readable, closed
// or failed (see notifier.arm); unwatchConn takes the watch away before
// the connection closes, dropping fn.
func watchConn(rc syscall.RawConn, wp **readWatch, fn func()) bool {
	return readiness.arm(rc, wp, fn)
}

func unwatchConn(rc syscall.RawConn, wp **readWatch) { readiness.forget(rc, wp) }
