package socketio

import (
	"context"
	"errors"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/parser"
)

// Emit sends an event to the client. Any []byte among args, at any depth,
// is sent as a binary attachment. Emitting a reserved event name
// ("connect", "disconnect", ...) returns ErrReservedEvent.
func (s *Socket) Emit(event string, args ...any) error { return Emitter{s: s}.Emit(event, args...) }

// EmitWithAck sends an event and waits for the client's acknowledgement,
// until ctx is done or the server's AckTimeout passes; it returns
// ErrAckTimeout (or ctx's error) when none came, ErrDisconnected when the
// socket disconnected first, ErrTooManyAcks when the client already owes
// Options.MaxPendingAcks answers.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return Emitter{s: s}.EmitWithAck(ctx, event, args...)
}

// Timeout returns an emitter whose EmitWithAck waits at most d.
func (s *Socket) Timeout(d time.Duration) Emitter { return Emitter{s: s}.Timeout(d) }

// Volatile returns an emitter whose events are dropped when the client
// cannot take them at once.
func (s *Socket) Volatile() Emitter { return Emitter{s: s}.Volatile() }

// Compress returns an emitter that sets whether events may be compressed.
func (s *Socket) Compress(compress bool) Emitter { return Emitter{s: s}.Compress(compress) }

// To selects the sockets of the namespace in any of rooms, this one
// excepted.
func (s *Socket) To(rooms ...string) BroadcastOperator { return s.Broadcast().To(rooms...) }

// In is To.
func (s *Socket) In(rooms ...string) BroadcastOperator { return s.To(rooms...) }

// Except selects the sockets of the namespace in none of rooms, this one
// excepted.
func (s *Socket) Except(rooms ...string) BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Broadcast selects every socket of the namespace but this one.
func (s *Socket) Broadcast() BroadcastOperator {
	return BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// Emitter emits to one socket with flags. It is a value: Timeout,
// Volatile and Compress return a changed copy. Get one from
// Socket.Timeout, Volatile or Compress; the zero value is not usable.
type Emitter struct {
	s     *Socket
	flags adapter.Flags
}

// Timeout bounds the wait of EmitWithAck.
func (e Emitter) Timeout(d time.Duration) Emitter { e.flags.Timeout = d; return e }

// Volatile drops the event when the client cannot take it at once.
func (e Emitter) Volatile() Emitter { e.flags.Volatile = true; return e }

// Compress sets whether the event may be compressed.
func (e Emitter) Compress(compress bool) Emitter { e.flags.NoCompress = !compress; return e }

// Emit sends an event; see Socket.Emit.
func (e Emitter) Emit(event string, args ...any) error {
	s := e.s
	p, err := eventPacket(s.nsp.name, event, args)
	if err != nil {
		return err
	}
	if s.nsp.server.opts.ConnectionStateRecovery != nil {
		if !s.Connected() {
			return ErrDisconnected
		}
		// Through the adapter, which keeps the event for recovery.
		return s.nsp.adapter.Broadcast(context.Background(), p, &adapter.BroadcastOptions{Rooms: []string{s.id}, Flags: e.flags})
	}
	msgs, err := s.nsp.server.parser.Encode(p)
	if err != nil {
		return err
	}
	if err := s.write(p, msgs, e.flags); err != nil && !errors.Is(err, engineio.ErrDropped) {
		return ErrDisconnected
	}
	return nil
}

// eventPacket is the EVENT packet of event with args, or ErrReservedEvent
// for a name the protocol keeps for itself.
func eventPacket(nsp, event string, args []any) (*parser.SocketPacket, error) {
	if parser.IsReservedEvent(event) {
		return nil, ErrReservedEvent
	}
	data := make([]any, 0, len(args)+1)
	data = append(data, event)
	data = append(data, args...)
	return &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: nsp, Data: data}, nil
}

// writePacket encodes and sends one packet of the socket's own: a
// DISCONNECT, an ACK.
func (s *Socket) writePacket(p *parser.SocketPacket) {
	msgs, err := s.nsp.server.parser.Encode(p)
	if err != nil {
		s.nsp.server.log.Error("socketio: cannot encode packet", "type", p.Type, "err", err)
		return
	}
	_ = s.write(p, msgs, adapter.Flags{})
}

