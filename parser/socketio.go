package parser

import (
	"errors"
	"fmt"
)

// SocketPacketType is the type of a Socket.IO packet.
type SocketPacketType byte

// The Socket.IO packet types (protocol v5).
const (
	SocketPacketConnect SocketPacketType = iota
	SocketPacketDisconnect
	SocketPacketEvent
	SocketPacketAck
	SocketPacketConnectError
	SocketPacketBinaryEvent
	SocketPacketBinaryAck
)

var socketPacketTypeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String returns the protocol's name for the type ("EVENT", ...).
func (t SocketPacketType) String() string {
	if int(t) < len(socketPacketTypeNames) {
		return socketPacketTypeNames[t]
	}
	return fmt.Sprintf("SocketPacketType(%d)", byte(t))
}

// SocketPacket is one Socket.IO packet. Outgoing packets carry Go values in
// Data; decoded packets carry encoded values in Event, Args and Payload,
// decoded on demand into the types their handler wants.
type SocketPacket struct {
	Type SocketPacketType
	// Namespace is the namespace name; "" means "/".
	Namespace string
	// ID is the acknowledgement id, when HasID is set.
	ID    uint64
	HasID bool

	// Data is what an outgoing packet carries: for EVENT the event name
	// followed by the arguments, for ACK the arguments (both as []any); for
	// CONNECT and CONNECT_ERROR any value that encodes as an object (or a
	// string, for CONNECT_ERROR); nil for none. []byte values anywhere in it
	// are sent as binary.
	Data any

	// Event is a decoded EVENT's name.
	Event string
	// Args are a decoded EVENT's arguments (after the name) or a decoded
	// ACK's arguments.
	Args []Value
	// Payload is a decoded CONNECT's auth object or CONNECT_ERROR's data;
	// nil when the packet had none.
	Payload Value
}

// Value is one encoded value of a decoded packet, kept as it came until a
// handler asks for it in a Go type.
type Value interface {
	// Decode stores the value in v, a pointer, as json.Unmarshal does;
	// binary attachments decode into []byte, and into an any (of a
	// map, slice, array or struct field too, at any depth) as a []byte.
	Decode(v any) error
}

// Message is one Engine.IO message: text, or binary.
type Message struct {
	Data   []byte
	Binary bool
}

// Parser encodes and decodes Socket.IO packets. A server uses one Parser
// for all its clients; the default is JSONParser, and MsgpackParser is
// compatible with socket.io-msgpack-parser.
type Parser interface {
	// Encode returns the Engine.IO messages that carry p, in order.
	Encode(p *SocketPacket) ([]Message, error)
	// NewDecoder returns a decoder for one connection.
	NewDecoder() Decoder
}

// Decoder decodes the packets of one connection, which may span several
// Engine.IO messages (binary attachments).
type Decoder interface {
	// Add takes the next Engine.IO message. It returns a complete packet,
	// or nil while the attachments of a packet are still expected. Any
	// error means the connection sent something invalid and must close.
	Add(data []byte, binary bool) (*SocketPacket, error)
}

// ErrInvalidSocketPacket is returned for a Socket.IO packet that cannot be
// decoded or breaks the protocol's rules; errors from Decoder.Add wrap it.
var ErrInvalidSocketPacket = errors.New("parser: invalid socket.io packet")

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidSocketPacket, reason)
}

// reservedEvents may not be sent by clients (nor emitted by servers).
var reservedEvents = map[string]bool{
	"connect":        true,
	"connect_error":  true,
	"disconnect":     true,
	"disconnecting":  true,
	"newListener":    true,
	"removeListener": true,
}

// IsReservedEvent reports whether name is reserved by the protocol.
func IsReservedEvent(name string) bool { return reservedEvents[name] }
