//go:build unix

package transport

import (
	"net"
	"syscall"
)

// setupTryWrite lets TryWrite write to c's descriptor when c is a plain
// socket (not TLS, say).
func (ws *WebSocket) setupTryWrite(c net.Conn) {
	sc, ok := c.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return
	}
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return // a wrapper whose bytes are not the descriptor's
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	ws.rc = rc
	ws.tryFn = ws.writeOnce
}

// writeOnce makes one non-blocking write of ws.tryBuf to fd and records
// how much of it went in ws.tryN. It never asks to wait for the descriptor
// to become writable: a full send buffer is the writer goroutine's to wait
// for.
func (ws *WebSocket) writeOnce(fd uintptr) bool {
	for {
		n, err := sysWrite(int(fd), ws.tryBuf)
		if err == syscall.EINTR {
			continue
		}
		if n > 0 {
			ws.tryN = n
		}
		return true
	}
}
