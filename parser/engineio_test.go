package parser

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// packetCase is one Engine.IO packet and its wire form. frame says the wire
// is a binary WebSocket frame rather than text.
type packetCase struct {
	name    string
	version int
	wire    string
	frame   bool
	packet  Packet
}

// packetCases hold the wire bytes produced by engine.io-parser 5.x (v4) and
// 2.x (v3) for the same packets.
var packetCases = []packetCase{
	{"v4 open", 4, `0{"sid":"x","upgrades":["websocket"],"pingInterval":25000}`, false, Packet{Type: PacketOpen, Data: []byte(`{"sid":"x","upgrades":["websocket"],"pingInterval":25000}`)}},
	{"v4 close", 4, "1", false, Packet{Type: PacketClose}},
	{"v4 ping", 4, "2", false, Packet{Type: PacketPing}},
	{"v4 ping probe", 4, "2probe", false, Packet{Type: PacketPing, Data: []byte("probe")}},
	{"v4 pong", 4, "3", false, Packet{Type: PacketPong}},
	{"v4 pong probe", 4, "3probe", false, Packet{Type: PacketPong, Data: []byte("probe")}},
	{"v4 message", 4, "4hello", false, Packet{Type: PacketMessage, Data: []byte("hello")}},
	{"v4 empty message", 4, "4", false, Packet{Type: PacketMessage}},
	{"v4 utf-8 message", 4, "4héllo 😀", false, Packet{Type: PacketMessage, Data: []byte("héllo 😀")}},
	{"v4 message holding separators", 4, "44:2\x004", false, Packet{Type: PacketMessage, Data: []byte("4:2\x004")}},
	{"v4 upgrade", 4, "5", false, Packet{Type: PacketUpgrade}},
	{"v4 noop", 4, "6", false, Packet{Type: PacketNoop}},
	{"v4 base64 message", 4, "bAQID", false, Packet{Type: PacketMessage, Data: []byte{1, 2, 3}, Binary: true}},
	{"v4 base64 padding", 4, "bAAEC/w==", false, Packet{Type: PacketMessage, Data: []byte{0, 1, 2, 0xff}, Binary: true}},
	{"v4 empty base64 message", 4, "b", false, Packet{Type: PacketMessage, Data: []byte{}, Binary: true}},
	{"v4 binary frame", 4, "\x01\x02\x03", true, Packet{Type: PacketMessage, Data: []byte{1, 2, 3}, Binary: true}},
	{"v4 binary frame that reads as text", 4, "4hello", true, Packet{Type: PacketMessage, Data: []byte("4hello"), Binary: true}},
	{"v4 empty binary frame", 4, "", true, Packet{Type: PacketMessage, Data: []byte{}, Binary: true}},

	{"v3 open", 3, `0{"sid":"x"}`, false, Packet{Type: PacketOpen, Data: []byte(`{"sid":"x"}`)}},
	{"v3 close", 3, "1", false, Packet{Type: PacketClose}},
	{"v3 ping probe", 3, "2probe", false, Packet{Type: PacketPing, Data: []byte("probe")}},
	{"v3 pong", 3, "3", false, Packet{Type: PacketPong}},
	{"v3 message", 3, "4hello", false, Packet{Type: PacketMessage, Data: []byte("hello")}},
	{"v3 upgrade", 3, "5", false, Packet{Type: PacketUpgrade}},
	{"v3 noop", 3, "6", false, Packet{Type: PacketNoop}},
	{"v3 base64 message", 3, "b4AQID", false, Packet{Type: PacketMessage, Data: []byte{1, 2, 3}, Binary: true}},
	{"v3 empty base64 message", 3, "b4", false, Packet{Type: PacketMessage, Data: []byte{}, Binary: true}},
	{"v3 base64 of another type", 3, "b0AQID", false, Packet{Type: PacketOpen, Data: []byte{1, 2, 3}, Binary: true}},
	{"v3 binary frame", 3, "\x04\x01\x02\x03", true, Packet{Type: PacketMessage, Data: []byte{1, 2, 3}, Binary: true}},
	{"v3 empty binary frame", 3, "\x04", true, Packet{Type: PacketMessage, Data: []byte{}, Binary: true}},
	{"v3 binary ping frame", 3, "\x02probe", true, Packet{Type: PacketPing, Data: []byte("probe"), Binary: true}},
}

func decodeCase(version int, wire []byte, frame bool) (Packet, error) {
	if version == ProtocolV3 {
		return DecodePacketV3(wire, frame)
	}
	return DecodePacket(wire, frame)
}

// samePacket compares packets, an empty Data equal to a nil one.
func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

