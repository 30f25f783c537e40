package transport

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// WebSocketOptions configures the WebSocket transport.
type WebSocketOptions struct {
	// MaxMessageSize bounds incoming frames, in bytes (the engine's
	// MaxHTTPBufferSize). A larger frame closes the connection.
	MaxMessageSize int64
	// CompressionThreshold enables permessage-deflate when above 0: frames
	// of at least this many bytes are compressed, if the client negotiated
	// the extension.
	CompressionThreshold int
	// CheckOrigin decides whether a handshake's Origin is accepted; nil
	// accepts every origin, as the reference server does.
	CheckOrigin func(r *http.Request) bool
	// ReadBufferSize and WriteBufferSize size the I/O buffers (gorilla's
	// defaults when zero).
	ReadBufferSize, WriteBufferSize int
}

// Upgrader turns HTTP requests into WebSocket transports. It is safe for
// concurrent use.
type Upgrader struct {
	up        websocket.Upgrader
	maxSize   int64
	threshold int
}

// NewUpgrader returns an Upgrader for opts.
func NewUpgrader(opts WebSocketOptions) *Upgrader {
	checkOrigin := opts.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = func(*http.Request) bool { return true }
	}
	return &Upgrader{
		up: websocket.Upgrader{
			ReadBufferSize:    opts.ReadBufferSize,
			WriteBufferSize:   opts.WriteBufferSize,
			WriteBufferPool:   writeBufferPool,
			CheckOrigin:       checkOrigin,
			EnableCompression: opts.CompressionThreshold > 0,
		},
		maxSize:   opts.MaxMessageSize,
		threshold: opts.CompressionThreshold,
	}
}

// writeBufferPool shares write buffers between idle connections.
var writeBufferPool websocket.BufferPool = &syncBufferPool{}

// Upgrade completes the WebSocket handshake. On failure it has already
// answered the request with an HTTP error.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request, header http.Header, protocol int) (*WebSocket, error) {
	conn, err := u.up.Upgrade(w, r, header)
	if err != nil {
		return nil, err
	}
	if u.maxSize > 0 {
		conn.SetReadLimit(u.maxSize)
	}
	ws := &WebSocket{conn: conn, protocol: protocol, threshold: u.threshold}
	if u.threshold == 0 {
		// No compression can have been negotiated: frames are written
		// straight to the connection (see frames.go), and so are the
		// control frames gorilla would otherwise write itself.
		ws.raw = conn.NetConn()
		ws.setupTryWrite(ws.raw)
		if ws.setupRawRead(u.maxSize) {
			// Frames are read without gorilla too (wsread.go): its
			// connection, and the read buffer it holds, are let go.
			ws.conn = nil
			return ws, nil
		}
		conn.SetPingHandler(ws.onPing)
		conn.SetCloseHandler(ws.onClose)
	}
	return ws, nil
}

// ErrInvalidUTF8 is returned by ReadPacket for a text frame that is not
// valid UTF-8; the connection has been sent close code 1007.
var ErrInvalidUTF8 = errors.New("transport: text frame is not valid UTF-8")

// WebSocket is one WebSocket connection carrying Engine.IO packets, one
// packet per frame. ReadPacket must be called from one goroutine at a time,
// and so must the write methods.
type WebSocket struct {
	// conn is gorilla's connection, which reads the frames (and writes
	// them when compression is on); nil when rd reads them.
	conn      *websocket.Conn
	rd        *rawReader
	watch     *readWatch // OnReadable's registration (notify_linux.go)
	peekBuf   [1]byte    // WaitReadable's look at the next byte
	protocol  int
	threshold int

	// raw is the connection under conn when frames are written to it
	// directly; nil when gorilla writes them (compression on).
	raw      net.Conn
	wmu      sync.Mutex // serializes writes to raw
	deadline bool       // a write deadline is set on raw
	// closeBy is the deadline of a close frame WriteClose is sending
	// (Unix nanoseconds; 0 while none is): no write after it is set may
	// run past it, whatever deadline its caller asks for.
	closeBy atomic.Int64
	// rc writes to raw's descriptor for TryWrite; nil when raw is not a
	// plain socket. tryFn, tryBuf and tryN are TryWrite's call to it, kept
	// here so that it allocates nothing. pending is what TryWrite left of
	// a frame. All are guarded by wmu.
	rc      syscall.RawConn
	tryFn   func(fd uintptr) bool
	tryBuf  []byte
	tryN    int
	pending []byte
	// closeSent: a close frame has gone out, and nothing may follow it.
	// broken: a write failed, perhaps in the middle of a frame, so that
	// nothing can follow it either. Both are guarded by wmu.
	closeSent bool
	broken    bool
	typ       [1]byte // the type prefix being written, kept here to avoid an allocation
}

