package parser

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

type payloadCase struct {
	name    string
	wire    string
	packets []Packet
}

func msg(s string) Packet { return Packet{Type: PacketMessage, Data: []byte(s)} }

func bin(b ...byte) Packet { return Packet{Type: PacketMessage, Data: b, Binary: true} }

// v4PayloadCases are v4 polling bodies as engine.io-parser 5.x writes them.
var v4PayloadCases = []payloadCase{
	{"one message", "4hello", []Packet{msg("hello")}},
	{"two messages", "4hello\x1e4world", []Packet{msg("hello"), msg("world")}},
	{"text, base64 and ping", "4hello\x1ebAQID\x1e2", []Packet{msg("hello"), bin(1, 2, 3), {Type: PacketPing}}},
	{"control packets", "2\x1e2probe\x1e6\x1e1", []Packet{{Type: PacketPing}, {Type: PacketPing, Data: []byte("probe")}, {Type: PacketNoop}, {Type: PacketClose}}},
	{"empty messages", "4\x1e4", []Packet{msg(""), msg("")}},
	{"empty binary", "b\x1eb", []Packet{bin(), bin()}},
	{"utf-8", "4héllo\x1e4😀", []Packet{msg("héllo"), msg("😀")}},
	{"message holding v3 syntax", "46:4hello\x1e4\x00\x01\xff", []Packet{msg("6:4hello"), msg("\x00\x01\xff")}},
}

// v3TextPayloadCases are v3 text polling bodies as engine.io-parser 2.x
// writes them: lengths count UTF-16 code units.
var v3TextPayloadCases = []payloadCase{
	{"one message", "6:4hello", []Packet{msg("hello")}},
	{"two messages", "6:4hello6:4world", []Packet{msg("hello"), msg("world")}},
	{"non-BMP counts two", "3:4😀", []Packet{msg("😀")}},
	{"é counts one", "2:4é", []Packet{msg("é")}},
	{"mixed widths", "3:4😀2:4é", []Packet{msg("😀"), msg("é")}},
	{"ten units", "10:4é😀abcdef", []Packet{msg("é😀abcdef")}},
	{"base64 message", "6:b4AQID", []Packet{bin(1, 2, 3)}},
	{"text and base64", "6:4hello6:b4AQID", []Packet{msg("hello"), bin(1, 2, 3)}},
	{"ping and probe", "1:26:2probe", []Packet{{Type: PacketPing}, {Type: PacketPing, Data: []byte("probe")}}},
	{"empty message", "1:4", []Packet{msg("")}},
	{"no packets", "0:", nil},
	{"data holding colons and digits", "7:412:3:41:4", []Packet{msg("12:3:4"), msg("")}},
}

// v3BinaryPayloadCases are v3 binary polling bodies (octet-stream): 0x00 or
// 0x01, the length one digit per byte, 0xff, the packet.
var v3BinaryPayloadCases = []payloadCase{
	{"string and binary", "\x00\x07\xff4héllo\x01\x04\xff\x04\x01\x02\x03", []Packet{msg("héllo"), bin(1, 2, 3)}},
	{"one binary", "\x01\x04\xff\x04\x01\x02\x03", []Packet{bin(1, 2, 3)}},
	{"empty binary", "\x01\x01\xff\x04", []Packet{bin()}},
	{"two digit length", "\x01\x01\x01\xff\x04abcdefghij", []Packet{bin([]byte("abcdefghij")...)}},
	{"binary ping", "\x01\x01\xff\x02", []Packet{{Type: PacketPing, Data: []byte{}, Binary: true}}},
	{"binary then string", "\x01\x02\xff\x04\x00\x00\x06\xff2probe", []Packet{bin(0), {Type: PacketPing, Data: []byte("probe")}}},
	{"string holding 0xff", "\x00\x03\xff4\xff\xff\x01\x01\xff\x04", []Packet{msg("\xff\xff"), bin()}},
}

// v3BinaryDecodeOnly are valid binary bodies that the encoder writes in
// another form.
var v3BinaryDecodeOnly = []payloadCase{
	{"strings only", "\x00\x06\xff4hello\x00\x01\xff2", []Packet{msg("hello"), {Type: PacketPing}}},
	{"base64 in a string entry", "\x00\x06\xffb4AQID", []Packet{bin(1, 2, 3)}},
	{"leading zero digit", "\x00\x00\x01\xff3", []Packet{{Type: PacketPong}}},
}

