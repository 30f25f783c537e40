package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// This file reads WebSocket frames from the connection without gorilla
// when no compression is in use, as frames.go writes them. An idle
// connection holds no read buffer: the reader waits for the descriptor to
// become readable (wsread_unix.go), reads into a buffer of a pool, feeds
// what came to a resumable frame parser, and gives the buffer back. The
// parser keeps only the state of the frame under way, and a message's
// bytes from its first frame to its last.

// readChunk is the size of the pooled buffers reads go into.
const readChunk = 4096

var readBufs = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// Control opcodes the client may send, besides opClose and opPong
// (frames.go).
const (
	opContinuation = 0x0
	opPing         = 0x9
)

// errProtocol is a frame that breaks RFC 6455; the connection has been
// sent close code 1002.
var errProtocol = errors.New("transport: WebSocket protocol error")

// errTooLarge is a message past the read limit; the connection has been
// sent close code 1009.
var errTooLarge = errors.New("transport: WebSocket message too large")

// frameParser turns the bytes of a client's frames into messages. Feed
// it what was read; it answers pings, validates every frame, and hands
// back each complete text or binary message.
type frameParser struct {
	maxSize int64
	// control writes a control frame to the client (a pong, a close).
	control func(op byte, payload []byte)

	// The header of the frame under way: hdr[:hdrN] read so far, of a
	// length known once its second byte is in.
	hdr  [14]byte
	hdrN int
	// The payload of the frame under way.
	inPayload bool
	op        byte
	fin       bool
	remaining int64
	mask      [4]byte
	maskPos   int
	ctl       []byte // a control frame's payload
	// The message under way: its opcode (0 when none) and bytes.
	msgOp byte
	msg   []byte
}

// message is one complete text or binary message.
type message struct {
	binary bool
	data   []byte
}

// feed parses b, calling emit for each message it completes. It returns
// the number of bytes it consumed, less than len(b) only when emit asked
// to stop (returned false) or on error.
func (p *frameParser) feed(b []byte, emit func(message) bool) (int, error) {
	i := 0
	for i < len(b) {
		if !p.inPayload {
			n, err := p.readHeader(b[i:])
			i += n
			if err != nil {
				return i, err
			}
			if !p.inPayload {
				continue // more header to come, or a frame without payload done
			}
		} else {
			n := int(min(int64(len(b)-i), p.remaining))
			p.payload(b[i : i+n])
			i += n
			p.remaining -= int64(n)
		}
		if p.remaining == 0 {
			m, done, err := p.endFrame()
			if err != nil {
				return i, err
			}
			if done && !emit(m) {
				return i, nil
			}
		}
	}
	return i, nil
}

// readHeader takes header bytes from b; once the header is whole it is
// checked and the payload begins.
func (p *frameParser) readHeader(b []byte) (int, error) {
	used := 0
	for used < len(b) {
		need := 2
		if p.hdrN >= 2 {
			need = headerLen(p.hdr[1])
		}
		if p.hdrN == need {
			break
		}
		n := copy(p.hdr[p.hdrN:need], b[used:])
		p.hdrN += n
		used += n
		if p.hdrN >= 2 && p.hdr[1]&0x80 == 0 {
			// Known from the second byte, before the length of a header
			// that would have a mask key.
			p.hdrN = 0
			return used, p.fail(websocket.CloseProtocolError, "frame not masked")
		}
	}
	if p.hdrN < 2 || p.hdrN < headerLen(p.hdr[1]) {
		return used, nil
	}
	return used, p.startFrame()
}

// headerLen is the length of a masked frame's header from its second byte.
func headerLen(b1 byte) int {
	switch b1 & 0x7F {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	}
	return 2 + 4
}

// startFrame checks a whole header and sets up its payload.
func (p *frameParser) startFrame() error {
	b0, b1 := p.hdr[0], p.hdr[1]
	p.hdrN = 0
	fin, op := b0&0x80 != 0, b0&0x0F
	if b0&0x70 != 0 {
		return p.fail(websocket.CloseProtocolError, "reserved bits set")
	}
	var n uint64
	k := 2
	switch b1 & 0x7F {
	case 126:
		n, k = uint64(binary.BigEndian.Uint16(p.hdr[2:])), 4
	case 127:
		n, k = binary.BigEndian.Uint64(p.hdr[2:]), 10
		if n>>63 != 0 {
			return p.fail(websocket.CloseProtocolError, "bad frame length")
		}
	default:
		n = uint64(b1 & 0x7F)
	}
	copy(p.mask[:], p.hdr[k:k+4])
	switch op {
	case opClose, opPing, opPong:
		if !fin || n > 125 {
			return p.fail(websocket.CloseProtocolError, "bad control frame")
		}
	case opText, opBinary:
		if p.msgOp != 0 {
			return p.fail(websocket.CloseProtocolError, "message started before the last one ended")
		}
		p.msgOp = op
	case opContinuation:
		if p.msgOp == 0 {
			return p.fail(websocket.CloseProtocolError, "continuation of no message")
		}
	default:
		return p.fail(websocket.CloseProtocolError, "unknown opcode")
	}
	if op < opClose && p.maxSize > 0 && int64(len(p.msg))+int64(n) > p.maxSize {
		return p.fail(websocket.CloseMessageTooBig, "")
	}
	p.inPayload, p.op, p.fin, p.remaining, p.maskPos = true, op, fin, int64(n), 0
	return nil
}

