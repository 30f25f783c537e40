package socketio

import (
	"context"
	"fmt"

	"github.com/duplexio/duplex/parser"
)

// This file holds typed events: generic sugar over Socket.On and Emit for
// events that carry one argument, so that the compiler checks handlers and
// emits against the argument's Go type. The handlers are registered with
// Socket.On as func(Args, Ack) error, a signature On calls without
// reflection; the argument is decoded straight from the parser's value.

// Sender is anything an event can be emitted through: *Server,
// *Namespace, *Socket, Emitter, *BroadcastOperator and *RemoteSocket.
type Sender interface {
	Emit(event string, args ...any) error
}

// AckSender is anything that can emit an event to one client and wait for
// its acknowledgement: *Socket and Emitter.
type AckSender interface {
	EmitWithAck(ctx context.Context, event string, args ...any) (Args, error)
}

// TypedEvent is an event name bound to the Go type of the event's one
// argument. Declared once, it keeps the handlers and the emits of the
// event in agreement:
//
//	var Chat = socketio.TypedEvent[ChatMessage]{Name: "chat"}
//
//	Chat.On(s, func(m ChatMessage) { Chat.Emit(s.To(m.Room), m) })
type TypedEvent[T any] struct {
	// Name is the event's name.
	Name string
}

// On adds a handler for the event; see the function On.
func (e TypedEvent[T]) On(s *Socket, fn func(T)) { On(s, e.Name, fn) }

// OnAck adds a handler for the event that also gets the client's
// acknowledgement; see the function OnAck.
func (e TypedEvent[T]) OnAck(s *Socket, fn func(T, Ack)) { OnAck(s, e.Name, fn) }

// Emit sends the event with v as its argument through to: a socket, a
// namespace, a broadcast operator, the server.
func (e TypedEvent[T]) Emit(to Sender, v T) error { return to.Emit(e.Name, v) }

// On adds a handler for event whose first argument is decoded into T,
// as json.Unmarshal would (binary attachments into []byte fields); other
// arguments are ignored, and a missing one leaves T's zero value. A T of
// type parser.Value takes the argument undecoded, and one of type Args
// takes them all. As with Socket.On, an argument that does not decode into
// T skips the handler and is logged, and the client's acknowledgement, if
// it asked for one, is not sent. For example:
//
//	socketio.On(s, "chat", func(m ChatMessage) { ... })
func On[T any](s *Socket, event string, fn func(T)) {
	decode := decoder[T]()
	s.On(event, func(args Args, _ Ack) error {
		v, err := decode(args)
		if err != nil {
			return err
		}
		fn(v)
		return nil
	})
}

// OnAck is On for a handler that also gets the client's acknowledgement,
// nil when the client asked for none.
func OnAck[T any](s *Socket, event string, fn func(T, Ack)) {
	decode := decoder[T]()
	s.On(event, func(args Args, ack Ack) error {
		v, err := decode(args)
		if err != nil {
			return err
		}
		fn(v, ack)
		return nil
	})
}

// OnWithAck is On for a request and its answer: the value fn returns is
// the argument of the client's acknowledgement callback. When fn returns
// an error, nothing is sent and the error is logged; put errors the client
// should see in R. When the client asked for no acknowledgement, the
// answer is dropped.
func OnWithAck[T, R any](s *Socket, event string, fn func(T) (R, error)) {
	decode := decoder[T]()
	s.On(event, func(args Args, ack Ack) error {
		v, err := decode(args)
		if err != nil {
			return err
		}
		r, err := fn(v)
		if err != nil {
			return err
		}
		if ack == nil {
			return nil
		}
		return ack(r)
	})
}

// EmitWithAck sends event with v as its argument and waits for the
// acknowledgement, whose first argument it decodes into R (the zero value
// when the client answered with none). Errors are those of to's
// EmitWithAck, or the decoding's. R comes first so that T is inferred:
//
//	pong, err := socketio.EmitWithAck[Pong](ctx, s.Timeout(time.Second), "ping", Ping{})
func EmitWithAck[R, T any](ctx context.Context, to AckSender, event string, v T) (R, error) {
	var r R
	args, err := to.EmitWithAck(ctx, event, v)
	if err != nil {
		return r, err
	}
	return decoder[R]()(args)
}

// decoder returns the function that decodes an event's first argument
// into T, chosen once for T.
func decoder[T any]() func(Args) (T, error) {
	var zero T
	switch any(&zero).(type) {
	case *parser.Value:
		return func(args Args) (T, error) {
			var v T
			if len(args) > 0 {
				*any(&v).(*parser.Value) = args[0]
			}
			return v, nil
		}
	case *Args:
		return func(args Args) (T, error) {
			var v T
			*any(&v).(*Args) = args
			return v, nil
		}
	}
	return func(args Args) (T, error) {
		var v T
		if len(args) == 0 || args[0] == nil {
			return v, nil
		}
		if err := args[0].Decode(&v); err != nil {
			return v, fmt.Errorf("socketio: argument 0: %w", err)
		}
		return v, nil
	}
}