func collect(decode func(fn func(Packet) error) error) ([]Packet, error) {
	var out []Packet
	err := decode(func(p Packet) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

func checkPackets(t *testing.T, what string, got, want []Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d packets %s, want %d %s", what, len(got), fmtPackets(got), len(want), fmtPackets(want))
	}
	for i := range got {
		if !samePacket(got[i], want[i]) {
			t.Fatalf("%s: packet %d = %s, want %s", what, i, fmtPacket(got[i]), fmtPacket(want[i]))
		}
	}
}

func fmtPackets(ps []Packet) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmtPacket(p)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestPayloadV4(t *testing.T) {
	for _, c := range v4PayloadCases {
		t.Run(c.name, func(t *testing.T) {
			if got := AppendPayload(nil, c.packets); string(got) != c.wire {
				t.Errorf("AppendPayload = %q, want %q", got, c.wire)
			}
			got, err := collect(func(fn func(Packet) error) error { return DecodePayload([]byte(c.wire), fn) })
			if err != nil {
				t.Fatalf("DecodePayload(%q): %v", c.wire, err)
			}
			checkPackets(t, "DecodePayload", got, c.packets)
		})
	}
}

func TestPayloadV3Text(t *testing.T) {
	for _, c := range v3TextPayloadCases {
		t.Run(c.name, func(t *testing.T) {
			// The text form is also what a client that supports binary gets
			// when no packet is binary.
			for _, supportsBinary := range []bool{false, !hasBinary(c.packets)} {
				got, isBinary := AppendPayloadV3(nil, c.packets, supportsBinary)
				if string(got) != c.wire || isBinary {
					t.Errorf("AppendPayloadV3(supportsBinary=%v) = %q, %v; want %q, false", supportsBinary, got, isBinary, c.wire)
				}
			}
			got, err := collect(func(fn func(Packet) error) error { return DecodePayloadV3([]byte(c.wire), false, fn) })
			if err != nil {
				t.Fatalf("DecodePayloadV3(%q): %v", c.wire, err)
			}
			checkPackets(t, "DecodePayloadV3", got, c.packets)
		})
	}
}

func TestPayloadV3Binary(t *testing.T) {
	for _, c := range v3BinaryPayloadCases {
		t.Run(c.name, func(t *testing.T) {
			got, isBinary := AppendPayloadV3(nil, c.packets, true)
			if string(got) != c.wire || !isBinary {
				t.Errorf("AppendPayloadV3 = %q, %v; want %q, true", got, isBinary, c.wire)
			}
			decoded, err := collect(func(fn func(Packet) error) error { return DecodePayloadV3([]byte(c.wire), true, fn) })
			if err != nil {
				t.Fatalf("DecodePayloadV3(%q): %v", c.wire, err)
			}
			checkPackets(t, "DecodePayloadV3", decoded, c.packets)
		})
	}
	for _, c := range v3BinaryDecodeOnly {
		t.Run(c.name, func(t *testing.T) {
			decoded, err := collect(func(fn func(Packet) error) error { return DecodePayloadV3([]byte(c.wire), true, fn) })
			if err != nil {
				t.Fatalf("DecodePayloadV3(%q): %v", c.wire, err)
			}
			checkPackets(t, "DecodePayloadV3", decoded, c.packets)
		})
	}
}

func TestAppendPayloadKeepsPrefix(t *testing.T) {
	packets := []Packet{msg("é"), bin(1)}
	if got := AppendPayload([]byte("xy"), packets); string(got) != "xy4é\x1ebAQ==" {
		t.Errorf("AppendPayload = %q", got)
	}
	if got, _ := AppendPayloadV3([]byte("xy"), packets, false); string(got) != "xy2:4é6:b4AQ==" {
		t.Errorf("AppendPayloadV3 text = %q", got)
	}
	if got, _ := AppendPayloadV3([]byte("xy"), packets, true); string(got) != "xy\x00\x03\xff4é\x01\x02\xff\x04\x01" {
		t.Errorf("AppendPayloadV3 binary = %q", got)
	}
	if got, _ := AppendPayloadV3([]byte("xy"), nil, true); string(got) != "xy0:" {
		t.Errorf("AppendPayloadV3 empty = %q", got)
	}
}

// TestAppendPayloadV3LongPrefix moves a packet behind a prefix longer than
// the packet itself.
func TestAppendPayloadV3LongPrefix(t *testing.T) {
	data := strings.Repeat("😀", 5000) // 10000 units, a five digit prefix
	got, _ := AppendPayloadV3(nil, []Packet{msg(data), msg("")}, false)
	if want := "10001:4" + data + "1:4"; string(got) != want {
		t.Fatalf("AppendPayloadV3 = %.20q..., want %.20q...", got, want)
	}
}

type malformedPayload struct {
	name string
	wire string
	seen int // packets fn sees before the error
}

func TestDecodeMalformedPayload(t *testing.T) {
	v4 := []malformedPayload{
		{"empty", "", 0},
		{"only a separator", "\x1e", 0},
		{"trailing separator", "4a\x1e", 1},
		{"leading separator", "\x1e4a", 0},
		{"two separators", "4a\x1e\x1e4b", 1},
		{"bad type", "4a\x1e7", 1},
		{"bad base64", "4a\x1eb!!\x1e4b", 1},
		{"letter", "x", 0},
	}
	for _, tt := range v4 {
		t.Run("v4 "+tt.name, func(t *testing.T) {
			got, err := collect(func(fn func(Packet) error) error { return DecodePayload([]byte(tt.wire), fn) })
			if !errors.Is(err, ErrInvalidPayload) || len(got) != tt.seen {
				t.Fatalf("DecodePayload(%q) saw %d packets, err %v; want %d, ErrInvalidPayload", tt.wire, len(got), err, tt.seen)
			}
		})
	}
	v3Text := []malformedPayload{
		{"empty", "", 0},
		{"colon only", ":", 0},
		{"no colon", "6", 0},
		{"no length", ":4a", 0},
		{"letter length", "x:4a", 0},
		{"negative length", "-1:4", 0},
		{"signed length", "+2:4a", 0},
		{"spaced length", " 2:4a", 0},
		{"short", "2:4", 0},
		{"length without packet", "1:", 0},
		{"trailing digits", "6:4hello1", 1},
		{"trailing colon", "6:4hello:", 1},
		{"bad type", "2:7a", 0},
		{"second bad type", "2:4a2:9a", 1},
		{"splits a surrogate pair", "2:4😀", 0},
		{"lone half of a pair", "1:😀", 0},
		{"counts bytes not units", "5:4😀", 0},
		{"é is one unit", "3:4é", 0},
		{"huge length", "999999999:4a", 0},
		{"19 digit length", "9999999999999999999:4a", 0},
		{"base64 without type", "1:b", 0},
		{"bad base64", "7:b4!!!!!", 0},
		{"v4 framing", "4a\x1e4b", 0},
	}
	for _, tt := range v3Text {
		t.Run("v3 text "+tt.name, func(t *testing.T) {
			got, err := collect(func(fn func(Packet) error) error { return DecodePayloadV3([]byte(tt.wire), false, fn) })
			if !errors.Is(err, ErrInvalidPayload) || len(got) != tt.seen {
				t.Fatalf("DecodePayloadV3(%q) saw %d packets, err %v; want %d, ErrInvalidPayload", tt.wire, len(got), err, tt.seen)
			}
		})
	}
	v3Binary := []malformedPayload{
		{"empty", "", 0},
		{"kind 2", "\x02\x01\xff4", 0},
		{"no digits", "\x00\xff4", 0},
		{"no 0xff", "\x00\x01", 0},
		{"only kind", "\x01", 0},
		{"digit above 9", "\x00\x0a\xff4", 0},
		{"ascii digit", "\x00\x31\xff4", 0},
		{"short", "\x00\x02\xff4", 0},
		{"zero length", "\x00\x00\xff", 0},
		{"zero length binary", "\x01\x00\xff", 0},
		{"bad type byte", "\x01\x01\xff\x07", 0},
		{"bad type digit", "\x00\x01\xff7", 0},
		{"string with type byte", "\x00\x01\xff\x04", 0},
		{"bad base64 string", "\x00\x03\xffb4!", 0},
		{"huge length", "\x00\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff4", 0},
		{"19 digits", "\x00" + strings.Repeat("\x09", 19) + "\xff4", 0},
		{"bad second kind", "\x00\x01\xff2\x05", 1},
		{"truncated second", "\x00\x01\xff2\x01\x05\xff\x04", 1},
	}
	for _, tt := range v3Binary {
		t.Run("v3 binary "+tt.name, func(t *testing.T) {
			got, err := collect(func(fn func(Packet) error) error { return DecodePayloadV3([]byte(tt.wire), true, fn) })
			if !errors.Is(err, ErrInvalidPayload) || len(got) != tt.seen {
				t.Fatalf("DecodePayloadV3(%q, binary) saw %d packets, err %v; want %d, ErrInvalidPayload", tt.wire, len(got), err, tt.seen)
			}
		})
	}
}

func TestDecodePayloadStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	for name, decode := range map[string]func(func(Packet) error) error{
		"v4":      func(fn func(Packet) error) error { return DecodePayload([]byte("4a\x1e4b\x1e4c"), fn) },
		"v3 text": func(fn func(Packet) error) error { return DecodePayloadV3([]byte("2:4a2:4b2:4c"), false, fn) },
		"v3 binary": func(fn func(Packet) error) error {
			return DecodePayloadV3([]byte("\x00\x02\xff4a\x00\x02\xff4b\x00\x02\xff4c"), true, fn)
		},
	} {
		seen := 0
		err := decode(func(p Packet) error {
			seen++
			if string(p.Data) == "b" {
				return fmt.Errorf("wrapped: %w", stop)
			}
			return nil
		})
		if !errors.Is(err, stop) || seen != 2 {
			t.Errorf("%s: err %v after %d packets, want stop after 2", name, err, seen)
		}
	}
}

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"4hello", 6},
		{"é", 1},
		{"€", 1},
		{"😀", 2},
		{"a😀é", 4},
		{"\xff", 1},         // invalid byte: one U+FFFD
		{"\xf0\x9f\x98", 3}, // truncated sequence: three U+FFFD
	}
	for _, tt := range tests {
		if got := utf16Len([]byte(tt.in)); got != tt.want {
			t.Errorf("utf16Len(%q) = %d, want %d", tt.in, got, tt.want)
		}
		if size, ok := utf16Prefix([]byte(tt.in+"x"), tt.want); !ok || size != len(tt.in) {
			t.Errorf("utf16Prefix(%q, %d) = %d, %v; want %d, true", tt.in+"x", tt.want, size, ok, len(tt.in))
		}
	}
}

