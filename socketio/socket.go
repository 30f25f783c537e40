package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/parser"
)

// Event is an incoming event as a packet middleware sees it.
type Event struct {
	// Name is the event's name.
	Name string
	// Args are its arguments.
	Args Args
	// Ack answers the client's acknowledgement callback; nil when the
	// client asked for none.
	Ack Ack
}

// PacketMiddleware runs for each event a socket receives, before its
// handlers, in the order added with Socket.Use. It calls next once: with
// nil to go on, or with an error to drop the event and hand the error to
// the socket's OnError handlers.
type PacketMiddleware func(ev *Event, next func(error))

// AnyListener gets every event a socket receives (OnAny) or sends
// (OnAnyOutgoing).
type AnyListener func(event string, args Args)

// OutgoingListener gets every event sent to a socket, with its arguments
// as they were given to Emit.
type OutgoingListener func(event string, args []any)

type anyEntry struct{ fn AnyListener }

type outEntry struct{ fn OutgoingListener }

// ack is a pending acknowledgement: called once with the answer, or with
// an error when the socket disconnects first.
type ack func(args []parser.Value, err error)

// Socket is one client's connection to one namespace. Its methods are
// safe for concurrent use. Handlers of one socket run one at a time, in
// the order the client sent the events, in a goroutine of the socket's
// that exists only while there is something to run; so a handler may wait
// (for an acknowledgement, say) without holding up the connection.
type Socket struct {
	id        string
	pid       string
	nsp       *Namespace
	client    *client
	handshake adapter.Handshake
	recovered bool
	missed    [][]any

	mu              sync.Mutex
	connected       bool
	data            any
	dataSet         bool
	handlers        map[string][]*handler
	anyIn           []*anyEntry
	anyOut          []*outEntry
	middlewares     []PacketMiddleware
	onDisconnecting []func(Reason)
	onDisconnect    []func(Reason)
	onError         []func(error)
	acks            map[uint64]ack
	tasks           []func()
	running         bool
	space           *sync.Cond // signalled when tasks shrink (MaxPendingEvents)

	// roomMu makes a join's or leave's check and change one step, when
	// rooms are counted (MaxRoomsPerSocket) or observed.
	roomMu sync.Mutex
	// roomBound is at least the number of the socket's rooms (joins add
	// to it, leaves do not take away): while a join keeps it within
	// MaxRoomsPerSocket, the rooms need no counting. Guarded by roomMu.
	roomBound int
}

func newSocket(n *Namespace, c *client, auth any, session *adapter.Session) *Socket {
	s := &Socket{nsp: n, client: c, handshake: c.hs, running: true}
	s.handshake.Auth = auth
	switch {
	case session != nil:
		s.id, s.pid = session.SID, session.PID
		s.data, s.dataSet = session.Data, true
		s.missed = session.MissedPackets
		s.recovered = true
		n.adapter.AddAll(s.id, session.Rooms...)
		s.roomBound = len(session.Rooms)
		if obs := n.server.observed(); obs != nil {
			n.server.notifyRoomsJoined(obs, s, session.Rooms)
		}
	case c.sess.Protocol() == parser.ProtocolV3:
		s.id = c.sess.ID()
		if n.name != "/" {
			s.id = n.name + "#" + s.id
		}
	default:
		s.id = newID()
	}
	if s.pid == "" && n.server.opts.ConnectionStateRecovery != nil {
		s.pid = newID()
	}
	return s
}

// newID returns 20 random URL-safe characters.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID is the socket's id, also the name of a room it is alone in.
func (s *Socket) ID() string { return s.id }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake describes the connection: headers, query, address and the
// auth payload of the client's CONNECT.
func (s *Socket) Handshake() *adapter.Handshake { return &s.handshake }

// Session is the Engine.IO session carrying the socket, shared by the
// client's sockets of other namespaces.
func (s *Socket) Session() *engineio.Session { return s.client.sess }

// Recovered reports whether the socket got its state back through
// connection state recovery.
func (s *Socket) Recovered() bool { return s.recovered }

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Data returns the value stored with SetData (restored with the socket
// by connection state recovery, and shown by FetchSockets).
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData stores a value with the socket. Multi-node adapters send it to
// other nodes as JSON or msgpack, so keep it to plain data.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data, s.dataSet = v, true
	s.mu.Unlock()
	if obs := s.nsp.server.observed(); obs != nil {
		s.nsp.server.notifySocketDataSet(obs, s)
	}
}

