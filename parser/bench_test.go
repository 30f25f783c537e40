package parser

import (
	"bytes"
	"strings"
	"testing"
)

var (
	benchText   = Packet{Type: PacketMessage, Data: []byte(`2["chat message","hello there, how are you?"]`)}
	benchBinary = Packet{Type: PacketMessage, Data: bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 256), Binary: true}
)

func benchPayload() []Packet {
	packets := make([]Packet, 10)
	for i := range packets {
		packets[i] = benchText
	}
	return packets
}

func BenchmarkAppendPacket(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = AppendPacket(buf[:0], benchText)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodePacket(b *testing.B) {
	b.ReportAllocs()
	wire := AppendPacket(nil, benchText)
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, err := DecodePacket(wire, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendBase64Packet(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(benchBinary.Data)))
	for b.Loop() {
		buf = AppendBase64Packet(buf[:0], benchBinary, ProtocolV4)
	}
}

func BenchmarkDecodePacketBase64(b *testing.B) {
	b.ReportAllocs()
	wire := AppendBase64Packet(nil, benchBinary, ProtocolV4)
	b.SetBytes(int64(len(benchBinary.Data)))
	for b.Loop() {
		if _, err := DecodePacket(wire, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePacketBinaryFrame(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBinary.Data)))
	for b.Loop() {
		if _, err := DecodePacket(benchBinary.Data, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	b.ReportAllocs()
	packets := benchPayload()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = AppendPayload(buf[:0], packets)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodePayload(b *testing.B) {
	b.ReportAllocs()
	wire := AppendPayload(nil, benchPayload())
	b.SetBytes(int64(len(wire)))
	fn := func(Packet) error { return nil }
	for b.Loop() {
		if err := DecodePayload(wire, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayloadV3(b *testing.B) {
	b.ReportAllocs()
	packets := benchPayload()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf, _ = AppendPayloadV3(buf[:0], packets, false)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodePayloadV3(b *testing.B) {
	b.ReportAllocs()
	wire, _ := AppendPayloadV3(nil, benchPayload(), false)
	b.SetBytes(int64(len(wire)))
	fn := func(Packet) error { return nil }
	for b.Loop() {
		if err := DecodePayloadV3(wire, false, fn); err != nil {
			b.Fatal(err)
		}
	}
}

type benchMessage struct {
	User string `json:"user"`
	Text string `json:"text"`
	Seq  int    `json:"seq"`
}

type benchFile struct {
	Name string `json:"name"`
	Body []byte `json:"body"`
}

var (
	benchEvent       = SocketPacket{Type: SocketPacketEvent, Data: []any{"chat message", benchMessage{"alice", "hello there", 42}}}
	benchBinaryEvent = SocketPacket{Type: SocketPacketEvent, Data: []any{"upload", []byte(strings.Repeat("x", 1024))}}
	benchStructEvent = SocketPacket{Type: SocketPacketEvent, Data: []any{"upload", benchFile{"a.bin", []byte(strings.Repeat("x", 1024))}}}
)

func benchEncode(b *testing.B, p *SocketPacket) {
	b.ReportAllocs()
	var jp JSONParser
	for b.Loop() {
		if _, err := jp.Encode(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B)             { benchEncode(b, &benchEvent) }
func BenchmarkEncodeBinaryEvent(b *testing.B)       { benchEncode(b, &benchBinaryEvent) }
func BenchmarkEncodeStructBinaryEvent(b *testing.B) { benchEncode(b, &benchStructEvent) }

// benchDecode decodes the encoding of p and its first argument into a
// value of type T, as a handler would get it.
func benchDecode[T any](b *testing.B, p *SocketPacket) {
	b.ReportAllocs()
	var jp JSONParser
	msgs, err := jp.Encode(p)
	if err != nil {
		b.Fatal(err)
	}
	d := jp.NewDecoder()
	for b.Loop() {
		var q *SocketPacket
		for _, m := range msgs {
			if q, err = d.Add(m.Data, m.Binary); err != nil {
				b.Fatal(err)
			}
		}
		var arg T
		if err := q.Args[0].Decode(&arg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B)             { benchDecode[benchMessage](b, &benchEvent) }
func BenchmarkDecodeBinaryEvent(b *testing.B)       { benchDecode[[]byte](b, &benchBinaryEvent) }
func BenchmarkDecodeStructBinaryEvent(b *testing.B) { benchDecode[benchFile](b, &benchStructEvent) }

// BenchmarkEchoAck decodes an event with an id and a 32-byte string, as
// bench/run.sh's echo cases send it, and encodes the acknowledgement that
// returns its arguments as they came: the codec's share of an echo.
func BenchmarkEchoAck(b *testing.B) {
	b.ReportAllocs()
	var jp JSONParser
	wire := []byte(`2117["echo","` + strings.Repeat("x", 32) + `"]`)
	d := jp.NewDecoder()
	for b.Loop() {
		p, err := d.Add(wire, false)
		if err != nil {
			b.Fatal(err)
		}
		args := make([]any, len(p.Args))
		for i, a := range p.Args {
			args[i] = a
		}
		if _, err := jp.Encode(&SocketPacket{Type: SocketPacketAck, ID: p.ID, HasID: true, Data: args}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMsgpackEncode(b *testing.B, p *SocketPacket) {
	b.ReportAllocs()
	var mp MsgpackParser
	for b.Loop() {
		if _, err := mp.Encode(p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMsgpackDecode[T any](b *testing.B, p *SocketPacket) {
	b.ReportAllocs()
	var mp MsgpackParser
	msgs, err := mp.Encode(p)
	if err != nil {
		b.Fatal(err)
	}
	d := mp.NewDecoder()
	for b.Loop() {
		q, err := d.Add(msgs[0].Data, true)
		if err != nil {
			b.Fatal(err)
		}
		var arg T
		if err := q.Args[0].Decode(&arg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgpackEncodeEvent(b *testing.B)       { benchMsgpackEncode(b, &benchEvent) }
func BenchmarkMsgpackEncodeBinaryEvent(b *testing.B) { benchMsgpackEncode(b, &benchBinaryEvent) }
func BenchmarkMsgpackDecodeEvent(b *testing.B)       { benchMsgpackDecode[benchMessage](b, &benchEvent) }
func BenchmarkMsgpackDecodeBinaryEvent(b *testing.B) {
	benchMsgpackDecode[[]byte](b, &benchBinaryEvent)
}
