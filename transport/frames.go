package transport

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// This file writes WebSocket frames straight to the connection when no
// compression is in use. Gorilla's writer sets the connection's write
// deadline (a timer update) and makes one write system call for every
// frame; here all the frames of a batch go out in one write, with no
// deadline unless the caller asks for one. Every frame the server sends
// goes through ws.wmu, control frames included: gorilla's own ping and
// close handlers are replaced by onPing and onClose, so nothing else
// writes to the connection. TryWrite (trywrite.go) writes single small
// frames from the sender's goroutine under the same lock.

// Frame opcodes (RFC 6455, section 5.2).
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xA
)

// frameBufs keeps the buffers batches are framed into.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxFrameBuf is the size past which a batch's buffer is written out
// before more frames are added, and not kept for reuse.
const maxFrameBuf = 64 << 10

// writeRaw frames packets into one buffer and writes it. A packet whose
// data is large is written from its own slice rather than copied.
func (ws *WebSocket) writeRaw(packets []parser.Packet, deadline time.Time) error {
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxFrameBuf {
			*bp = buf[:0]
			frameBufs.Put(bp)
		}
	}()
	ws.wmu.Lock()
	defer ws.wmu.Unlock()
	if err := ws.startWriteLocked(deadline); err != nil {
		return err
	}
	var err error
	buf, err = ws.writeFramesLocked(packets, buf)
	if err != nil {
		ws.broken = true
	}
	return err
}

// writeFramesLocked frames packets into buf and writes them, returning
// buf as it grew. Caller holds ws.wmu.
func (ws *WebSocket) writeFramesLocked(packets []parser.Packet, buf []byte) ([]byte, error) {
	for _, p := range packets {
		buf = ws.appendHeader(buf, p)
		if len(p.Data) > maxFrameBuf/4 {
			// Large data goes from its own slice, after what is framed.
			if _, err := ws.raw.Write(buf); err != nil {
				return buf, err
			}
			buf = buf[:0]
			if _, err := ws.raw.Write(p.Data); err != nil {
				return buf, err
			}
			continue
		}
		buf = append(buf, p.Data...)
		if len(buf) >= maxFrameBuf {
			if _, err := ws.raw.Write(buf); err != nil {
				return buf, err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		_, err := ws.raw.Write(buf)
		return buf, err
	}
	return buf, nil
}

// appendHeader appends the frame header of p, and the type prefix its
// data follows.
func (ws *WebSocket) appendHeader(buf []byte, p parser.Packet) []byte {
	op, prefix := byte(opText), -1
	switch {
	case !p.Binary:
		prefix = '0' + int(p.Type)
	case ws.protocol == parser.ProtocolV3:
		op, prefix = opBinary, int(p.Type)
	default:
		op = opBinary
	}
	n := len(p.Data)
	if prefix >= 0 {
		n++
	}
	buf = appendFrameHeader(buf, op, n)
	if prefix >= 0 {
		buf = append(buf, byte(prefix))
	}
	return buf
}

// writeControl writes one control frame (payload at most 125 bytes).
func (ws *WebSocket) writeControl(op byte, payload []byte, deadline time.Time) error {
	var b [2 + 125]byte
	frame := append(appendFrameHeader(b[:0], op, len(payload)), payload...)
	ws.wmu.Lock()
	defer ws.wmu.Unlock()
	if err := ws.startWriteLocked(deadline); err != nil {
		return err
	}
	if op == opClose {
		ws.closeSent = true
	}
	_, err := ws.raw.Write(frame)
	if err != nil {
		ws.broken = true
	}
	return err
}

// errNoWrite is the error of a write after a close frame or a failed
// write.
var errNoWrite = errors.New("transport: WebSocket closed for writing")

// startWriteLocked prepares a write: it checks that the connection can
// still be written to, sets the write's deadline, then writes what
// TryWrite left of a frame, which must go out before anything else.
func (ws *WebSocket) startWriteLocked(deadline time.Time) error {
	if ws.closeSent || ws.broken {
		return errNoWrite
	}
	if err := ws.setDeadlineLocked(deadline); err != nil {
		return err
	}
	if err := ws.flushPendingLocked(); err != nil {
		ws.broken = true
		return err
	}
	return nil
}

// setDeadlineLocked sets the write deadline, or clears one set before; it
// costs nothing when neither is needed. Once WriteClose has begun, no
// deadline is later than the close frame's, so that a write that took the
// lock first cannot hold the close frame past it.
func (ws *WebSocket) setDeadlineLocked(deadline time.Time) error {
	for {
		by := ws.closeBy.Load()
		d := deadline
		if by != 0 && (d.IsZero() || d.UnixNano() > by) {
			d = time.Unix(0, by)
		}
		if d.IsZero() && !ws.deadline {
			return nil
		}
		ws.deadline = !d.IsZero()
		err := ws.raw.SetWriteDeadline(d)
		if ws.closeBy.Load() == by {
			return err
		}
		// WriteClose began meanwhile and its deadline may have been
		// overwritten: set the earlier one again.
	}
}

// controlFrame writes a control frame the frame reader asks for; a
// failure shows as a failed read or write soon enough.
func (ws *WebSocket) controlFrame(op byte, payload []byte) {
	_ = ws.writeControl(op, payload, time.Now().Add(time.Second))
}

// onPing answers a client's ping with a pong carrying the same data, as
// gorilla's default handler would.
func (ws *WebSocket) onPing(data string) error {
	if len(data) > 125 {
		return nil // gorilla has refused such a frame already
	}
	_ = ws.writeControl(opPong, []byte(data), time.Now().Add(time.Second))
	return nil // a failed pong shows as a failed read or write soon enough
}

// onClose answers a client's close frame with one carrying the same code,
// as gorilla's default handler would; the read then fails with a
// *websocket.CloseError.
func (ws *WebSocket) onClose(code int, _ string) error {
	_ = ws.writeControl(opClose, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	return nil
}

// appendFrameHeader appends the header of a final, unmasked frame of
// opcode op carrying n bytes.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}
