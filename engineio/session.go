package engineio

import (
	"errors"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
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
// requests and WebSocket connections that carry it. It implements Conn.
// Its methods are safe for concurrent use.
type Session struct {
	// Set at the handshake, then only read.
	id       string
	srv      *Server
	protocol int
	req      atomic.Pointer[http.Request] // the handshake request, during open only
	poll     transport.Polling
	done     chan struct{} // closed by finish
	pollWake chan struct{} // wakes the pending GET

	readMu sync.Mutex // one packet read and handled at a time

	// mu guards every field below.
	mu      sync.Mutex
	handler SessionHandler // set by open; nil before
	state   sessionState
	reason  Reason // why a closing or closed session closes

	// The transport in use, and an upgrade under way.
	transport Transport
	ws        *transport.WebSocket // the WebSocket in use, once there is one
	probe     *transport.WebSocket // a WebSocket being upgraded to
	probed    bool                 // the probe answered: release the pending poll

	// What waits to be written, and who writes it.
	queue     []parser.Packet
	spare     []parser.Packet // an empty slice a writer gave back, for the next queue
	queued    int             // bytes in queue
	sending   int             // bytes being written by the WebSocket writer
	answering int             // bytes of polling answers being written
	unsent    int             // bytes of a frame enqueueLocked wrote in part, left for the writer
	batches   uint64          // batches the WebSocket writer has started
	seen      uint64          // batches at the last heartbeat, while one was being written
	polling   bool            // a GET is pending and has not taken its packets yet
	idlePoll  bool            // the last poll was the first answered, or answered with a ping alone
	answered  bool            // a poll has been answered
	held      pollHolder      // the pending GET, when not in a net/http handler
	heldWoken bool            // answerHeld has been started and not run yet

	// A WebSocket upgrade another node of the cluster was granted and has
	// not reported on; the session's WebSocket is on another node, which
	// relays its packets (cluster_owner.go).
	remoteUpgrade bool
	relayed       bool
	posting       bool   // a POST is being read
	posted        bool   // a POST has been read (guarded by readMu)
	cutPost       func() // ends the read of the POST being read; nil when none
	flushing      bool   // a WebSocket writer goroutine runs

	// The heartbeat (heartbeat.go).
	heartbeat    *time.Timer
	due          time.Time // when the heartbeat timer's current duty falls due
	awaitingPong bool
	refreshed    bool // the ping timeout was extended by a packet once

	// Closing.
	closeTimer *time.Timer
	// closeAfterDrain: a closing polling session sends what is queued,
	// then the close packet with the next poll, as the reference does.
	closeAfterDrain bool
	// Upgrade listeners (OnUpgrading, OnUpgrade).
	onUpgrading, onUpgrade []func(Transport)
	// closedByClient: a close packet from the client closed the polling
	// session; a GET it left pending gets a noop, not a close packet.
	closedByClient bool
}

func newSession(srv *Server, id string, protocol int, r *http.Request, q url.Values, kind Transport) *Session {
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
		poll:      poll,
		transport: kind,
		pollWake:  make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// open asks the server's Handler for the session's handler. A session
// that closed meanwhile (its heartbeat, a shutdown) is closed for the
// handler at once, so that OnClose is called exactly once either way.
func (s *Session) open(r *http.Request) {
	s.req.Store(r)
	h := s.srv.handler.OnOpen(s)
	s.req.Store(nil) // what the handler needed of it, it has taken
	if h == nil {
		h = SessionFuncs{}
	}
	s.mu.Lock()
	s.handler = h
	closed, reason := s.state == stateClosed, s.reason
	s.mu.Unlock()
	if closed {
		h.OnClose(reason)
	}
}

// ID is the session id (the handshake's sid).
func (s *Session) ID() string { return s.id }

// Protocol is the Engine.IO protocol revision of the client: 4, or 3 for
// socket.io 2.x clients.
func (s *Session) Protocol() int { return s.protocol }

// Request is the handshake request, during the Handler's OnOpen only: it
// returns nil once OnOpen has returned, so that an open session keeps
// none of it (copy what the session needs, as package socketio copies its
// handshake). Its headers, URL and RemoteAddr are there to read, not to
// change, and its body is not for reading. Its Header also holds the Host
// header (which net/http moves to Request.Host), as the handshake's
// headers do in the reference server.
func (s *Session) Request() *http.Request { return s.req.Load() }

// Transport is the transport in use now.
func (s *Session) Transport() Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Done is closed when the session has closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// Send sends the messages of one packet (a Socket.IO packet and its
// binary attachments, say): UTF-8 text, or raw bytes where Binary is set.
// They go out together and in order, with no message of another Send
// between them. Over WebSocket, with nothing queued before them, they are
// written before Send returns if the connection takes them without
// waiting; otherwise they are queued for the session's writer, which keeps
// their data until it is written, so it must not change after the call;
// one slice may be sent to many sessions. Send never waits for the
// client.
//
// It returns ErrDropped for a volatile packet the client cannot take at
// once (see SendOptions.Volatile), ErrSessionClosed once the session is
// closing, and ErrSlowConsumer, closing the session, when the packet would
// take the outgoing queue past Options.MaxQueueBytes. Closing the session
// then calls its handler's OnClose before Send returns: a caller must not
// hold a lock that OnClose takes.
func (s *Session) Send(msgs []parser.Message, opts SendOptions) error {
	size := 0
	for i := range msgs {
		size += len(msgs[i].Data) + 1
	}
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	if opts.Volatile && !s.writableLocked() {
		s.mu.Unlock()
		s.srv.counters.dropped.Add(1)
		return ErrDropped
	}
	if pending := s.pendingLocked(); pending > 0 && pending+size > s.srv.opts.MaxQueueBytes {
		s.mu.Unlock()
		s.close(ReasonSlowConsumer, closeNow)
		return ErrSlowConsumer
	}
	for i := range msgs {
		s.enqueueLocked(parser.Packet{Type: parser.PacketMessage, Data: msgs[i].Data, Binary: msgs[i].Binary, NoCompress: opts.NoCompress})
	}
	s.mu.Unlock()
	return nil
}

// pendingLocked is what MaxQueueBytes bounds: the bytes queued, and on
// polling those of an answer being written too, which a client that does
// not read it would otherwise let pile up behind it. (A WebSocket writer's
// batch is not counted: the heartbeat ends a write that does not move.)
func (s *Session) pendingLocked() int {
	if s.transport == TransportPolling {
		return s.queued + s.answering
	}
	return s.queued
}

// writableBytes is how far behind, in bytes queued or being written, a
// WebSocket client may be for a volatile packet to still be sent; it is
// lowered to half of Options.MaxQueueBytes when that is smaller.
const writableBytes = 64 << 10

// writableLocked reports whether a packet sent now would be written
// without waiting: on WebSocket, the client is no more than a few packets
// behind; on polling, a GET is pending, so the packet leaves with its
// answer. It is the reference's check of its transport's writable flag
// before a volatile packet.
func (s *Session) writableLocked() bool {
	if s.transport == TransportPolling {
		return s.polling
	}
	limit := min(writableBytes, s.srv.opts.MaxQueueBytes/2)
	return s.ws != nil && s.queued+s.sending+s.unsent <= limit
}

// OnUpgrading registers fn to be called each time the client starts to
// move the session to transport t (TransportWebSocket): its probe was
// answered, and the upgrade completes when the client confirms it, or
// fails (the session then stays on polling). It is the reference's
// "upgrading" event of a socket. fn is called on the goroutine that runs
// the upgrade, with no lock held; it should return soon. Listeners are
// called in the order they were registered, and kept for the session's
// life.
func (s *Session) OnUpgrading(fn func(t Transport)) {
	s.mu.Lock()
	s.onUpgrading = append(s.onUpgrading, fn)
	s.mu.Unlock()
}

// OnUpgrade registers fn to be called when the session has moved to
// transport t (TransportWebSocket): Transport returns it from then on, and
// the packets sent go over it. It is the reference's "upgrade" event of a
// socket. fn is called as OnUpgrading's listeners are: it runs before the
// session reads its first packet from the new transport. It is never
// called for a session opened over WebSocket, nor for one whose
// upgrade another node of a cluster handles.
func (s *Session) OnUpgrade(fn func(t Transport)) {
	s.mu.Lock()
	s.onUpgrade = append(s.onUpgrade, fn)
	s.mu.Unlock()
}

// notify calls the listeners *fns with t. Caller does not hold s.mu.
func (s *Session) notify(fns *[]func(Transport), t Transport) {
	s.mu.Lock()
	list := *fns
	s.mu.Unlock()
	for _, fn := range list {
		fn(t)
	}
}

// Close closes the session from the server side (ReasonForcedClose), once
// the packets already queued are sent.
func (s *Session) Close() { s.close(ReasonForcedClose, closeFlush) }

// enqueueLocked sends a packet: over WebSocket, with nothing queued and
// no writer running, it writes it from here if the connection takes it at
// once; otherwise it queues it and wakes whoever writes to the client.
// Caller holds s.mu.
//
// The direct write happens under s.mu on purpose. It is one write system
// call on a non-blocking socket (TryWrite never waits: a kernel buffer
// that is full takes nothing or part of the frame, and the rest goes to
// the writer), so the lock is held for a bounded time; and holding it is
// what keeps "nothing queued, no writer" true while the frame goes out,
// with no other state: the next Send, the writer and the heartbeat all
// see the write done or not started. Reserving the connection under the
// lock and writing outside it would need a second lock round trip per
// packet and a hand-over to the writer for packets sent meanwhile. The
// changes that brought in the direct write took the server's CPU per
// broadcast delivery from 1.17× to 0.87× the Node server's (bench/run.sh,
// case broadcast-rate; bench/README.md), most of it the write system call
// itself, so a second lock round trip per delivery is not free.
func (s *Session) enqueueLocked(p parser.Packet) {
	if s.queued == 0 && !s.flushing && s.state == stateOpen && s.ws != nil && s.transport == TransportWebSocket {
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
	if s.ws == nil || s.transport != TransportWebSocket {
		s.wakePollLocked()
		return
	}
	if !s.flushing && s.state != stateClosed {
		s.flushing = true
		s.srv.active.Add()
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
	pollIdle := s.transport == TransportPolling && !s.polling
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
	s.reason = reason
	if s.heartbeat != nil {
		s.heartbeat.Stop()
	}
	if s.closeTimer != nil {
		s.closeTimer.Stop()
	}
	if s.cutPost != nil {
		s.cutPost() // under s.mu, so that the POST's handler is still running
	}
	if s.held != nil {
		s.wakePollLocked() // answered with a close packet
	}
	ws, probe, kind, h := s.ws, s.probe, s.transport, s.handler
	clear(s.queue)
	s.queue, s.spare, s.queued = nil, nil, 0
	close(s.done)
	s.mu.Unlock()
	// The client may still be listening: whatever the reason, it is told
	// with a close frame, as the reference tells it, rather than by the
	// connection dropping. (A connection that has sent its close frame
	// already, or failed, gets none.)
	s.srv.shut(ws)
	s.srv.shut(probe)
	if s.srv.remove(s) {
		s.srv.counters.closed(kind, reason)
	}
	s.srv.log.Debug("engineio: session closed", "sid", s.id, "reason", string(reason))
	if h != nil { // else open tells the handler, once it has one
		h.OnClose(reason)
	}
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
		h := s.handler
		s.mu.Unlock()
		if h != nil {
			h.OnMessage(p.Data, p.Binary)
		}
	case parser.PacketClose:
		s.closedByClient = s.transport == TransportPolling
		s.mu.Unlock()
		s.close(ReasonTransportClose, closeNow)
		return errStop
	default: // open, upgrade and noop mean nothing here
		s.mu.Unlock()
	}
	return nil
}
