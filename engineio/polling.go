package engineio

import (
	"errors"
	"net/http"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
)

// parkAfter is how long a GET waits with nothing to send before it is
// taken out of net/http and held in a transport.HeldPoll, which costs a
// fraction of what net/http's request does. Sessions that get something
// more often than that keep their keep-alive connection.
var parkAfter = time.Second

// closedTimeC is a channel that is always ready: a GET that is to be
// parked without waiting.
var closedTimeC = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// servePoll answers a polling GET: it waits until there is something to
// send, then sends all of it in one payload. One GET may be pending at a
// time; a second one is a protocol error that closes the session.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.polling {
		s.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		s.close(ReasonTransportError, closeNow) // overlapping polls
		return
	}
	s.polling = true
	if s.srv.opts.Headers != nil {
		s.mu.Unlock()
		s.srv.responseHeaders(w.Header(), r, false)
		s.mu.Lock()
	}
	var park *time.Timer
	var parkC <-chan time.Time
	if s.idlePoll {
		// The last poll brought the session's first packets or a
		// heartbeat alone: this one most likely waits for the next
		// heartbeat, and is taken out of net/http at once.
		parkC = closedTimeC
	} else if parkAfter > 0 {
		park = time.NewTimer(parkAfter)
		defer park.Stop()
		parkC = park.C
	}
	for {
		batch, closing, ok := s.pollBatchLocked()
		if ok {
			s.answerLocked(batch, closing, func(batch []parser.Packet) error {
				// The answer has the heartbeat's window to be written: a
				// client that does not read it loses its session, and the
				// batch, the goroutine and the connection are let go, as a
				// stuck WebSocket write is.
				rc := http.NewResponseController(w)
				deadline := rc.SetWriteDeadline(time.Now().Add(s.srv.lifeWindow())) == nil
				err := s.poll.WritePayload(w, r, batch)
				if err == nil && deadline {
					// Written under the deadline, then no deadline for what
					// the connection carries next.
					err = rc.Flush()
					_ = rc.SetWriteDeadline(time.Time{})
				}
				return err
			})
			return
		}
		s.mu.Unlock()
		select {
		case <-s.pollWake:
		case <-s.done:
		case <-r.Context().Done():
			s.mu.Lock()
			s.polling = false
			s.mu.Unlock()
			s.close(ReasonTransportError, closeNow) // poll closed prematurely
			return
		case <-parkC:
			parkC = nil
			if h := transport.Hold(w, r); h != nil {
				s.hold(h)
				return
			}
		}
		s.mu.Lock()
	}
}

// pollBatchLocked is what a pending GET answers with now; ok is false
// while there is nothing to answer with.
func (s *Session) pollBatchLocked() (batch []parser.Packet, closing, ok bool) {
	if s.state == stateClosed || s.transport != TransportPolling {
		// Closed, or upgraded meanwhile: release the poll. A close packet
		// tells the client the server closed the session; a client that
		// closed it itself (its POST of a close packet came while this GET
		// was pending) gets a noop, as the reference answers it.
		t := parser.PacketNoop
		if s.state == stateClosed && !s.closedByClient {
			t = parser.PacketClose
		}
		return []parser.Packet{{Type: t}}, false, true
	}
	if len(s.queue) == 0 && s.state != stateClosing && !s.probed {
		return nil, false, false
	}
	batch = s.takeLocked()
	if s.state == stateClosing {
		if len(batch) > 0 && s.closeAfterDrain {
			// The queue first; the close packet goes with the next poll,
			// which comes within pollCloseTimeout or not at all. (Clients
			// handle a close before the packets that came with it, which
			// would read as a lost connection.)
			if s.closeTimer == nil {
				reason := s.reason
				s.closeTimer = time.AfterFunc(pollCloseTimeout, func() { s.finish(reason) })
			}
		} else {
			closing = true
			batch = append(batch, parser.Packet{Type: parser.PacketClose})
		}
	} else if len(batch) == 0 {
		// An upgrade is under way: a noop ends this poll so that the
		// client can finish it.
		batch = append(batch, parser.Packet{Type: parser.PacketNoop})
	}
	return batch, closing, true
}

// answerLocked answers the pending GET with batch, written by write. It
// is called with s.mu held and releases it.
func (s *Session) answerLocked(batch []parser.Packet, closing bool, write func([]parser.Packet) error) {
	// The poll has taken its packets: from now on packets wait for the next
	// poll, and a close does not count on this one. The flag drops before
	// the write, since the client may send its next GET as soon as it has
	// read the answer, before this goroutine runs again.
	s.polling = false
	// The first answer (in Socket.IO, the CONNECT's) and a ping alone are
	// what a session that is about to sit idle receives.
	s.idlePoll = !s.answered || len(batch) == 1 && batch[0].Type == parser.PacketPing
	s.answered = true
	reason := s.reason
	// Until it is written, the batch counts against MaxQueueBytes: a client
	// that leaves its answer unread cannot have more queued behind it.
	size := batchSize(batch)
	s.answering += size
	s.mu.Unlock()

	err := write(batch)
	s.recycle(batch)
	s.mu.Lock()
	s.answering -= size
	s.mu.Unlock()
	if err != nil {
		s.srv.log.Debug("engineio: poll write failed", "sid", s.id, "err", err)
		s.close(ReasonTransportError, closeNow)
		return
	}
	if closing {
		s.finish(reason)
	}
}

// pollHolder is a pending GET answered outside net/http's handler: a
// GET taken out of net/http (heldConn), or one that another node of the
// cluster holds for the client (remotePoll).
type pollHolder interface {
	// answer sends batch as the answer, within deadline.
	answer(batch []parser.Packet, deadline time.Time) error
	// drop lets the GET go without an answer.
	drop()
	// isRelay reports whether the holder stays pending after an answer (a
	// WebSocket that another node relays).
	isRelay() bool
}