// On adds a handler for event: fn is a func whose parameters take
// the event's arguments in order, each decoded into the parameter's type
// as json.Unmarshal would (binary attachments into []byte); a parameter of
// type Ack, anywhere, answers the client's acknowledgement instead of
// taking an argument; parser.Value takes an argument undecoded; Args takes
// all the remaining arguments; a final variadic parameter takes the rest,
// each decoded. Missing arguments leave zero values. It may return nothing
// or an error, which is logged. For example:
//
//	s.On("chat", func(room string, msg Message, ack socketio.Ack) { ... })
//
// On panics when fn is not such a func.
func (s *Socket) On(event string, fn any) {
	h := mustHandler(fn)
	s.mu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string][]*handler, 4)
	}
	s.handlers[event] = append(s.handlers[event], h)
	s.mu.Unlock()
}

// Off removes the handlers of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	delete(s.handlers, event)
	s.mu.Unlock()
}

// OnAny adds a listener called with every event the socket receives,
// before its handlers. The returned func removes it.
func (s *Socket) OnAny(fn AnyListener) (remove func()) {
	e := &anyEntry{fn}
	s.mu.Lock()
	s.anyIn = append(s.anyIn[:len(s.anyIn):len(s.anyIn)], e)
	s.mu.Unlock()
	return func() { s.removeAny(e) }
}

// PrependAny is OnAny, the listener called before those already added.
func (s *Socket) PrependAny(fn AnyListener) (remove func()) {
	e := &anyEntry{fn}
	s.mu.Lock()
	s.anyIn = append([]*anyEntry{e}, s.anyIn...)
	s.mu.Unlock()
	return func() { s.removeAny(e) }
}

// OffAny removes every listener added with OnAny and PrependAny.
func (s *Socket) OffAny() {
	s.mu.Lock()
	s.anyIn = nil
	s.mu.Unlock()
}

func (s *Socket) removeAny(e *anyEntry) {
	s.mu.Lock()
	s.anyIn = without(s.anyIn, e)
	s.mu.Unlock()
}

