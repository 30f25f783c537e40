package socketio

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

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
// would; binary attachments decode into []byte, at any depth (into an any
// as a []byte too). Pointers past the last
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
	fn    reflect.Value
	shape *handlerShape
	// direct is set for the signatures that need no reflection.
	direct func(args Args, ack Ack) error
}

// handlerShape is what a handler's signature says, worked out once per
// func type and shared by every handler of that type (each socket
// registers its own).
type handlerShape struct {
	in       []reflect.Type
	variadic bool
	err      error
}

// shapes caches the handlerShape of each func type, by reflect.Type.
var shapes sync.Map

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
	sh, ok := shapes.Load(t)
	if !ok {
		sh, _ = shapes.LoadOrStore(t, shapeOf(t))
	}
	shape := sh.(*handlerShape)
	if shape.err != nil {
		return nil, shape.err
	}
	return &handler{fn: v, shape: shape}, nil
}

// shapeOf checks the signature of a handler of type t.
func shapeOf(t reflect.Type) *handlerShape {
	if t.Kind() != reflect.Func {
		return &handlerShape{err: fmt.Errorf("socketio: handler is a %s, not a func", t)}
	}
	switch {
	case t.NumOut() == 0:
	case t.NumOut() == 1 && t.Out(0) == errorType:
	default:
		return &handlerShape{err: fmt.Errorf("socketio: handler %s may return nothing or an error", t)}
	}
	sh := &handlerShape{variadic: t.IsVariadic()}
	for i := 0; i < t.NumIn(); i++ {
		sh.in = append(sh.in, t.In(i))
	}
	return sh
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
	sh := h.shape
	in := make([]reflect.Value, 0, len(sh.in)+len(args))
	next := 0
	for i, t := range sh.in {
		if sh.variadic && i == len(sh.in)-1 {
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
