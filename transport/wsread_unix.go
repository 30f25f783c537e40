//go:build unix

package transport

import (
	"io"
	"net"
	"os"
	"syscall"
)

// setupRawRead reads ws's frames with a rawReader when TryWrite has the
// connection's descriptor (a plain socket): while the connection is idle
// its reader goroutine waits for the descriptor to become readable with no
// buffer, and a buffer of the pool is taken only for the read that
// follows. It reports whether it did.
func (ws *WebSocket) setupRawRead(maxSize int64) bool {
	if ws.rc == nil {
		return false
	}
	ws.rd = &rawReader{read: ws.readOnce}
	ws.rd.p.maxSize = maxSize
	ws.rd.p.control = ws.controlFrame
	return true
}

// readOnce reads what the connection has into a pooled buffer and hands
// it to fn; when it has nothing, it waits if wait is set, and returns
// ErrWouldBlock otherwise. It returns io.EOF when the peer closed the
// connection.
func (ws *WebSocket) readOnce(wait bool, fn func(b []byte) int) error {
	var bp *[]byte
	var n int
	var rerr error
	err := ws.rc.Read(func(fd uintptr) bool {
		if bp == nil {
			bp = readBufs.Get().(*[]byte)
		}
		for {
			n, rerr = sysRead(int(fd), *bp)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			// Nothing yet: give the buffer back before waiting.
			readBufs.Put(bp)
			bp = nil
			return !wait
		}
		return true
	})
	if bp != nil {
		defer readBufs.Put(bp)
	}
	switch {
	case err != nil:
		return err // closed, or past the read deadline
	case rerr == syscall.EAGAIN:
		return ErrWouldBlock
	case rerr != nil:
		return &net.OpError{Op: "read", Net: "tcp", Source: ws.raw.LocalAddr(), Addr: ws.raw.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	case n <= 0:
		return io.EOF
	}
	fn((*bp)[:n])
	return nil
}

// WaitReadable waits, holding no buffer, until the connection has bytes to
// read, has been closed by the peer, or fails; a read then does not wait.
// It is only for a WebSocket that CanWait.
func (ws *WebSocket) WaitReadable() error {
	if len(ws.rd.rest) > 0 {
		return nil
	}
	return ws.rc.Read(ws.peek)
}

// peek is WaitReadable's look at the descriptor: ready when a byte can be
// read (or the read would fail, which the next read reports).
func (ws *WebSocket) peek(fd uintptr) bool {
	for {
		_, _, err := syscall.Recvfrom(int(fd), ws.peekBuf[:], syscall.MSG_PEEK)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}
