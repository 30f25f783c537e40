package parser

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// PacketType is the type of an Engine.IO packet.
type PacketType byte

// The Engine.IO packet types, in wire order ('0' to '6').
const (
	PacketOpen PacketType = iota
	PacketClose
	PacketPing
	PacketPong
	PacketMessage
	PacketUpgrade
	PacketNoop
)

var packetTypeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns the protocol's name for the type ("open", "ping", ...).
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return fmt.Sprintf("PacketType(%d)", byte(t))
}

// Valid reports whether t is one of the seven packet types.
func (t PacketType) Valid() bool { return t <= PacketNoop }

// Packet is one Engine.IO packet. Binary is only meaningful for message
// packets: it says that Data is raw bytes rather than UTF-8 text.
// NoCompress is a hint for the transport writing an outgoing packet: send it
// uncompressed even when compression is on (Socket.IO's compress(false)).
type Packet struct {
	Type       PacketType
	Data       []byte
	Binary     bool
	NoCompress bool
}

// ErrInvalidPacket is returned when a packet cannot be decoded.
var ErrInvalidPacket = errors.New("parser: invalid packet")

// ErrInvalidPayload is returned when a polling payload cannot be decoded.
var ErrInvalidPayload = errors.New("parser: invalid payload")

// Protocol revisions of Engine.IO understood by this package.
const (
	ProtocolV3 = 3
	ProtocolV4 = 4
)

// DecodePacket decodes one v4 packet as received in a WebSocket frame:
// binaryFrame says whether the frame was a binary one (a binary message).
// The returned Data aliases data.
func DecodePacket(data []byte, binaryFrame bool) (Packet, error) {
	if binaryFrame {
		return Packet{Type: PacketMessage, Data: data, Binary: true}, nil
	}
	return decodeTextPacket(data, ProtocolV4)
}

// DecodePacketV3 decodes one v3 packet as received in a WebSocket frame.
// In v3 a binary frame starts with the packet type as a byte (0x04).
func DecodePacketV3(data []byte, binaryFrame bool) (Packet, error) {
	if binaryFrame {
		if len(data) == 0 || !PacketType(data[0]).Valid() {
			return Packet{}, ErrInvalidPacket
		}
		return Packet{Type: PacketType(data[0]), Data: data[1:], Binary: true}, nil
	}
	return decodeTextPacket(data, ProtocolV3)
}

// decodeTextPacket decodes "<type><data>" or a base64 binary packet.
func decodeTextPacket(data []byte, protocol int) (Packet, error) {
	if len(data) == 0 {
		return Packet{}, ErrInvalidPacket
	}
	if data[0] == 'b' {
		return decodeBase64Packet(data[1:], protocol)
	}
	t := PacketType(data[0] - '0')
	if data[0] < '0' || !t.Valid() {
		return Packet{}, ErrInvalidPacket
	}
	p := Packet{Type: t}
	if len(data) > 1 {
		p.Data = data[1:]
	}
	return p, nil
}

// decodeBase64Packet decodes the part after "b": in v4 the whole rest is the
// base64 of a message; in v3 a type digit comes first.
func decodeBase64Packet(data []byte, protocol int) (Packet, error) {
	t := PacketMessage
	if protocol == ProtocolV3 {
		if len(data) == 0 || data[0] < '0' || !PacketType(data[0]-'0').Valid() {
			return Packet{}, ErrInvalidPacket
		}
		t = PacketType(data[0] - '0')
		data = data[1:]
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
	n, err := base64.StdEncoding.Decode(out, data)
	if err != nil {
		return Packet{}, ErrInvalidPacket
	}
	return Packet{Type: t, Data: out[:n], Binary: true}, nil
}

// AppendPacket appends the text encoding of p ("<type><data>") to dst, as
// sent in a WebSocket text frame. A binary message is not encoded here: in
// v4 its frame is Data itself (see AppendBinaryPacketV3 for v3).
func AppendPacket(dst []byte, p Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// AppendBase64Packet appends a binary message in its text form: "b<base64>"
// in v4, "b4<base64>" in v3.
func AppendBase64Packet(dst []byte, p Packet, protocol int) []byte {
	dst = append(dst, 'b')
	if protocol == ProtocolV3 {
		dst = append(dst, '0'+byte(p.Type))
	}
	return base64.StdEncoding.AppendEncode(dst, p.Data)
}

// AppendBinaryPacketV3 appends the v3 WebSocket binary frame of p: the type
// byte followed by the raw data.
func AppendBinaryPacketV3(dst []byte, p Packet) []byte {
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}
