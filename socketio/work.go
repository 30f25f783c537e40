package socketio

import (
	"fmt"
	"runtime/debug"
)

// User code runs through the functions below, each with a deferred
// recovered: a panic in one handler is logged and turned into an error, so
// that it cannot bring the server down. They take what the call needs as
// arguments rather than a closure, so that calling a handler allocates
// nothing.

// recovered is deferred around a call of user code: it turns a panic into
// *err, logged.
func (s *Server) recovered(err *error, what string) {
	if r := recover(); r != nil {
		if err != nil {
			*err = fmt.Errorf("socketio: panic in %s: %v", what, r)
		}
		s.log.Error("socketio: "+what+" panicked", "panic", r, "stack", string(debug.Stack()))
	}
}

// callHandler runs an event handler, logging its error.
func (s *Server) callHandler(h *handler, nsp, event string, args Args, a Ack) {
	var err error
	defer func() {
		if err != nil {
			s.log.Warn("socketio: event handler failed", "nsp", nsp, "event", event, "err", err)
		}
	}()
	defer s.recovered(&err, "event handler")
	err = h.call(args, a)
}

// callAny runs an OnAny listener.
func (s *Server) callAny(fn AnyListener, event string, args Args) {
	defer s.recovered(nil, "any listener")
	fn(event, args)
}

// callAnyOut runs an OnAnyOutgoing listener.
func (s *Server) callAnyOut(fn OutgoingListener, event string, args []any) {
	defer s.recovered(nil, "outgoing listener")
	fn(event, args)
}

// callError runs an OnError handler.
func (s *Server) callError(fn func(error), err error) {
	defer s.recovered(nil, "error handler")
	fn(err)
}

// callReason runs an OnDisconnecting or OnDisconnect handler.
func (s *Server) callReason(fn func(Reason), reason Reason) {
	defer s.recovered(nil, "disconnect handler")
	fn(reason)
}

// callSocket runs a connection handler.
func (s *Server) callSocket(fn func(*Socket), sock *Socket) {
	defer s.recovered(nil, "connection handler")
	fn(sock)
}

// runMiddlewares runs a chain of middlewares (a namespace's, for a
// connection; a socket's, for an event) on v, in order, until one returns
// an error, which it returns; a panic is such an error.
func runMiddlewares[T any, M ~func(T) error](s *Server, mws []M, v T, what string) error {
	for _, mw := range mws {
		if err := callMiddleware(s, mw, v, what); err != nil {
			return err
		}
	}
	return nil
}

func callMiddleware[T any, M ~func(T) error](s *Server, mw M, v T, what string) (err error) {
	defer s.recovered(&err, what)
	return mw(v)
}
