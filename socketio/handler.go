package socketio

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/duplexio/duplex/parser"
)

// Ack answers an event that the client sent with an acknowledgement
// callback: the client's callback gets args. Only the first call sends
// anything (later ones return ErrAckSent). A handler's Ack is nil when the
// client asked for no acknowledgement.
type Ack func(args ...any) error

// Args are the arguments of an event or of an acknowledgement, still
// encoded, to decode into the Go types wanted.
type Args []parser.Value

// Decode decodes the arguments into ptrs, in order, as json.Unmarshal
// would; binary attachments decode into []byte. Pointers past the last
// argument are left untouched.
func (a Args) Decode(ptrs ...any) error {
	for i, p := range ptrs {
		if i >= len(a) {
			return nil
		}
		if p == nil {
			continue
		}
		if err := a[i].Decode(p); err != nil {
			return fmt.Errorf("socketio: argument %d: %w", i, err)
		}
	}
	return nil
}

var (
	ackType   = reflect.TypeFor[Ack]()
	argsType  = reflect.TypeFor[Args]()
	valueType = reflect.TypeFor[parser.Value]()
	errorType = reflect.TypeFor[error]()
)

// handler is an event handler whose signature was checked once, when it
// was registered.
type handler struct {
	fn       reflect.Value
	in       []reflect.Type
	variadic bool
	// direct is set for the signatures that need no reflection.
	direct func(args Args, ack Ack) error
}

// newHandler checks fn's signature. A handler is a func whose parameters
// take the event's arguments in order, each decoded into the parameter's
// type; a parameter of type Ack (anywhere) takes the acknowledgement
// instead of an argument, one of type parser.Value takes an argument
// undecoded, one of type Args takes all the remaining arguments, and a
// final variadic parameter takes the rest, each decoded. It may return
// nothing or an error, which is logged.
func newHandler(fn any) (*handler, error) {
	switch f := fn.(type) {
	case nil:
		return nil, errors.New("socketio: nil handler")
	case func():
		return &handler{direct: func(Args, Ack) error { f(); return nil }}, nil
	case func(Args):
		return &handler{direct: func(a Args, _ Ack) error { f(a); return nil }}, nil
	case func(Args, Ack):
		return &handler{direct: func(a Args, ack Ack) error { f(a, ack); return nil }}, nil
	case func(Args, Ack) error:
		return &handler{direct: f}, nil
	}
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("socketio: handler is a %s, not a func", t)
	}
	switch {
	case t.NumOut() == 0:
	case t.NumOut() == 1 && t.Out(0) == errorType:
	default:
		return nil, fmt.Errorf("socketio: handler %s may return nothing or an error", t)
	}
	h := &handler{fn: v, variadic: t.IsVariadic()}
	for i := 0; i < t.NumIn(); i++ {
		h.in = append(h.in, t.In(i))
	}
	return h, nil
}

// mustHandler is newHandler for registration calls, where a bad signature
// is a programming error.
func mustHandler(fn any) *handler {
	h, err := newHandler(fn)
	if err != nil {
		panic(err)
	}
	return h
}

// call runs the handler with the event's arguments.
func (h *handler) call(args Args, ack Ack) error {
	if h.direct != nil {
		return h.direct(args, ack)
	}
	in := make([]reflect.Value, 0, len(h.in)+len(args))
	next := 0
	for i, t := range h.in {
		if h.variadic && i == len(h.in)-1 {
			elem := t.Elem()
			for ; next < len(args); next++ {
				v, err := decodeArg(args[next], elem, next)
				if err != nil {
					return err
				}
				in = append(in, v)
			}
			break
		}
		switch t {
		case ackType:
			in = append(in, reflect.ValueOf(ack))
			continue
		case argsType:
			rest := Args(nil)
			if next < len(args) {
				rest = args[next:]
			}
			in = append(in, reflect.ValueOf(rest))
			next = len(args)
			continue
		}
		if next >= len(args) {
			in = append(in, reflect.Zero(t))
			continue
		}
		v, err := decodeArg(args[next], t, next)
		if err != nil {
			return err
		}
		in = append(in, v)
		next++
	}
	out := h.fn.Call(in)
	if len(out) == 1 && !out[0].IsNil() {
		return out[0].Interface().(error)
	}
	return nil
}

// decodeArg decodes argument i into a new value of type t.
func decodeArg(a parser.Value, t reflect.Type, i int) (reflect.Value, error) {
	if t == valueType {
		if a == nil {
			return reflect.Zero(t), nil
		}
		return reflect.ValueOf(&a).Elem(), nil
	}
	p := reflect.New(t)
	if a != nil {
		if err := a.Decode(p.Interface()); err != nil {
			return reflect.Value{}, fmt.Errorf("socketio: argument %d: %w", i, err)
		}
	}
	return p.Elem(), nil
}