func fmtPacket(p Packet) string {
	return fmt.Sprintf("{%v %q binary=%v}", p.Type, p.Data, p.Binary)
}

func TestDecodePacket(t *testing.T) {
	for _, c := range packetCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeCase(c.version, []byte(c.wire), c.frame)
			if err != nil {
				t.Fatalf("decode %q: %v", c.wire, err)
			}
			if !samePacket(got, c.packet) {
				t.Fatalf("decode %q = %s, want %s", c.wire, fmtPacket(got), fmtPacket(c.packet))
			}
		})
	}
}

func TestEncodePacket(t *testing.T) {
	for _, c := range packetCases {
		if c.version == ProtocolV4 && c.frame {
			continue // a v4 binary frame is the data itself
		}
		t.Run(c.name, func(t *testing.T) {
			var got []byte
			switch {
			case c.frame:
				got = AppendBinaryPacketV3(nil, c.packet)
			case c.packet.Binary:
				got = AppendBase64Packet(nil, c.packet, c.version)
			default:
				got = AppendPacket(nil, c.packet)
			}
			if string(got) != c.wire {
				t.Fatalf("encode %s = %q, want %q", fmtPacket(c.packet), got, c.wire)
			}
		})
	}
}

func TestAppendPacketKeepsPrefix(t *testing.T) {
	p := Packet{Type: PacketMessage, Data: []byte{1, 2}, Binary: true}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"text", AppendPacket([]byte("xy"), Packet{Type: PacketPing, Data: []byte("probe")}), "xy2probe"},
		{"base64 v4", AppendBase64Packet([]byte("xy"), p, ProtocolV4), "xybAQI="},
		{"base64 v3", AppendBase64Packet([]byte("xy"), p, ProtocolV3), "xyb4AQI="},
		{"frame v3", AppendBinaryPacketV3([]byte("xy"), p), "xy\x04\x01\x02"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestDecodePacketAliasesInput(t *testing.T) {
	in := []byte("4hello")
	p, err := DecodePacket(in, false)
	if err != nil {
		t.Fatal(err)
	}
	in[1] = 'j'
	if string(p.Data) != "jello" {
		t.Fatalf("Data = %q, want it to alias the input", p.Data)
	}
}

func TestDecodeMalformedPacket(t *testing.T) {
	tests := []struct {
		name    string
		version int
		wire    string
		frame   bool
	}{
		{"v4 empty", 4, "", false},
		{"v4 type 7", 4, "7", false},
		{"v4 type 9", 4, "9hello", false},
		{"v4 below '0'", 4, "/hello", false},
		{"v4 letter", 4, "xhello", false},
		{"v4 raw type byte", 4, "\x04hello", false},
		{"v4 bad base64", 4, "b!!!!", false},
		{"v4 base64 without padding", 4, "bAQI", false},
		{"v4 base64 bad length", 4, "bAQID=", false},
		{"v4 base64 with a type digit", 4, "b4AQID", false},
		{"v3 empty", 3, "", false},
		{"v3 type 7", 3, "7", false},
		{"v3 letter", 3, "x", false},
		{"v3 base64 without type", 3, "b", false},
		{"v3 base64 bad type", 3, "b7AQID", false},
		{"v3 base64 letter type", 3, "bAQID", false},
		{"v3 bad base64", 3, "b4!!!!", false},
		{"v3 empty frame", 3, "", true},
		{"v3 frame type 7", 3, "\x07\x01", true},
		{"v3 frame type 0xff", 3, "\xff", true},
		{"v3 frame type as a digit", 3, "4hello", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := decodeCase(tt.version, []byte(tt.wire), tt.frame)
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("decode %q: err = %v, want ErrInvalidPacket", tt.wire, err)
			}
			if p.Type != 0 || p.Data != nil || p.Binary {
				t.Fatalf("decode %q returned %s with the error, want the zero Packet", tt.wire, fmtPacket(p))
			}
		})
	}
}

func TestPacketType(t *testing.T) {
	names := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}
	for i, name := range names {
		pt := PacketType(i)
		if pt.String() != name || !pt.Valid() {
			t.Errorf("PacketType(%d): String %q Valid %v, want %q true", i, pt.String(), pt.Valid(), name)
		}
	}
	if PacketNoop != 6 || PacketMessage != 4 {
		t.Errorf("PacketMessage=%d PacketNoop=%d, want 4 and 6", PacketMessage, PacketNoop)
	}
	if pt := PacketType(7); pt.Valid() || pt.String() != "PacketType(7)" {
		t.Errorf("PacketType(7): Valid %v String %q", pt.Valid(), pt.String())
	}
}
