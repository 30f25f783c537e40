package socketio

import "sync"

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
// handlers, in the order added with Socket.Use, in the socket's handler
// goroutine. It returns nil to let the event through, or an error to drop
// it and hand the error to the socket's OnError handlers. It may change
// ev. It may block, holding up the socket's later events as a handler
// would.
type PacketMiddleware func(ev *Event) error

// AnyListener gets every event a socket receives (OnAny).
type AnyListener func(event string, args Args)

// OutgoingListener gets every event sent to a socket, with its arguments
// as they were given to Emit (OnAnyOutgoing).
type OutgoingListener func(event string, args []any)

type anyEntry struct{ fn AnyListener }

type outEntry struct{ fn OutgoingListener }

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
// The signature is checked here, once: On panics when fn is not such a
// func. For a handler of one argument checked by the compiler, see the
// generic On.
func (s *Socket) On(event string, fn any) { s.addHandler(event, mustHandler(fn)) }

// handlerEntry is a handler and the event it handles. A socket keeps its
// handlers in one slice, in the order added: a socket has a few, and a
// slice of them costs a fraction of a map of slices.
type handlerEntry struct {
	event string
	h     *handler
}

func (s *Socket) addHandler(event string, h *handler) {
	s.mu.Lock()
	// Appending past the length leaves the entries a dispatch took intact.
	s.handlers = append(s.handlers, handlerEntry{event, h})
	s.mu.Unlock()
}

// Off removes the handlers of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	// A new slice: a dispatch may be going through the old one.
	var kept []handlerEntry
	for _, e := range s.handlers {
		if e.event != event {
			kept = append(kept, e)
		}
	}
	s.handlers = kept
	s.mu.Unlock()
}

// OnAny adds a listener called with every event the socket receives,
// before its handlers. The returned func removes it.
func (s *Socket) OnAny(fn AnyListener) (remove func()) { return s.addAny(fn, false) }

// PrependAny is OnAny, the listener called before those already added.
func (s *Socket) PrependAny(fn AnyListener) (remove func()) { return s.addAny(fn, true) }

func (s *Socket) addAny(fn AnyListener, first bool) (remove func()) {
	return addListener(&s.mu, &s.anyIn, &anyEntry{fn}, first)
}

// OffAny removes every listener added with OnAny and PrependAny.
func (s *Socket) OffAny() {
	s.mu.Lock()
	s.anyIn = nil
	s.mu.Unlock()
}

// OnAnyOutgoing adds a listener called with every event sent to the
// socket, by Emit or by a broadcast. The returned func removes it.
func (s *Socket) OnAnyOutgoing(fn OutgoingListener) (remove func()) { return s.addAnyOut(fn, false) }

// PrependAnyOutgoing is OnAnyOutgoing, the listener called before those
// already added.
func (s *Socket) PrependAnyOutgoing(fn OutgoingListener) (remove func()) {
	return s.addAnyOut(fn, true)
}

func (s *Socket) addAnyOut(fn OutgoingListener, first bool) (remove func()) {
	return addListener(&s.mu, &s.anyOut, &outEntry{fn}, first)
}

// addListener adds e to the list mu guards, first or last, and returns the
// func that removes it again.
func addListener[E comparable](mu *sync.Mutex, list *[]E, e E, first bool) (remove func()) {
	mu.Lock()
	*list = added(*list, e, first)
	mu.Unlock()
	return func() {
		mu.Lock()
		*list = without(*list, e)
		mu.Unlock()
	}
}

// OffAnyOutgoing removes every listener added with OnAnyOutgoing and
// PrependAnyOutgoing.
func (s *Socket) OffAnyOutgoing() {
	s.mu.Lock()
	s.anyOut = nil
	s.mu.Unlock()
}

// added returns a new slice of list with e first or last: the old one may
// still be read by a dispatch that copied it.
func added[E any](list []E, e E, first bool) []E {
	out := make([]E, 0, len(list)+1)
	if first {
		out = append(out, e)
	}
	out = append(out, list...)
	if !first {
		out = append(out, e)
	}
	return out
}

// without returns a new slice of the elements of list but e, for the same
// reason.
func without[E comparable](list []E, e E) []E {
	out := make([]E, 0, len(list))
	for _, x := range list {
		if x != e {
			out = append(out, x)
		}
	}
	return out
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
