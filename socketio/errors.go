package socketio

import (
	"context"
	"errors"

	"github.com/duplexio/duplex/engineio"
)

// Reason says why a socket disconnected, in the reference server's words.
type Reason string

// The disconnect reasons.
const (
	// ReasonClientNamespaceDisconnect: the client left the namespace
	// (socket.disconnect() on the client).
	ReasonClientNamespaceDisconnect Reason = "client namespace disconnect"
	// ReasonServerNamespaceDisconnect: the server called
	// Socket.Disconnect (with close, every socket of the connection gets
	// this reason, as with the reference).
	ReasonServerNamespaceDisconnect Reason = "server namespace disconnect"
	// ReasonServerShutdown: Server.Shutdown or Server.Close.
	ReasonServerShutdown Reason = "server shutting down"
	// ReasonForcedServerClose: the server closed the connection because
	// the client sent a packet it may not send in its state (for a
	// namespace it has not joined, a second CONNECT, a CONNECT_ERROR).
	ReasonForcedServerClose Reason = "forced server close"
	// ReasonTransportClose: the connection was closed by the client or
	// lost.
	ReasonTransportClose Reason = Reason(engineio.ReasonTransportClose)
	// ReasonTransportError: the connection failed.
	ReasonTransportError Reason = Reason(engineio.ReasonTransportError)
	// ReasonPingTimeout: the client stopped answering heartbeats.
	ReasonPingTimeout Reason = Reason(engineio.ReasonPingTimeout)
	// ReasonParseError: the client sent a packet that cannot be decoded.
	ReasonParseError Reason = Reason(engineio.ReasonParseError)
	// ReasonForcedClose: the server closed the Engine.IO session
	// (Conn().Close()).
	ReasonForcedClose Reason = Reason(engineio.ReasonForcedClose)
	// ReasonSlowConsumer: the client fell too far behind in reading.
	ReasonSlowConsumer Reason = Reason(engineio.ReasonSlowConsumer)
)

// recoverable lists the reasons after which connection state recovery may
// restore a socket.
var recoverable = map[Reason]bool{
	ReasonTransportError:    true,
	ReasonTransportClose:    true,
	ReasonForcedClose:       true,
	ReasonPingTimeout:       true,
	ReasonServerShutdown:    true,
	ReasonForcedServerClose: true,
}

// Sentinel errors.
var (
	// ErrAckTimeout: no acknowledgement came in time.
	ErrAckTimeout = errors.New("socketio: operation has timed out")
	// ErrReservedEvent: the event name is reserved by the protocol
	// ("connect", "disconnect", ...).
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrDisconnected: the socket is no longer connected.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrServerClosed: the server was shut down.
	ErrServerClosed = errors.New("socketio: server closed")
)

// ConnectError is the error a middleware returns to refuse a connection:
// the client's connect_error handler gets an Error with this message and,
// in err.data, Data.
type ConnectError struct {
	Message string
	Data    any
}

// Error returns Message.
func (e *ConnectError) Error() string { return e.Message }

// NewConnectError returns a ConnectError.
func NewConnectError(message string, data any) *ConnectError {
	return &ConnectError{Message: message, Data: data}
}

// ErrTooManyAcks is returned by EmitWithAck when the socket already owes
// Options.MaxPendingAcks acknowledgements.
var ErrTooManyAcks = errors.New("socketio: too many pending acknowledgements")

// ErrTooManyRooms is returned by TryJoin when joining would put the
// socket in more than Options.MaxRoomsPerSocket rooms.
var ErrTooManyRooms = errors.New("socketio: too many rooms")

// ErrAckSent is returned by an Ack called a second time.
var ErrAckSent = errors.New("socketio: acknowledgement already sent")

// ackError is the error of an acknowledgement that did not come before
// ctx was done.
func ackError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrAckTimeout
	}
	return ctx.Err()
}