// TestDecodeHugeLengthFailsFast checks that a length prefix is never trusted
// to size an allocation: a body claiming a huge packet fails without
// allocating.
func TestDecodeHugeLengthFailsFast(t *testing.T) {
	fn := func(Packet) error { return nil }
	bodies := []struct {
		name   string
		wire   []byte
		binary bool
	}{
		{"v3 text 9 digits", []byte("999999999:4a"), false},
		{"v3 text 18 digits", []byte("999999999999999999:4a"), false},
		{"v3 text after a packet", []byte("2:4a999999999:4a"), false},
		{"v3 binary 9 digits", []byte("\x01\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff\x04"), true},
		{"v3 binary 18 digits", append(append([]byte{0}, []byte(strings.Repeat("\x09", 18))...), 0xff, '4'), true},
	}
	for _, b := range bodies {
		allocs := testing.AllocsPerRun(100, func() {
			if err := DecodePayloadV3(b.wire, b.binary, fn); !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("%s: err = %v, want ErrInvalidPayload", b.name, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per decode, want 0", b.name, allocs)
		}
	}

	// The same, counted in bytes, for many attempts in a row.
	var before, after runtime.MemStats
	wire := []byte("999999999:4a")
	runtime.ReadMemStats(&before)
	for range 1000 {
		_ = DecodePayloadV3(wire, false, fn)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("1000 decodes of a lying length allocated %d bytes", n)
	}
}

// TestDecodeAllocatesInProportion checks that base64 data is the only thing
// a decoder allocates for, and no more than the input's size.
func TestDecodeAllocatesInProportion(t *testing.T) {
	fn := func(Packet) error { return nil }
	text := []byte(strings.Repeat("4hello\x1e", 9) + "4hello")
	if a := testing.AllocsPerRun(100, func() { _ = DecodePayload(text, fn) }); a != 0 {
		t.Errorf("DecodePayload of text packets: %v allocs, want 0", a)
	}
	v3 := []byte(strings.Repeat("6:4hello", 10))
	if a := testing.AllocsPerRun(100, func() { _ = DecodePayloadV3(v3, false, fn) }); a != 0 {
		t.Errorf("DecodePayloadV3 of text packets: %v allocs, want 0", a)
	}
	b64 := []byte("b" + strings.Repeat("A", 4000))
	var p Packet
	if a := testing.AllocsPerRun(100, func() { p, _ = DecodePacket(b64, false) }); a != 1 {
		t.Errorf("DecodePacket of base64: %v allocs, want 1", a)
	}
	if cap(p.Data) > 3000 {
		t.Errorf("base64 buffer has cap %d for 3000 bytes", cap(p.Data))
	}
}

// TestAppendDoesNotAllocate checks the hot-path encoders with a reused
// buffer.
func TestAppendDoesNotAllocate(t *testing.T) {
	packets := make([]Packet, 10)
	for i := range packets {
		packets[i] = msg(`2["chat message","hello there"]`)
	}
	packets[3] = bin(make([]byte, 100)...)
	buf := make([]byte, 0, 4096)
	tests := map[string]func(){
		"AppendPacket":         func() { buf = AppendPacket(buf[:0], packets[0]) },
		"AppendBase64Packet":   func() { buf = AppendBase64Packet(buf[:0], packets[3], ProtocolV4) },
		"AppendBinaryPacketV3": func() { buf = AppendBinaryPacketV3(buf[:0], packets[3]) },
		"AppendPayload":        func() { buf = AppendPayload(buf[:0], packets) },
		"AppendPayloadV3 text": func() { buf, _ = AppendPayloadV3(buf[:0], packets, false) },
		"AppendPayloadV3 binary": func() {
			buf, _ = AppendPayloadV3(buf[:0], packets, true)
		},
	}
	for name, f := range tests {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocs, want 0", name, a)
		}
	}
}
