// Package parser holds the wire codecs of Duplex: the Engine.IO packet and
// payload formats (protocol v4, and v3 for socket.io v2 clients).
//
// Engine.IO packet (one WebSocket frame, or one entry of a polling payload):
//
//	<type digit><data>      text packet: "4hello" is the message "hello"
//	<raw bytes>             v4 binary message over WebSocket (a binary frame)
//	0x04 <raw bytes>        v3 binary message over WebSocket
//	b<base64>               v4 binary message inside a text payload
//	b4<base64>              v3 binary message inside a text payload
//
// Packet types: 0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop.
//
// Polling payloads carry several packets in one HTTP body:
//
//	v4: packets joined by the record separator 0x1e:  "4hello\x1e4world"
//	v3, text:   "<length>:<packet>" repeated, the length counted in UTF-16
//	            code units as JavaScript does: "6:4hello6:4world"
//	v3, binary: per packet, 0x00 (string) or 0x01 (binary), the length as
//	            one byte per decimal digit, 0xff, then the packet bytes.
//
// Decoders never panic, never allocate more than their input needs, and
// return ErrInvalidPacket or ErrInvalidPayload on malformed input. Decoded
// packets may alias the input buffer.
package parser