// without returns a new slice of the elements of list but e: the old one
// may still be read by a dispatch that copied it.
func without[E comparable](list []E, e E) []E {
	out := make([]E, 0, len(list))
	for _, x := range list {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

// OnAnyOutgoing adds a listener called with every event sent to the
// socket, by Emit or by a broadcast. The returned func removes it.
func (s *Socket) OnAnyOutgoing(fn OutgoingListener) (remove func()) {
	e := &outEntry{fn}
	s.mu.Lock()
	s.anyOut = append(s.anyOut[:len(s.anyOut):len(s.anyOut)], e)
	s.mu.Unlock()
	return func() { s.removeAnyOutgoing(e) }
}

// PrependAnyOutgoing is OnAnyOutgoing, the listener called before those
// already added.
func (s *Socket) PrependAnyOutgoing(fn OutgoingListener) (remove func()) {
	e := &outEntry{fn}
	s.mu.Lock()
	s.anyOut = append([]*outEntry{e}, s.anyOut...)
	s.mu.Unlock()
	return func() { s.removeAnyOutgoing(e) }
}

func (s *Socket) removeAnyOutgoing(e *outEntry) {
	s.mu.Lock()
	s.anyOut = without(s.anyOut, e)
	s.mu.Unlock()
}

// OffAnyOutgoing removes every listener added with OnAnyOutgoing and
// PrependAnyOutgoing.
func (s *Socket) OffAnyOutgoing() {
	s.mu.Lock()
	s.anyOut = nil
	s.mu.Unlock()
}

// Use adds a middleware run for each event the socket receives.
func (s *Socket) Use(fn PacketMiddleware) {
	s.mu.Lock()
	s.middlewares = append(s.middlewares, fn)
	s.mu.Unlock()
}

// OnError adds a handler for the errors of packet middlewares.
func (s *Socket) OnError(fn func(error)) {
	s.mu.Lock()
	s.onError = append(s.onError, fn)
	s.mu.Unlock()
}

// OnDisconnecting adds a handler called when the socket is about to
// disconnect, while Rooms still lists its rooms.
func (s *Socket) OnDisconnecting(fn func(reason Reason)) {
	s.mu.Lock()
	s.onDisconnecting = append(s.onDisconnecting, fn)
	s.mu.Unlock()
}

// OnDisconnect adds a handler called once the socket has disconnected.
func (s *Socket) OnDisconnect(fn func(reason Reason)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, fn)
	s.mu.Unlock()
}

// Rooms

// ErrTooManyRooms is returned by TryJoin when joining would put the
// socket in more than Options.MaxRoomsPerSocket rooms.
var ErrTooManyRooms = errors.New("socketio: too many rooms")

// Join adds the socket to rooms. When that would put it in more than
// Options.MaxRoomsPerSocket rooms, it joins none of them and logs a
// warning; TryJoin returns the error instead.
func (s *Socket) Join(rooms ...string) {
	if err := s.TryJoin(rooms...); err != nil {
		s.nsp.server.log.Warn("socketio: join refused", "nsp", s.nsp.name, "sid", s.id, "rooms", len(rooms), "err", err)
	}
}

// TryJoin adds the socket to rooms, or to none of them, returning
// ErrTooManyRooms, when that would put it in more than
// Options.MaxRoomsPerSocket rooms.
func (s *Socket) TryJoin(rooms ...string) error {
	if len(rooms) == 0 {
		return nil
	}
	srv := s.nsp.server
	obs, most := srv.observed(), srv.opts.MaxRoomsPerSocket
	if obs == nil && most == noLimit {
		s.nsp.adapter.AddAll(s.id, rooms...)
		return nil
	}
	s.roomMu.Lock()
	if obs == nil && s.roomBound+len(rooms) <= most {
		// Within the limit even if every room is new.
		s.nsp.adapter.AddAll(s.id, rooms...)
		s.roomBound += len(rooms)
		s.roomMu.Unlock()
		return nil
	}
	current := s.nsp.adapter.SocketRooms(s.id)
	added := newRooms(current, rooms)
	s.roomBound = len(current)
	if len(current)+len(added) > most {
		s.roomMu.Unlock()
		return ErrTooManyRooms
	}
	if len(added) > 0 {
		s.nsp.adapter.AddAll(s.id, added...)
		s.roomBound += len(added)
	}
	s.roomMu.Unlock()
	if obs != nil && len(added) > 0 {
		srv.notifyRoomsJoined(obs, s, added)
	}
	return nil
}

// newRooms returns the rooms of want not in have, each once.
func newRooms(have, want []string) []string {
	var set map[string]struct{} // for a long have, instead of scanning it
	if len(have) > 16 {
		set = make(map[string]struct{}, len(have))
		for _, r := range have {
			set[r] = struct{}{}
		}
	}
	out := make([]string, 0, len(want))
	for _, r := range want {
		_, had := set[r]
		if had || (set == nil && slices.Contains(have, r)) || slices.Contains(out, r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// joinOwn puts the socket in the room named by its id.
func (s *Socket) joinOwn() {
	obs := s.nsp.server.observed()
	s.roomMu.Lock()
	s.roomBound++
	if obs == nil {
		s.nsp.adapter.AddAll(s.id, s.id)
		s.roomMu.Unlock()
		return
	}
	had := slices.Contains(s.nsp.adapter.SocketRooms(s.id), s.id)
	s.nsp.adapter.AddAll(s.id, s.id)
	s.roomMu.Unlock()
	if !had {
		s.nsp.server.notifyRoomsJoined(obs, s, []string{s.id})
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	obs := s.nsp.server.observed()
	if obs == nil {
		s.nsp.adapter.Del(s.id, room)
		return
	}
	s.roomMu.Lock()
	was := slices.Contains(s.nsp.adapter.SocketRooms(s.id), room)
	s.nsp.adapter.Del(s.id, room)
	s.roomMu.Unlock()
	if was {
		s.nsp.server.notifyRoomsLeft(obs, s, []string{room})
	}
}

// leaveAll removes the socket from every room.
func (s *Socket) leaveAll() {
	obs := s.nsp.server.observed()
	s.roomMu.Lock()
	s.roomBound = 0
	if obs == nil {
		s.nsp.adapter.DelAll(s.id)
		s.roomMu.Unlock()
		return
	}
	rooms := s.nsp.adapter.SocketRooms(s.id)
	s.nsp.adapter.DelAll(s.id)
	s.roomMu.Unlock()
	s.nsp.server.notifyRoomsLeft(obs, s, rooms)
}

// Rooms lists the socket's rooms, its own id's room among them.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// Emitting

// Emit sends an event to the client. Any []byte among args, at any depth,
// is sent as a binary attachment. Emitting a reserved event name
// ("connect", "disconnect", ...) returns ErrReservedEvent.
func (s *Socket) Emit(event string, args ...any) error { return Emitter{s: s}.Emit(event, args...) }

// EmitWithAck sends an event and waits for the client's acknowledgement,
// until ctx is done or the server's AckTimeout passes; it returns
// ErrAckTimeout (or ctx's error) when none came, ErrDisconnected when the
// socket disconnected first.
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
func (s *Socket) To(rooms ...string) *BroadcastOperator { return s.Broadcast().To(rooms...) }

// In is To.
func (s *Socket) In(rooms ...string) *BroadcastOperator { return s.To(rooms...) }

// Except selects the sockets of the namespace in none of rooms, this one
// excepted.
func (s *Socket) Except(rooms ...string) *BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Broadcast selects every socket of the namespace but this one.
func (s *Socket) Broadcast() *BroadcastOperator {
	return &BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// Emitter emits to one socket with flags; the zero value is not usable.
// Get one from Socket.Timeout, Volatile or Compress.
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
func (e Emitter) Emit(event string, args ...any) error { return e.emit(event, args, nil) }

// EmitWithAck sends an event and waits for its acknowledgement; see
// Socket.EmitWithAck.
func (e Emitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	ctx, cancel := e.s.nsp.server.ackContext(ctx, e.flags.Timeout)
	defer cancel()
	type answer struct {
		args Args
		err  error
	}
	ch := make(chan answer, 1)
	var id uint64
	err := e.emit(event, args, func(i uint64) ack {
		id = i
		return func(a []parser.Value, err error) { ch <- answer{Args(a), err} }
	})
	if err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a.args, a.err
	case <-ctx.Done():
		e.s.mu.Lock()
		delete(e.s.acks, id)
		e.s.mu.Unlock()
		return nil, ackError(ctx)
	}
}

// emit sends an event; withAck, when set, makes the ack to register for
// the packet's id.
func (e Emitter) emit(event string, args []any, withAck func(id uint64) ack) error {
	if parser.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	s := e.s
	data := make([]any, 0, len(args)+1)
	data = append(data, event)
	data = append(data, args...)
	p := &parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: s.nsp.name, Data: data}
	if withAck != nil {
		p.ID, p.HasID = s.nsp.NextAckID(), true
		if err := s.registerAck(p.ID, withAck(p.ID)); err != nil {
			return err
		}
	} else if !s.Connected() {
		return ErrDisconnected
	}
	if s.nsp.server.opts.ConnectionStateRecovery != nil && withAck == nil {
		// Through the adapter, which keeps the event for recovery.
		return s.nsp.adapter.Broadcast(p, &adapter.BroadcastOptions{Rooms: []string{s.id}, Flags: e.flags})
	}
	msgs, err := s.nsp.Encode(p)
	if err != nil {
		if withAck != nil {
			// Nothing was sent: no answer will come.
			s.mu.Lock()
			delete(s.acks, p.ID)
			s.mu.Unlock()
		}
		return err
	}
	s.WritePacket(p, msgs, e.flags)
	return nil
}

// registerAck keeps fn for the answer to packet id. It fails when the
// socket is disconnected, or already owes Options.MaxPendingAcks answers.
func (s *Socket) registerAck(id uint64, fn ack) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected {
		return ErrDisconnected
	}
	if len(s.acks) >= s.nsp.server.opts.MaxPendingAcks {
		return ErrTooManyAcks
	}
	if s.acks == nil {
		s.acks = make(map[uint64]ack, 1)
	}
	s.acks[id] = fn
	return nil
}

// Disconnect disconnects the socket from its namespace
// (ReasonServerNamespaceDisconnect); with close, it closes the whole
// connection, disconnecting the client's sockets of every namespace.
func (s *Socket) Disconnect(close bool) {
	if !s.Connected() {
		return
	}
	if close {
		s.client.disconnectAll()
		return
	}
	s.client.writePacket(&parser.SocketPacket{Type: parser.SocketPacketDisconnect, Namespace: s.nsp.name}, false)
	s.onClose(ReasonServerNamespaceDisconnect)
}

// adapter.Socket

// WritePacket implements adapter.Socket.
func (s *Socket) WritePacket(p *parser.SocketPacket, msgs []parser.Message, flags adapter.Flags) {
	s.mu.Lock()
	connected, out := s.connected, s.anyOut
	s.mu.Unlock()
	if !connected {
		return
	}
	if obs := s.nsp.server.observed(); (len(out) > 0 || obs != nil) && p.Type == parser.SocketPacketEvent {
		if data, ok := p.Data.([]any); ok && len(data) > 0 {
			name, _ := data[0].(string)
			if obs != nil {
				s.nsp.server.notifyEventSent(obs, s, name, data[1:])
			}
			for _, e := range out {
				e.fn(name, data[1:])
			}
		}
	}
	s.client.write(msgs, flags)
}

// RegisterAck implements adapter.Socket.
func (s *Socket) RegisterAck(id uint64, fn func(args []parser.Value)) {
	_ = s.registerAck(id, func(a []parser.Value, err error) { // a socket owing too many answers is left out
		if err == nil {
			fn(a)
		}
	})
}

// Info implements adapter.Socket.
// Data that was never set shows as an empty object, as the reference's
// socket.data does.
func (s *Socket) Info() adapter.SocketInfo {
	s.mu.Lock()
	data := s.data
	if !s.dataSet {
		data = map[string]any{}
	}
	s.mu.Unlock()
	return adapter.SocketInfo{ID: s.id, Handshake: s.handshake, Rooms: s.Rooms(), Data: data}
}

// Receiving

// onConnect answers the client's CONNECT once the socket is in.
func (s *Socket) onConnect() {
	c := s.client
	for _, data := range s.missed {
		c.writePacket(&parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: s.nsp.name, Data: data}, false)
	}
	s.missed = nil
	p := &parser.SocketPacket{Type: parser.SocketPacketConnect, Namespace: s.nsp.name}
	if c.sess.Protocol() != parser.ProtocolV3 {
		p.Data = connectReply{SID: s.id, PID: s.pid}
	}
	c.writePacket(p, false)
}

type connectReply struct {
	SID string `json:"sid" msgpack:"sid"`
	PID string `json:"pid,omitempty" msgpack:"pid,omitempty"`
}

// onPacket handles a packet of the socket's namespace. It runs in the
// session's reading goroutine: acknowledgements are handled at once,
// events are queued for the socket's handlers.
func (s *Socket) onPacket(p *parser.SocketPacket) {
	switch p.Type {
	case parser.SocketPacketEvent, parser.SocketPacketBinaryEvent:
		ev := &Event{Name: p.Event, Args: Args(p.Args)}
		if p.HasID {
			ev.Ack = s.ackSender(p.ID)
		}
		s.schedule(func() { s.dispatch(ev) }, true)
	case parser.SocketPacketAck, parser.SocketPacketBinaryAck:
		s.mu.Lock()
		fn := s.acks[p.ID]
		delete(s.acks, p.ID)
		s.mu.Unlock()
		if fn != nil {
			fn(p.Args, nil)
		}
	case parser.SocketPacketDisconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	}
}

// ackSender answers the client's packet id, once.
func (s *Socket) ackSender(id uint64) Ack {
	var once sync.Once
	return func(args ...any) error {
		err := ErrAckSent
		once.Do(func() {
			if args == nil {
				args = []any{}
			}
			if !s.Connected() {
				err = ErrDisconnected
				return
			}
			err = nil
			s.client.writePacket(&parser.SocketPacket{Type: parser.SocketPacketAck, Namespace: s.nsp.name, ID: id, HasID: true, Data: args}, false)
		})
		return err
	}
}

// dispatch runs the listeners, middlewares and handlers of an event.
func (s *Socket) dispatch(ev *Event) {
	s.mu.Lock()
	anyIn, mws, hs := s.anyIn, s.middlewares, s.handlers[ev.Name]
	s.mu.Unlock()
	srv := s.nsp.server
	if obs := srv.observed(); obs != nil {
		srv.notifyEventReceived(obs, s, ev.Name, ev.Args)
	}
	for _, e := range anyIn {
		if err := srv.safeCall(func() error { e.fn(ev.Name, ev.Args); return nil }); err != nil {
			srv.log.Error("socketio: any listener failed", "event", ev.Name, "err", err)
		}
	}
	for _, mw := range mws {
		result := make(chan error, 1)
		var once sync.Once
		next := func(err error) { once.Do(func() { result <- err }) }
		err := srv.safeCall(func() error { mw(ev, next); return nil })
		if err == nil {
			select {
			case err = <-result:
			case <-s.client.sess.Done():
				return
			}
		}
		if err != nil {
			s.mu.Lock()
			handlers := s.onError
			s.mu.Unlock()
			if len(handlers) == 0 {
				srv.log.Warn("socketio: packet middleware refused an event", "event", ev.Name, "err", err)
			}
			for _, fn := range handlers {
				_ = srv.safeCall(func() error { fn(err); return nil })
			}
			return
		}
	}
	if !s.Connected() {
		return
	}
	for _, h := range hs {
		if err := srv.safeCall(func() error { return h.call(ev.Args, ev.Ack) }); err != nil {
			srv.log.Warn("socketio: event handler failed", "nsp", s.nsp.name, "event", ev.Name, "err", err)
		}
	}
}

// schedule queues a task for the socket's handler goroutine, starting it
// when it is not running. With wait, it first waits while
// Options.MaxPendingEvents tasks are queued: the session's reader then
// stops reading this client until its handlers catch up.
func (s *Socket) schedule(task func(), wait bool) {
	s.mu.Lock()
	for wait && s.connected && len(s.tasks) >= s.nsp.server.opts.MaxPendingEvents {
		if s.space == nil {
			s.space = sync.NewCond(&s.mu)
		}
		s.space.Wait()
	}
	s.tasks = append(s.tasks, task)
	if s.running {
		s.mu.Unlock()
		return
	}
	s.running = true
	s.mu.Unlock()
	s.nsp.server.work.add()
	s.nsp.server.pool.Go(s.drainTask)
}

// drainTask is drain as a pool task.
func (s *Socket) drainTask() {
	defer s.nsp.server.work.done()
	s.drain()
}

// drain runs the queued tasks until there are none.
func (s *Socket) drain() {
	for {
		s.mu.Lock()
		if len(s.tasks) == 0 {
			s.running = false
			s.tasks = nil
			s.mu.Unlock()
			return
		}
		task := s.tasks[0]
		s.tasks[0] = nil
		s.tasks = s.tasks[1:]
		if s.space != nil {
			s.space.Signal()
		}
		s.mu.Unlock()
		task()
	}
}

// onClose disconnects the socket. Pending acknowledgements fail at once;
// the disconnecting and disconnect handlers run after the handlers
// already queued.
func (s *Socket) onClose(reason Reason) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	acks := s.acks
	s.acks = nil
	if s.space != nil {
		s.space.Broadcast() // a reader waiting for room goes on
	}
	s.mu.Unlock()
	s.client.detach(s)
	for _, fn := range acks {
		fn(nil, ErrDisconnected)
	}
	s.schedule(func() { s.cleanup(reason) }, false)
}

// cleanup runs the disconnect handlers and forgets the socket.
func (s *Socket) cleanup(reason Reason) {
	srv := s.nsp.server
	s.mu.Lock()
	disconnecting, disconnect := s.onDisconnecting, s.onDisconnect
	s.mu.Unlock()
	for _, fn := range disconnecting {
		_ = srv.safeCall(func() error { fn(reason); return nil })
	}
	if srv.opts.ConnectionStateRecovery != nil && recoverable[reason] {
		s.nsp.adapter.PersistSession(&adapter.Session{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data()})
	}
	s.leaveAll()
	s.nsp.remove(s)
	if obs := srv.observed(); obs != nil {
		srv.notifySocketDisconnected(obs, s, reason)
	}
	for _, fn := range disconnect {
		_ = srv.safeCall(func() error { fn(reason); return nil })
	}
	s.mu.Lock()
	s.handlers, s.anyIn, s.anyOut, s.middlewares = nil, nil, nil, nil
	s.onDisconnecting, s.onDisconnect, s.onError = nil, nil, nil
	s.mu.Unlock()
}
