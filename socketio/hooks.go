package socketio

import (
	"runtime/debug"

	"github.com/duplexio/duplex/engineio"
)

// Observer watches what happens on a server, for dashboards, metrics and
// debugging tools: each field that is set is called when that thing
// happens, like net/http/httptrace's ClientTrace. Add one with
// Server.Observe.
//
// The functions are called synchronously, by the goroutine that made the
// change, and may be called concurrently: keep them short and never block
// in them. A panic in one is recovered and logged. While no observer is
// added, the server's cost is one atomic load at each of these points.
type Observer struct {
	// NamespaceCreated is called when a namespace is created: by
	// Server.Of, or when a client first connects to a dynamic namespace
	// (OfFunc, OfRegexp).
	NamespaceCreated func(n *Namespace)

	// ConnectionOpened is called when a client opens an Engine.IO
	// session, before it joins any namespace.
	ConnectionOpened func(conn engineio.Conn)
	// ConnectionClosed is called when an Engine.IO session closes, with
	// its close reason, once its sockets are disconnected.
	ConnectionClosed func(conn engineio.Conn, reason Reason)

	// SocketConnected is called when a socket joins its namespace: after
	// the middlewares let it in, before the namespace's connection
	// handlers run (and so before the client is told).
	SocketConnected func(s *Socket)
	// SocketDisconnected is called when a socket has disconnected and
	// left its rooms, before its OnDisconnect handlers run.
	SocketDisconnected func(s *Socket, reason Reason)
	// SocketDataSet is called after Socket.SetData.
	SocketDataSet func(s *Socket)

	// RoomJoined is called when a socket joins a room it was not in:
	// its own room when it connects, the rooms of Socket.Join, and those
	// of SocketsJoin and RemoteSocket.Join, which go through Socket.Join on
	// the socket's node.
	RoomJoined func(s *Socket, room string)
	// RoomLeft is called when a socket leaves a room it was in: by
	// Socket.Leave, SocketsLeave, or because it disconnected.
	RoomLeft func(s *Socket, room string)

	// EventReceived is called with each event a socket receives, before
	// its OnAny listeners, middlewares and handlers.
	EventReceived func(s *Socket, event string, args Args)
	// EventSent is called with each event sent to a socket, by Emit or
	// by a broadcast, with the arguments given to Emit. The arguments are
	// shared with the other recipients: do not change them.
	EventSent func(s *Socket, event string, args []any)
}

// Observe adds an observer to the server. The returned func removes it;
// calling it more than once does nothing.
func (s *Server) Observe(o *Observer) (remove func()) {
	s.mu.Lock()
	var list []*Observer
	if old := s.observers.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, o)
	s.observers.Store(&list)
	s.mu.Unlock()
	removed := false
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if removed {
			return
		}
		removed = true
		old := s.observers.Load()
		if old == nil {
			return
		}
		rest := make([]*Observer, 0, len(*old))
		for _, x := range *old {
			if x != o {
				rest = append(rest, x)
			}
		}
		if len(rest) == 0 {
			s.observers.Store(nil)
			return
		}
		s.observers.Store(&rest)
	}
}

// observed returns the observers; nil when there are none, which is what
// the hot paths check.
func (s *Server) observed() []*Observer {
	if p := s.observers.Load(); p != nil {
		return *p
	}
	return nil
}

// recoverObserver logs an observer's panic; deferred by the calls below,
// which call observers without allocating.
func (s *Server) recoverObserver() {
	if r := recover(); r != nil {
		s.log.Error("socketio: observer panicked", "panic", r, "stack", string(debug.Stack()))
	}
}

func call1[A any](s *Server, f func(A), a A) {
	defer s.recoverObserver()
	f(a)
}

func call2[A, B any](s *Server, f func(A, B), a A, b B) {
	defer s.recoverObserver()
	f(a, b)
}

func call3[A, B, C any](s *Server, f func(A, B, C), a A, b B, c C) {
	defer s.recoverObserver()
	f(a, b, c)
}

func (s *Server) notifyNamespaceCreated(obs []*Observer, n *Namespace) {
	for _, o := range obs {
		if f := o.NamespaceCreated; f != nil {
			call1(s, f, n)
		}
	}
}

func (s *Server) notifyConnectionOpened(obs []*Observer, sess engineio.Conn) {
	for _, o := range obs {
		if f := o.ConnectionOpened; f != nil {
			call1(s, f, sess)
		}
	}
}

func (s *Server) notifyConnectionClosed(obs []*Observer, sess engineio.Conn, reason Reason) {
	for _, o := range obs {
		if f := o.ConnectionClosed; f != nil {
			call2(s, f, sess, reason)
		}
	}
}

func (s *Server) notifySocketConnected(obs []*Observer, sock *Socket) {
	for _, o := range obs {
		if f := o.SocketConnected; f != nil {
			call1(s, f, sock)
		}
	}
}

func (s *Server) notifySocketDisconnected(obs []*Observer, sock *Socket, reason Reason) {
	for _, o := range obs {
		if f := o.SocketDisconnected; f != nil {
			call2(s, f, sock, reason)
		}
	}
}

func (s *Server) notifySocketDataSet(obs []*Observer, sock *Socket) {
	for _, o := range obs {
		if f := o.SocketDataSet; f != nil {
			call1(s, f, sock)
		}
	}
}

func (s *Server) notifyRoomsJoined(obs []*Observer, sock *Socket, rooms []string) {
	for _, o := range obs {
		if f := o.RoomJoined; f != nil {
			for _, r := range rooms {
				call2(s, f, sock, r)
			}
		}
	}
}

func (s *Server) notifyRoomsLeft(obs []*Observer, sock *Socket, rooms []string) {
	for _, o := range obs {
		if f := o.RoomLeft; f != nil {
			for _, r := range rooms {
				call2(s, f, sock, r)
			}
		}
	}
}

func (s *Server) notifyEventReceived(obs []*Observer, sock *Socket, event string, args Args) {
	for _, o := range obs {
		if f := o.EventReceived; f != nil {
			call3(s, f, sock, event, args)
		}
	}
}

func (s *Server) notifyEventSent(obs []*Observer, sock *Socket, event string, args []any) {
	for _, o := range obs {
		if f := o.EventSent; f != nil {
			call3(s, f, sock, event, args)
		}
	}
}
