package engineio

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
)

// pollCloseTimeout is how long a closing polling session waits for the
// client's next poll, to hand it the close packet (the reference's 30s).
const pollCloseTimeout = 30 * time.Second

type sessionState uint8

const (
	stateOpen sessionState = iota
	stateClosing
	stateClosed
)

// closeMode says how a session closes.
type closeMode uint8

const (
	// closeNow drops the connection at once.
	closeNow closeMode = iota
	// closeFlush sends what is queued, then a close packet (polling) or a
	// close frame (WebSocket); a polling session waits for the next poll.
	closeFlush
	// closeFlushNoWait is closeFlush without waiting for a poll that is
	// not already pending.
	closeFlushNoWait
)

// errStop stops the decoding of a polling payload.
var errStop = errors.New("engineio: stop")

// Session is one Engine.IO client connection, which outlives the HTTP
// requests and WebSocket connections that carry it. Its methods are safe for
// concurrent use.
type Session struct {
	id       string
	srv      *Server
	protocol int
	req      *http.Request
	poll     transport.Polling

	readMu sync.Mutex // one packet handled at a time

	mu        sync.Mutex
	state     sessionState
	reason    Reason // the reason of a session being closed
	transport string
	ws        *transport.WebSocket // the WebSocket in use, once there is one
	probe     *transport.WebSocket // a WebSocket being upgraded to
	probed    bool                 // the probe answered: release the pending poll
	queue     []parser.Packet
	spare     []parser.Packet
	queued    int    // bytes in queue
	sending   int    // bytes being written by the WebSocket writer
	unsent    int    // bytes of a frame enqueueLocked wrote in part, left for the writer
	batches   uint64 // batches the WebSocket writer has started
	seen      uint64 // batches at the last heartbeat, while one was being written
	polling   bool   // a GET is pending and has not taken its packets yet
	posting   bool   // a POST is being read
	flushing  bool   // a WebSocket writer goroutine runs
	pollWake  chan struct{}
	done      chan struct{}
	data      any

	heartbeat    *time.Timer
	due          time.Time // when the heartbeat timer's current duty falls due
	awaitingPong bool
	refreshed    bool // the ping timeout was extended by a packet once
	closeTimer   *time.Timer
	// closeAfterDrain: a closing polling session sends what is queued,
	// then the close packet with the next poll, as the reference does.
	closeAfterDrain bool
}

func newSession(srv *Server, id string, protocol int, r *http.Request, q url.Values, transportName string) *Session {
	req := r.WithContext(context.Background())
	req.Body = http.NoBody
	if r.Host != "" && r.Header != nil && len(r.Header["Host"]) == 0 {
		r.Header["Host"] = []string{r.Host}
	}
	poll := transport.Polling{
		Protocol:       protocol,
		SupportsBinary: q.Get("b64") == "",
		MaxBufferSize:  srv.opts.MaxHTTPBufferSize,
	}
	if !srv.opts.HTTPCompression.Disable {
		poll.CompressionThreshold = srv.opts.HTTPCompression.Threshold
	}
	return &Session{
		id:        id,
		srv:       srv,
		protocol:  protocol,
		req:       req,
		poll:      poll,
		transport: transportName,
		pollWake:  make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// ID is the session id (the handshake's sid).
func (s *Session) ID() string { return s.id }

// Protocol is the Engine.IO protocol revision of the client: 4, or 3 for
// socket.io 2.x clients.
func (s *Session) Protocol() int { return s.protocol }

// Request is the handshake request. Its body is gone; its headers, URL and
// RemoteAddr are there to read, not to change. Its Header also holds the
// Host header (which net/http moves to Request.Host), as the handshake's
// headers do in the reference server.
func (s *Session) Request() *http.Request { return s.req }

// RemoteAddr is the client's address as seen by the handshake request.
func (s *Session) RemoteAddr() string { return s.req.RemoteAddr }

// TransportName is the transport in use: "polling" or "websocket".
func (s *Session) TransportName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Done is closed when the session has closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// Data returns the value stored by SetData.
func (s *Session) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData stores a value for the layer above (the Socket.IO client of the
// session, say).
func (s *Session) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// SendOptions modify one message sent with SendWith.
type SendOptions struct {
	// NoCompress sends the message uncompressed even when compression is
	// on: as its own WebSocket frame without permessage-deflate, and, over
	// polling, in a response left uncompressed unless another message of
	// it may be compressed (as the reference decides).
	NoCompress bool
}

// Send sends a message: UTF-8 text, or raw bytes when binary is true. Over
// WebSocket, with nothing queued before it, it is written before Send
// returns if the connection takes it without waiting; otherwise it is
// queued for the session's writer, which keeps data until it is written, so
// data must not change after the call; one slice may be sent to many
// sessions. Send never waits for the client. It returns ErrSessionClosed
// once the session is closing, and ErrSlowConsumer (closing the session)
// when the outgoing queue would pass Options.MaxQueueBytes.
func (s *Session) Send(data []byte, binary bool) error {
	return s.SendWith(data, binary, SendOptions{})
}

// SendWith is Send with options.
func (s *Session) SendWith(data []byte, binary bool, opts SendOptions) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	size := len(data) + 1
	if s.queued > 0 && s.queued+size > s.srv.opts.MaxQueueBytes {
		s.mu.Unlock()
		s.close(ReasonSlowConsumer, closeNow)
		return ErrSlowConsumer
	}
	s.enqueueLocked(parser.Packet{Type: parser.PacketMessage, Data: data, Binary: binary, NoCompress: opts.NoCompress})
	s.mu.Unlock()
	return nil
}

// writableBytes is how far behind, in bytes queued or being written, a
// WebSocket client may be for Writable to still report true; it is lowered
// to half of Options.MaxQueueBytes when that is smaller.
const writableBytes = 64 << 10

// Writable reports whether a packet sent now would be written without
// waiting: the session is open and, on WebSocket, the client is no more
// than a few packets behind (under 64 KiB queued or being written); on
// polling, a GET is pending, so the packet leaves with its answer. The layer
// above uses it to drop "volatile" packets rather than queue them for a
// client that cannot take them now, as the reference server checks its
// transport's writable flag. It takes the session's lock briefly and never
// blocks on I/O.
func (s *Session) Writable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return false
	}
	if s.transport == transport.NamePolling {
		return s.polling
	}
	limit := min(writableBytes, s.srv.opts.MaxQueueBytes/2)
	return s.ws != nil && s.queued+s.sending+s.unsent <= limit
}