// ReadPacket reads the next packet. The packet's data is freshly allocated
// and belongs to the caller.
func (ws *WebSocket) ReadPacket() (parser.Packet, error) {
	if ws.rd != nil {
		m, err := ws.rd.next(true)
		if err != nil {
			return parser.Packet{}, err
		}
		return ws.decode(m.data, m.binary)
	}
	kind, data, err := ws.conn.ReadMessage()
	if err != nil {
		return parser.Packet{}, err
	}
	binary := kind == websocket.BinaryMessage
	if !binary && !utf8.Valid(data) {
		// As the reference's WebSocket library does: close 1007, and the
		// session ends with a transport error.
		msg := websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, "")
		if ws.raw != nil {
			_ = ws.writeControl(opClose, msg, time.Now().Add(time.Second))
		} else {
			_ = ws.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		}
		return parser.Packet{}, ErrInvalidUTF8
	}
	return ws.decode(data, binary)
}

// CanWait reports whether the connection can be waited on without a read
// (WaitReadable) and read without waiting (ReadPacketNow): a plain socket
// without compression, on Unix.
func (ws *WebSocket) CanWait() bool { return ws.rd != nil }

// ReadPacketNow is ReadPacket without waiting: it returns ErrWouldBlock
// when no whole packet has arrived. It is only for a WebSocket that
// CanWait.
func (ws *WebSocket) ReadPacketNow() (parser.Packet, error) {
	m, err := ws.rd.next(false)
	if err != nil {
		return parser.Packet{}, err
	}
	return ws.decode(m.data, m.binary)
}

// decode decodes one message as a packet.
func (ws *WebSocket) decode(data []byte, binary bool) (parser.Packet, error) {
	if ws.protocol == parser.ProtocolV3 {
		return parser.DecodePacketV3(data, binary)
	}
	return parser.DecodePacket(data, binary)
}

// WritePackets writes each packet as one frame. A deadline of zero means
// none.
func (ws *WebSocket) WritePackets(packets []parser.Packet, deadline time.Time) error {
	if ws.raw != nil {
		return ws.writeRaw(packets, deadline)
	}
	if err := ws.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	for _, p := range packets {
		if err := ws.writePacket(p); err != nil {
			return err
		}
	}
	return nil
}

func (ws *WebSocket) writePacket(p parser.Packet) error {
	kind := websocket.TextMessage
	if p.Binary {
		kind = websocket.BinaryMessage
	}
	if ws.threshold > 0 {
		ws.conn.EnableWriteCompression(len(p.Data) >= ws.threshold && !p.NoCompress)
	}
	w, err := ws.conn.NextWriter(kind)
	if err != nil {
		return err
	}
	// A text frame starts with the type digit, a v3 binary frame with the
	// type byte, a v4 binary frame with the data itself.
	switch {
	case !p.Binary:
		ws.typ[0] = '0' + byte(p.Type)
		_, err = w.Write(ws.typ[:])
	case ws.protocol == parser.ProtocolV3:
		ws.typ[0] = byte(p.Type)
		_, err = w.Write(ws.typ[:])
	}
	if err == nil {
		_, err = w.Write(p.Data)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// closeWait bounds the writing of a close frame, the wait for a write
// under way included.
const closeWait = time.Second

// WriteClose sends a close frame without a status code, as the reference
// server's WebSocket library does whenever the server closes a connection
// (the client sees 1005), unless a close frame has gone out already (an
// answer to the client's, or one for a protocol error) or a write has
// failed. The frame goes after a write under way; a peer that does not
// read cannot hold WriteClose longer than a second: a write still under
// way by then fails, and the frame is not sent.
func (ws *WebSocket) WriteClose() error {
	deadline := time.Now().Add(closeWait)
	if ws.raw != nil {
		// Set before the lock is taken, so that a write stuck under it
		// fails by the deadline and lets it go; the writes that take the
		// lock before the close frame keep to it too (setDeadlineLocked).
		ws.closeBy.Store(deadline.UnixNano())
		_ = ws.raw.SetWriteDeadline(deadline)
		return ws.writeControl(opClose, nil, deadline)
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNoStatusReceived, "")
	return ws.conn.WriteControl(websocket.CloseMessage, msg, deadline)
}

// Shut closes the connection from the server side: a close frame, as
// WriteClose sends it, then the connection closes. It may take a second
// (see WriteClose).
func (ws *WebSocket) Shut() {
	_ = ws.WriteClose()
	_ = ws.Close()
}

// Close closes the underlying connection at once. It is safe to call from
// any goroutine, and more than once.
func (ws *WebSocket) Close() error {
	if ws.conn == nil {
		return ws.closeWatched()
	}
	return ws.conn.Close()
}

// SetReadDeadline bounds the next reads.
func (ws *WebSocket) SetReadDeadline(t time.Time) error {
	if ws.conn == nil {
		return ws.raw.SetReadDeadline(t)
	}
	return ws.conn.SetReadDeadline(t)
}

// RemoteAddr is the peer's network address.
func (ws *WebSocket) RemoteAddr() net.Addr {
	if ws.conn == nil {
		return ws.raw.RemoteAddr()
	}
	return ws.conn.RemoteAddr()
}

// IsProtocolError reports whether a read error is the peer's fault at the
// WebSocket level (a bad frame, a message over the size limit), as opposed
// to the connection closing or breaking. The reference server reports the
// first as "transport error" and the second as "transport close".
func IsProtocolError(err error) bool {
	if err == nil {
		return false
	}
	var ce *websocket.CloseError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return false
	}
	return true
}