// heldConn is a GET taken out of net/http.
type heldConn struct {
	s *Session
	h *transport.HeldPoll
}

func (c *heldConn) answer(batch []parser.Packet, deadline time.Time) error {
	return c.s.poll.Answer(c.h, batch, deadline)
}

func (c *heldConn) drop() { _ = c.h.Close() }

func (c *heldConn) isRelay() bool { return false }

// hold makes h the session's pending GET, answered by answerHeld.
func (s *Session) hold(h *transport.HeldPoll) {
	c := &heldConn{s: s, h: h}
	s.mu.Lock()
	s.held = c
	s.mu.Unlock()
	h.OnClosed(func() { s.heldGone(c, ReasonTransportError) })
	// Something may have come between the wait and the hold.
	s.answerHeld()
}

// wakePollLocked has the pending GET, if any, look at what there is to
// answer with.
func (s *Session) wakePollLocked() {
	if s.held != nil {
		if !s.heldWoken {
			s.heldWoken = true
			go s.answerHeld()
		}
		return
	}
	select {
	case s.pollWake <- struct{}{}:
	default:
	}
}

// answerHeld answers the held GET, if there is something to answer with;
// a relay stays pending, and answers as long as there is something.
func (s *Session) answerHeld() {
	s.mu.Lock()
	s.heldWoken = false
	for {
		h := s.held
		if h == nil {
			s.mu.Unlock()
			return
		}
		batch, closing, ok := s.pollBatchLocked()
		if !ok {
			s.mu.Unlock()
			return
		}
		s.held = nil
		s.answerLocked(batch, closing, func(batch []parser.Packet) error {
			return h.answer(batch, time.Now().Add(s.srv.lifeWindow()))
		})
		s.mu.Lock()
		if !h.isRelay() || s.state == stateClosed || s.held != nil {
			s.mu.Unlock()
			return
		}
		s.held = h
		s.polling = true
	}
}

// heldGone ends the session whose held GET went away without an answer:
// the client closed it (or sent something on it), or the node holding it
// for the client says it is gone.
func (s *Session) heldGone(h pollHolder, reason Reason) {
	s.mu.Lock()
	if s.held != h {
		s.mu.Unlock()
		return // answered meanwhile
	}
	s.held = nil
	s.polling = false
	s.mu.Unlock()
	h.drop()
	s.close(reason, closeNow)
}

// batchSize is the bytes of packets as the queue counts them.
func batchSize(batch []parser.Packet) int {
	n := 0
	for i := range batch {
		n += len(batch[i].Data) + 1
	}
	return n
}

// servePost takes in a polling POST: its packets are handled in order
// before the "ok" answer.
func (s *Session) servePost(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.posting {
		s.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		s.close(ReasonTransportError, closeNow) // overlapping posts
		return
	}
	s.posting = true
	// The body has the heartbeat's window to arrive, whatever the
	// http.Server allows, and its read ends when the session does: a
	// client trickling a body in holds its connection no longer than a
	// silent client holds its session.
	rc := http.NewResponseController(w)
	cut := false
	if rc.SetReadDeadline(time.Now().Add(s.srv.lifeWindow())) == nil {
		s.cutPost = func() {
			cut = true
			_ = rc.SetReadDeadline(time.Now())
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.cutPost = nil // rc is not to be used once this handler returns
		s.mu.Unlock()
	}()

	body, binary, err := s.poll.ReadBody(r)
	s.mu.Lock()
	s.cutPost = nil
	if cut && err == nil && r.ProtoMajor == 1 {
		// The cut came as the body ended: net/http's read past it failed
		// and ended the connection's context, which later requests on
		// the connection would inherit. It closes after this one.
		w.Header().Set("Connection", "close")
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, transport.ErrPayloadTooLarge):
		// The reference answers 413 and keeps the session.
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	case errors.Is(err, transport.ErrBinaryContent):
		w.WriteHeader(http.StatusBadRequest)
		s.close(ReasonTransportError, closeNow)
		return
	case err != nil:
		// The request broke off, or its body took too long. Once the
		// session has moved to WebSocket the polling transport is gone, and
		// the session with it only if it still depends on it (the
		// reference discards an upgraded transport's errors).
		s.mu.Lock()
		polling := s.transport == TransportPolling
		s.mu.Unlock()
		if polling {
			s.close(ReasonTransportError, closeNow)
		}
		return
	}
	heartbeat := true
	s.readMu.Lock()
	first := !s.posted
	s.posted = true
	err = s.poll.Decode(body, binary, func(p parser.Packet) error {
		heartbeat = heartbeat && p.Type == parser.PacketPong
		return s.onPacket(p)
	})
	s.readMu.Unlock()
	if (heartbeat || first) && err == nil && r.ProtoMajor == 1 && r.TLS == nil {
		// A POST of a heartbeat alone comes from a client with nothing
		// else to say, whose next POST is the next heartbeat; the first
		// (in Socket.IO, the CONNECT) from one that may say nothing more
		// for a long while. The connection closes now rather than wait
		// idle in net/http, with a goroutine and buffers, for a request
		// that may come a ping interval later, if ever. Not over TLS,
		// where a new connection costs a handshake, nor over HTTP/2,
		// where "Connection: close" would end every stream the client
		// has on the connection.
		w.Header().Set("Connection", "close")
	}
	if errors.Is(err, parser.ErrInvalidPayload) {
		s.close(ReasonParseError, closeNow)
	}
	s.srv.responseHeaders(w.Header(), r, false)
	transport.WriteOK(w, r)
}