// Close closes the session from the server side (ReasonForcedClose), once
// the packets already queued are sent.
func (s *Session) Close() { s.close(ReasonForcedClose, closeFlush) }

// enqueueLocked sends a packet: over WebSocket, with nothing queued and
// no writer running, it writes it from here if the connection takes it at
// once; otherwise it queues it and wakes whoever writes to the client.
func (s *Session) enqueueLocked(p parser.Packet) {
	if s.queued == 0 && !s.flushing && s.state == stateOpen && s.ws != nil && s.transport == transport.NameWebSocket {
		if taken, pending := s.ws.TryWrite(p); taken {
			s.srv.counters.sentOne(&p)
			if pending > 0 {
				s.unsent = pending
				s.kickLocked()
			}
			return
		}
	}
	s.queue = append(s.queue, p)
	s.queued += len(p.Data) + 1
	s.kickLocked()
}

// kickLocked wakes the pending poll, or starts the WebSocket writer.
func (s *Session) kickLocked() {
	if s.ws == nil || s.transport != transport.NameWebSocket {
		select {
		case s.pollWake <- struct{}{}:
		default:
		}
		return
	}
	if !s.flushing && s.state != stateClosed {
		s.flushing = true
		s.srv.active.spawn()
		ws := s.ws
		s.srv.pool.Go(func() { s.flush(ws) })
	}
}

// takeLocked hands the queued packets to a writer, which gives the slice
// back with recycle once it has written them.
func (s *Session) takeLocked() []parser.Packet {
	batch := s.queue
	s.queue, s.spare = s.spare, nil
	s.queued = 0
	return batch
}

// recycle is called by a writer with a batch it has written: it counts the
// packets sent and keeps the slice for the next batch.
func (s *Session) recycle(batch []parser.Packet) {
	s.srv.counters.sent(batch)
	if cap(batch) > 64 {
		return
	}
	clear(batch)
	s.mu.Lock()
	if s.spare == nil {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
}

// close starts closing the session; see closeMode.
func (s *Session) close(reason Reason, mode closeMode) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	pollIdle := s.transport == transport.NamePolling && !s.polling
	if s.state == stateClosing {
		// Already closing: what ends it now (the client answering the close
		// frame, a write failing, a shutdown) does not change its reason,
		// which the reference reports as soon as it closes. Only closeNow,
		// or a shutdown of a session waiting for a poll, ends it sooner.
		reason = s.reason
		if mode == closeFlush || (mode == closeFlushNoWait && !pollIdle) {
			s.mu.Unlock()
			return
		}
		mode = closeNow
	}
	if mode == closeFlush || (mode == closeFlushNoWait && !pollIdle) {
		s.state = stateClosing
		s.reason = reason
		s.closeAfterDrain = mode == closeFlush
		if pollIdle {
			s.closeTimer = time.AfterFunc(pollCloseTimeout, func() { s.finish(reason) })
		}
		s.kickLocked()
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.finish(reason)
}

// finish closes the session for good and tells the handler.
func (s *Session) finish(reason Reason) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	if s.heartbeat != nil {
		s.heartbeat.Stop()
	}
	if s.closeTimer != nil {
		s.closeTimer.Stop()
	}
	ws, probe, transportName := s.ws, s.probe, s.transport
	clear(s.queue)
	s.queue, s.spare, s.queued = nil, nil, 0
	close(s.done)
	s.mu.Unlock()
	if ws != nil {
		if reason == ReasonPingTimeout || reason == ReasonParseError {
			// The client may still be listening: tell it, as the reference
			// does, rather than drop the connection.
			_ = ws.WriteClose()
		}
		ws.Close()
	}
	if probe != nil {
		probe.Close()
	}
	if s.srv.remove(s) {
		s.srv.counters.closed(transportName, reason)
	}
	s.srv.log.Debug("engineio: session closed", "sid", s.id, "reason", string(reason))
	s.srv.handler.OnClose(s, reason)
}

