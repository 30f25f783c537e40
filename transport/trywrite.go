package transport

import "github.com/duplexio/duplex/parser"

// maxTryWrite is the largest packet data TryWrite writes; larger packets go
// through WritePackets.
const maxTryWrite = 16 << 10

// TryWrite writes p as one frame now, from the calling goroutine, if the
// connection takes it without waiting: no other write in progress, no
// compression, a plain socket with room in its send buffer. It never
// blocks. taken reports whether p is now the connection's to deliver: if
// so and pending is above zero, the kernel took only part of the frame and
// the rest, pending bytes, is written first by the next WritePackets call,
// which the caller must make (with no packets, if it has none). When taken
// is false nothing was written and p is still the caller's to send.
//
// Writing small packets this way saves waking a writer goroutine for each
// one, which is most of the cost of a delivery when clients keep up.
func (ws *WebSocket) TryWrite(p parser.Packet) (taken bool, pending int) {
	if ws.rc == nil || len(p.Data) > maxTryWrite || !ws.wmu.TryLock() {
		return false, 0
	}
	defer ws.wmu.Unlock()
	if len(ws.pending) > 0 || ws.closeSent || ws.broken {
		return false, 0
	}
	bp := frameBufs.Get().(*[]byte)
	buf := append(ws.appendHeader((*bp)[:0], p), p.Data...)
	ws.tryBuf, ws.tryN = buf, 0
	// An error here means writeOnce never ran (the connection is
	// closed): tryN is then 0.
	_ = ws.rc.Write(ws.tryFn)
	n := ws.tryN
	ws.tryBuf = nil
	if n > 0 && n < len(buf) {
		ws.pending = append([]byte(nil), buf[n:]...)
	}
	*bp = buf[:0]
	frameBufs.Put(bp)
	if n == 0 {
		// Closed, broken or full: the writer finds out, or waits for
		// room.
		return false, 0
	}
	return true, len(ws.pending)
}

// flushPendingLocked writes what TryWrite left of a frame, before anything
// else is written.
func (ws *WebSocket) flushPendingLocked() error {
	if len(ws.pending) == 0 {
		return nil
	}
	_, err := ws.raw.Write(ws.pending)
	ws.pending = nil
	return err
}
