package transport

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/duplexio/duplex/parser"
)

// HeldPoll is a long-polling GET taken over from net/http while it waits
// for something to send. A GET that net/http holds costs a goroutine with
// a deep stack, a second goroutine watching the connection, two 4 KiB
// buffers and the request: several times what the session itself costs.
// A HeldPoll keeps the connection, the response headers already set and
// the two request headers the answer depends on; on Linux the
// connection is watched by the process's epoll set, with no goroutine.
//
// The answer is a complete HTTP/1.1 response with "Connection: close":
// net/http cannot take a connection back, so the client's next request
// comes on a new one. Hold the GETs of idle sessions only (a session that
// answers polls several times a second would pay a new connection each
// time).
type HeldPoll struct {
	conn   net.Conn
	rc     syscall.RawConn // nil when conn is not a plain socket
	watch  *readWatch
	header http.Header // the response headers set before the hold
	// The request headers WritePayload reads.
	acceptEncoding, userAgent string

	mu     sync.Mutex
	closed bool
}

// Hold takes the connection of the polling GET r from net/http, with the
// headers already set on w, and returns it; the handler must then return
// without using w or r again. It returns nil, leaving w and r as they
// were, where the connection cannot be taken: HTTP/2, TLS (the answer
// would have to go through the TLS connection, which epoll cannot
// watch), or a ResponseWriter that cannot hijack.
//
// Bytes the client sent after the GET (a pipelined request) are dropped:
// the answer closes the connection, and the client sends them again on a
// new one.
func Hold(w http.ResponseWriter, r *http.Request) *HeldPoll {
	if r.ProtoMajor != 1 || r.TLS != nil {
		return nil
	}
	header := w.Header().Clone()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil
	}
	h := &HeldPoll{
		conn:           conn,
		header:         header,
		acceptEncoding: r.Header.Get("Accept-Encoding"),
		userAgent:      r.Header.Get("User-Agent"),
	}
	if sc, ok := conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			h.rc = rc
		}
	}
	return h
}

// OnClosed has fn started in a new goroutine when the client closes the
// connection, sends anything on it, or it fails: any of which ends a
// pending poll. It is not started once Answer or Close has closed the
// connection. Call it once.
func (h *HeldPoll) OnClosed(fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if h.rc != nil && watchConn(h.rc, &h.watch, func() { h.fire(fn) }) {
		return
	}
	// No epoll here: one goroutine with a small stack waits on the
	// connection, and ends when it closes.
	go func() {
		var b [1]byte
		_, _ = h.conn.Read(b[:])
		h.fire(fn)
	}()
}

// fire starts fn unless the connection has been closed here.
func (h *HeldPoll) fire(fn func()) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if !closed {
		fn()
	}
}

// Close closes the connection without an answer.
func (h *HeldPoll) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	if h.rc != nil {
		unwatchConn(h.rc, &h.watch)
	}
	h.mu.Unlock()
	return h.conn.Close()
}

// Answer answers the held GET with packets, as WritePayload answers a GET
// that net/http holds, and closes the connection. The write must end by
// deadline.
func (p *Polling) Answer(h *HeldPoll, packets []parser.Packet, deadline time.Time) error {
	rw := heldResponses.Get().(*heldResponse)
	defer rw.release()
	rw.header = h.header
	req := &http.Request{Header: make(http.Header, 2)}
	if h.acceptEncoding != "" {
		req.Header["Accept-Encoding"] = []string{h.acceptEncoding}
	}
	if h.userAgent != "" {
		req.Header["User-Agent"] = []string{h.userAgent}
	}
	if err := p.WritePayload(rw, req, packets); err != nil {
		_ = h.Close()
		return err
	}
	out := rw.response()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return net.ErrClosed
	}
	// The watch goes before the write: the client may close its end as
	// soon as it has read the answer.
	h.closed = true
	if h.rc != nil {
		unwatchConn(h.rc, &h.watch)
	}
	h.mu.Unlock()
	_ = h.conn.SetWriteDeadline(deadline)
	_, err := h.conn.Write(out)
	if tc, ok := h.conn.(*net.TCPConn); ok && err == nil {
		// A FIN after the answer, so that the client reads all of it.
		_ = tc.CloseWrite()
	}
	if cerr := h.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// heldResponse is the http.ResponseWriter that WritePayload writes a held
// poll's answer to: it gathers the status, headers and body, and then
// makes the whole response.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	out    bytes.Buffer
}

var heldResponses = sync.Pool{New: func() any { return new(heldResponse) }}

func (rw *heldResponse) Header() http.Header { return rw.header }

func (rw *heldResponse) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
}

func (rw *heldResponse) Write(b []byte) (int, error) {
	rw.WriteHeader(http.StatusOK)
	return rw.body.Write(b)
}

// response is the complete response: status line, headers (with
// Content-Length, Date and Connection: close), body.
func (rw *heldResponse) response() []byte {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	h := rw.header
	h.Set("Content-Length", strconv.Itoa(rw.body.Len()))
	h.Set("Connection", "close")
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	rw.out.WriteString("HTTP/1.1 ")
	rw.out.WriteString(strconv.Itoa(rw.status))
	rw.out.WriteByte(' ')
	rw.out.WriteString(http.StatusText(rw.status))
	rw.out.WriteString("\r\n")
	_ = h.Write(&rw.out)
	rw.out.WriteString("\r\n")
	rw.out.Write(rw.body.Bytes())
	return rw.out.Bytes()
}

// release returns rw to its pool, unless its buffers grew large.
func (rw *heldResponse) release() {
	rw.header, rw.status = nil, 0
	if rw.body.Cap() > 64<<10 || rw.out.Cap() > 64<<10 {
		return
	}
	rw.body.Reset()
	rw.out.Reset()
	heldResponses.Put(rw)
}