// startHeartbeat arms the heartbeat: in v4 the server pings every
// PingInterval; in v3 the client must ping within PingInterval+PingTimeout.
func (s *Session) startHeartbeat() {
	d := s.srv.opts.PingInterval
	if s.protocol == parser.ProtocolV3 {
		d += s.srv.opts.PingTimeout
	}
	s.mu.Lock()
	if s.state != stateClosed {
		s.due = time.Now().Add(d)
		s.heartbeat = time.AfterFunc(d, s.onHeartbeat)
	}
	s.mu.Unlock()
}

func (s *Session) resetHeartbeatLocked(d time.Duration) {
	if s.heartbeat == nil {
		return
	}
	s.due = time.Now().Add(d)
	s.heartbeat.Reset(d)
}

func (s *Session) onHeartbeat() {
	s.mu.Lock()
	if s.state != stateOpen || time.Now().Before(s.due) {
		s.mu.Unlock() // closing, or the timer was reset meanwhile
		return
	}
	if s.writeStuckLocked() {
		s.mu.Unlock()
		s.close(ReasonTransportError, closeNow)
		return
	}
	if s.protocol == parser.ProtocolV4 && !s.awaitingPong {
		s.awaitingPong, s.refreshed = true, false
		s.enqueueLocked(parser.Packet{Type: parser.PacketPing})
		s.resetHeartbeatLocked(s.srv.opts.PingTimeout)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.close(ReasonPingTimeout, closeNow)
}

// writeStuckLocked reports whether the WebSocket writer has been writing
// the same batch since the previous heartbeat: a client that stopped
// reading, whose connection would otherwise hold the writer forever. It is
// what bounds a write, at one to two heartbeat periods.
func (s *Session) writeStuckLocked() bool {
	if s.sending == 0 {
		s.seen = 0
		return false
	}
	if s.seen == s.batches {
		return true
	}
	s.seen = s.batches
	return false
}

// onPacket handles one packet from the client. It returns errStop when no
// more packets should be read from the same payload.
func (s *Session) onPacket(p parser.Packet) error {
	s.srv.counters.received(&p)
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return errStop
	}
	if s.awaitingPong && !s.refreshed && p.Type != parser.PacketPong {
		// Incoming traffic shows the client is alive: give the pong one
		// more PingTimeout, once per ping, as the reference does.
		s.refreshed = true
		s.resetHeartbeatLocked(s.srv.opts.PingTimeout)
	}
	switch p.Type {
	case parser.PacketPing:
		if s.protocol != parser.ProtocolV3 {
			s.mu.Unlock()
			s.close(ReasonTransportError, closeNow) // invalid heartbeat direction
			return errStop
		}
		s.resetHeartbeatLocked(s.srv.opts.PingInterval + s.srv.opts.PingTimeout)
		s.enqueueLocked(parser.Packet{Type: parser.PacketPong})
		s.mu.Unlock()
	case parser.PacketPong:
		if s.protocol == parser.ProtocolV3 {
			s.mu.Unlock()
			s.close(ReasonTransportError, closeNow)
			return errStop
		}
		if s.awaitingPong {
			s.awaitingPong = false
			s.resetHeartbeatLocked(s.srv.opts.PingInterval)
		}
		s.mu.Unlock()
	case parser.PacketMessage:
		s.mu.Unlock()
		s.srv.handler.OnMessage(s, p.Data, p.Binary)
	case parser.PacketClose:
		s.mu.Unlock()
		s.close(ReasonTransportClose, closeNow)
		return errStop
	default: // open, upgrade and noop mean nothing here
		s.mu.Unlock()
	}
	return nil
}