// heldPacket is a packet written before the socket's CONNECT
// acknowledgement went out.
type heldPacket struct {
	msgs []parser.Message
	opts engineio.SendOptions
}

// write sends packet p, encoded as msgs (shared with other recipients:
// never changed), to the client, telling the outgoing listeners of an
// event first. It returns nil when the packet was sent, or held for the
// CONNECT acknowledgement; ErrDisconnected, or the error of Conn.Send
// (engineio.ErrDropped for a volatile packet dropped). Two locks per
// packet: the socket's, then the session's in Conn.Send.
func (s *Socket) write(p *parser.SocketPacket, msgs []parser.Message, flags adapter.Flags) error {
	opts := engineio.SendOptions{Volatile: flags.Volatile, NoCompress: flags.NoCompress}
	s.mu.Lock()
	if !s.connected && !s.early {
		s.mu.Unlock()
		return ErrDisconnected
	}
	out := s.anyOut
	if s.holding {
		s.held = append(s.held, heldPacket{msgs, opts})
	}
	holding := s.holding
	s.mu.Unlock()
	if obs := s.nsp.server.observed(); (len(out) > 0 || obs != nil) && p.Type == parser.SocketPacketEvent {
		s.notifySent(obs, out, p)
	}
	if holding {
		return nil
	}
	return s.client.conn.Send(msgs, opts)
}

// notifySent tells the observers and outgoing listeners of an event sent.
func (s *Socket) notifySent(obs []*Observer, out []*outEntry, p *parser.SocketPacket) {
	data, ok := p.Data.([]any)
	if !ok || len(data) == 0 {
		return
	}
	name, _ := data[0].(string)
	if obs != nil {
		s.nsp.server.notifyEventSent(obs, s, name, data[1:])
	}
	for _, e := range out {
		s.nsp.server.callAnyOut(e.fn, name, data[1:])
	}
}

// acknowledgeConnect tells the client it is connected, once the
// namespace's connection handlers have returned (or one of them waits for
// an answer from the client, which it could not send before): the events
// it missed while disconnected (a recovered socket: before the CONNECT, as
// the reference sends them), the CONNECT packet, then what was written to
// the socket meanwhile, in order. So a client that has read its CONNECT
// finds in place whatever the handlers did: rooms joined, listeners
// added. It runs once; a second call waits for the first to finish.
func (s *Socket) acknowledgeConnect() { s.connectOnce.Do(s.sendConnect) }

func (s *Socket) sendConnect() {
	srv := s.nsp.server
	packets := make([]*parser.SocketPacket, 0, len(s.missed)+1)
	for _, data := range s.missed {
		packets = append(packets, &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: s.nsp.name, Data: data})
	}
	s.missed = nil
	connect := &parser.SocketPacket{Type: parser.SocketPacketConnect, Namespace: s.nsp.name}
	if s.client.conn.Protocol() != parser.ProtocolV3 {
		connect.Data = connectReply{SID: s.id, PID: s.pid}
	}
	packets = append(packets, connect)
	// One Send: the missed events and the CONNECT are queued together, so
	// that the client gets them in one go. A client that got the missed
	// events without the CONNECT (its connection closed in between) keeps
	// them buffered and, recovering again from the same offset, would get
	// them a second time.
	var all []parser.Message
	for _, p := range packets {
		msgs, err := srv.parser.Encode(p)
		if err != nil {
			srv.log.Error("socketio: cannot encode packet", "type", p.Type, "err", err)
			continue
		}
		all = append(all, msgs...)
	}
	_ = s.client.conn.Send(all, engineio.SendOptions{})
	// While holding is set, writers add to held rather than send: take
	// what they held, send it without the lock (Send may close the
	// session, whose close takes the lock), and again until none is left.
	for {
		s.mu.Lock()
		held := s.held
		s.held = nil
		if len(held) == 0 {
			s.holding = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, h := range held {
			_ = s.client.conn.Send(h.msgs, h.opts)
		}
	}
}

type connectReply struct {
	SID string `json:"sid" msgpack:"sid"`
	PID string `json:"pid,omitempty" msgpack:"pid,omitempty"`
}