// payload unmasks b onto the message or the control frame under way. The
// message grows with what arrives, not with what its header announced.
func (p *frameParser) payload(b []byte) {
	var dst *[]byte
	if p.op >= opClose {
		dst = &p.ctl
	} else {
		dst = &p.msg
		if *dst == nil && p.fin && int64(len(b)) == p.remaining {
			// The whole of a one-frame message: exactly its size.
			*dst = make([]byte, 0, len(b))
		}
	}
	start := len(*dst)
	*dst = append(*dst, b...)
	out := (*dst)[start:]
	for j := range out {
		out[j] ^= p.mask[(p.maskPos+j)&3]
	}
	p.maskPos = (p.maskPos + len(out)) & 3
}

// endFrame finishes the frame whose payload is complete: done is set with
// a message completed by it.
func (p *frameParser) endFrame() (m message, done bool, err error) {
	p.inPayload = false
	switch p.op {
	case opPing:
		p.control(opPong, p.ctl)
		p.ctl = nil // an idle connection keeps nothing
		return m, false, nil
	case opPong:
		p.ctl = nil
		return m, false, nil
	case opClose:
		return m, false, p.closeFrame()
	}
	if !p.fin {
		return m, false, nil
	}
	m = message{binary: p.msgOp == opBinary, data: p.msg}
	if m.data == nil {
		m.data = []byte{}
	}
	p.msgOp, p.msg = 0, nil
	if !m.binary && !utf8.Valid(m.data) {
		// As the reference's WebSocket library does: close 1007.
		p.control(opClose, websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""))
		return message{}, false, ErrInvalidUTF8
	}
	return m, true, nil
}

// closeFrame answers the client's close frame with its code and returns
// the *websocket.CloseError a read reports for it, as gorilla would.
func (p *frameParser) closeFrame() error {
	code, text := websocket.CloseNoStatusReceived, ""
	switch {
	case len(p.ctl) == 1:
		return p.fail(websocket.CloseProtocolError, "bad close payload")
	case len(p.ctl) >= 2:
		code, text = int(binary.BigEndian.Uint16(p.ctl)), string(p.ctl[2:])
		if !validCloseCode(code) || !utf8.ValidString(text) {
			return p.fail(websocket.CloseProtocolError, "bad close payload")
		}
	}
	p.control(opClose, websocket.FormatCloseMessage(code, ""))
	return &websocket.CloseError{Code: code, Text: text}
}

// validCloseCode reports whether a client may send code (RFC 6455,
// section 7.4).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// fail sends a close frame with code and returns the read's error.
func (p *frameParser) fail(code int, text string) error {
	p.control(opClose, websocket.FormatCloseMessage(code, text))
	if code == websocket.CloseMessageTooBig {
		return errTooLarge
	}
	return errProtocol
}

// idle reports whether no frame is under way.
func (p *frameParser) idle() bool { return !p.inPayload && p.hdrN == 0 && p.msgOp == 0 }

// rawReader reads a connection's frames with the parser, keeping between
// reads only the bytes of a read that held more than one message.
type rawReader struct {
	p    frameParser
	read func(wait bool, fn func(b []byte) int) error // reads bytes, waiting for them or not, and hands them to fn (wsread_unix.go)
	rest []byte                                       // bytes read but not parsed yet
	err  error
}

// ErrWouldBlock is returned by ReadPacketNow when no whole packet can be
// read without waiting.
var ErrWouldBlock = errors.New("transport: no packet ready")

// next returns the next message, waiting for it when wait is set; without
// it, it returns ErrWouldBlock when the connection has nothing more.
func (r *rawReader) next(wait bool) (message, error) {
	if r.err != nil {
		return message{}, r.err
	}
	var got message
	have := false
	emit := func(m message) bool {
		got, have = m, true
		return false // one at a time
	}
	if len(r.rest) > 0 {
		n, err := r.p.feed(r.rest, emit)
		r.rest = r.rest[n:]
		if len(r.rest) == 0 {
			r.rest = nil
		}
		if err != nil {
			r.err = err
			return message{}, err
		}
		if have {
			return got, nil
		}
	}
	for !have {
		var perr error
		err := r.read(wait, func(b []byte) int {
			n, err := r.p.feed(b, emit)
			if err != nil {
				perr = err
				return len(b)
			}
			if n < len(b) {
				r.rest = append([]byte(nil), b[n:]...)
			}
			return len(b)
		})
		switch {
		case err == ErrWouldBlock, perr == nil && errors.Is(err, os.ErrDeadlineExceeded):
			// Nothing lost: the next read goes on from here.
			return message{}, err
		case perr != nil:
			r.err = perr
		case err == io.EOF && !r.p.idle():
			r.err = io.ErrUnexpectedEOF
		case err != nil:
			r.err = err
		}
		if r.err != nil && !have {
			return message{}, r.err
		}
	}
	return got, nil
}
