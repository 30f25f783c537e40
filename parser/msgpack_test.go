package parser

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// unhex decodes hex written with spaces between the parts.
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Hex spellings of the keys, for reading the tables.
const (
	mpType = "a474797065"
	mpNsp  = "a36e7370"
	mpData = "a464617461"
	mpID   = "a26964"
	mpRoot = "a12f"
	mpX    = "a178"
)

// msgpackCases are packets whose encoding matches socket.io-msgpack-parser
// 3.x (notepack.io) byte for byte, keys in the same order, and what
// decoding that encoding gives. Numbers decode as int64, uint64 or float64.
var msgpackCases = []struct {
	name   string
	packet SocketPacket
	wire   string
	want   decoded
}{
	{"connect", SocketPacket{Type: SocketPacketConnect},
		"82 " + mpType + " 00 " + mpNsp + " " + mpRoot,
		decoded{typ: SocketPacketConnect, ns: "/"}},
	{"connect with auth", SocketPacket{Type: SocketPacketConnect, Namespace: "/admin", Data: obj{"token": "abc"}},
		"83 " + mpType + " 00 " + mpNsp + " a6 2f61646d696e " + mpData + " 81 a5 746f6b656e a3 616263",
		decoded{typ: SocketPacketConnect, ns: "/admin", payload: obj{"token": "abc"}}},
	{"disconnect", SocketPacket{Type: SocketPacketDisconnect, Namespace: "/admin"},
		"82 " + mpType + " 01 " + mpNsp + " a6 2f61646d696e",
		decoded{typ: SocketPacketDisconnect, ns: "/admin"}},
	{"event", SocketPacket{Type: SocketPacketEvent, Data: []any{"hello", 1, -1, 1.5, true, nil, obj{"a": "b"}}},
		"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 97 a5 68656c6c6f 01 ff cb 3ff8000000000000 c3 c0 81 a161 a162",
		decoded{typ: SocketPacketEvent, ns: "/", event: "hello", args: []any{int64(1), int64(-1), 1.5, true, nil, obj{"a": "b"}}}},
	{"event with ack id", SocketPacket{Type: SocketPacketEvent, ID: 12, HasID: true, Data: []any{"hello"}},
		"84 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 91 a5 68656c6c6f " + mpID + " 0c",
		decoded{typ: SocketPacketEvent, ns: "/", id: 12, hasID: true, event: "hello"}},
	{"wide integers and the largest ack id", SocketPacket{Type: SocketPacketEvent, ID: 1<<53 - 1, HasID: true, Data: []any{"x", 300, 70000, 5000000000}},
		"84 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 94 " + mpX + " cd 012c ce 00011170 cf 000000012a05f200 " + mpID + " cf 001fffffffffffff",
		decoded{typ: SocketPacketEvent, ns: "/", id: 1<<53 - 1, hasID: true, event: "x", args: []any{int64(300), int64(70000), int64(5000000000)}}},
	{"binary inline", SocketPacket{Type: SocketPacketEvent, Data: []any{"x", []byte{1, 2, 3}}},
		"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " c4 03 010203",
		decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{[]byte{1, 2, 3}}}},
	{"binary event type is sent as event", SocketPacket{Type: SocketPacketBinaryEvent, Data: []any{"x", []byte{1}}},
		"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " c4 01 01",
		decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{[]byte{1}}}},
	{"ack", SocketPacket{Type: SocketPacketAck, ID: 7, HasID: true, Data: []any{"ok"}},
		"84 " + mpType + " 03 " + mpNsp + " " + mpRoot + " " + mpData + " 91 a2 6f6b " + mpID + " 07",
		decoded{typ: SocketPacketAck, ns: "/", id: 7, hasID: true, args: []any{"ok"}}},
	{"empty ack with id 0", SocketPacket{Type: SocketPacketAck, Namespace: "/admin", HasID: true, Data: []any{}},
		"84 " + mpType + " 03 " + mpNsp + " a6 2f61646d696e " + mpData + " 90 " + mpID + " 00",
		decoded{typ: SocketPacketAck, ns: "/admin", hasID: true}},
	{"connect error", SocketPacket{Type: SocketPacketConnectError, Data: obj{"message": "Not authorized"}},
		"83 " + mpType + " 04 " + mpNsp + " " + mpRoot + " " + mpData + " 81 a7 6d657373616765 ae 4e6f7420617574686f72697a6564",
		decoded{typ: SocketPacketConnectError, ns: "/", payload: obj{"message": "Not authorized"}}},
	{"connect error string", SocketPacket{Type: SocketPacketConnectError, Data: "nope"},
		"83 " + mpType + " 04 " + mpNsp + " " + mpRoot + " " + mpData + " a4 6e6f7065",
		decoded{typ: SocketPacketConnectError, ns: "/", payload: "nope"}},
	{"nested values", SocketPacket{Type: SocketPacketEvent, Data: []any{"x", []any{1, "two", []any{3.25}}}},
		"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " 93 01 a3 74776f 91 cb 400a000000000000",
		decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{[]any{int64(1), "two", []any{3.25}}}}},
	{"str 8 event name", SocketPacket{Type: SocketPacketEvent, Data: []any{strings.Repeat("a", 40)}},
		"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 91 d9 28 " + strings.Repeat("61", 40),
		decoded{typ: SocketPacketEvent, ns: "/", event: strings.Repeat("a", 40)}},
}

func TestMsgpackEncode(t *testing.T) {
	var mp MsgpackParser
	for _, c := range msgpackCases {
		t.Run(c.name, func(t *testing.T) {
			msgs, err := mp.Encode(&c.packet)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || !msgs[0].Binary {
				t.Fatalf("encoded %v, want one binary message", framesOf(msgs))
			}
			if got := hex.EncodeToString(msgs[0].Data); got != hex.EncodeToString(unhex(c.wire)) {
				t.Fatalf("encoded\n  %s\nwant\n  %x", got, unhex(c.wire))
			}
		})
	}
}

func TestMsgpackDecode(t *testing.T) {
	var mp MsgpackParser
	for _, c := range msgpackCases {
		t.Run(c.name, func(t *testing.T) {
			p, err := mp.NewDecoder().Add(unhex(c.wire), true)
			if err != nil {
				t.Fatal(err)
			}
			checkDecoded(t, p, c.want)
		})
	}
}

// TestMsgpackDecodeClientForms decodes what socket.io-client sends with
// the msgpack parser: notepack's extensions and keys in any order.
func TestMsgpackDecodeClientForms(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want decoded
	}{
		{"emit with options, keys in client order",
			"85 " + mpType + " 02 " + mpData + " 92 " + mpX + " 01 a7 6f7074696f6e73 81 a8 636f6d7072657373 c3 " + mpID + " 03 " + mpNsp + " a6 2f61646d696e",
			decoded{typ: SocketPacketEvent, ns: "/admin", id: 3, hasID: true, event: "x", args: []any{int64(1)}}},
		{"ack in server order",
			"84 " + mpType + " 03 " + mpData + " 91 a2 6f6b " + mpID + " 07 " + mpNsp + " " + mpRoot,
			decoded{typ: SocketPacketAck, ns: "/", id: 7, hasID: true, args: []any{"ok"}}},
		{"connect with undefined data",
			"83 " + mpType + " 00 " + mpData + " d4 00 00 " + mpNsp + " " + mpRoot,
			decoded{typ: SocketPacketConnect, ns: "/"}},
		{"null id",
			"84 " + mpType + " 03 " + mpNsp + " " + mpRoot + " " + mpData + " 90 " + mpID + " c0",
			decoded{typ: SocketPacketAck, ns: "/"}},
		{"id as a double",
			"84 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 91 " + mpX + " " + mpID + " cb 4028000000000000",
			decoded{typ: SocketPacketEvent, ns: "/", id: 12, hasID: true, event: "x"}},
		{"type as a double",
			"83 " + mpType + " cb 4000000000000000 " + mpNsp + " " + mpRoot + " " + mpData + " 91 " + mpX,
			decoded{typ: SocketPacketEvent, ns: "/", event: "x"}},
		{"type as uint 8",
			"83 " + mpType + " cc 02 " + mpNsp + " " + mpRoot + " " + mpData + " 91 " + mpX,
			decoded{typ: SocketPacketEvent, ns: "/", event: "x"}},
		{"ArrayBuffer extension is binary",
			"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " c7 03 00 010203",
			decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{[]byte{1, 2, 3}}}},
		{"ArrayBuffer inside an object",
			"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " 81 a1 62 c7 01 00 ff",
			decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{obj{"b": []byte{0xff}}}}},
		{"undefined argument is nil",
			"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " d4 00 00",
			decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{nil}}},
		{"Date is milliseconds",
			"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " d7 00 0000018b cfe5687b",
			decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{int64(1700000000123)}}},
		{"float 32 widens",
			"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " ca 3fc00000",
			decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{1.5}}},
		{"int 16",
			"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " d1 fc18",
			decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{int64(-1000)}}},
		{"bin 16 and map 16",
			"83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 93 " + mpX + " c5 0002 0102 de 0001 a1 6b c2",
			decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{[]byte{1, 2}, obj{"k": false}}}},
	}
	var mp MsgpackParser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mp.NewDecoder().Add(unhex(tt.wire), true)
			if err != nil {
				t.Fatal(err)
			}
			checkDecoded(t, p, tt.want)
		})
	}
}

// mpNested is an event whose argument nests k arrays.
func mpNested(k int) string {
	return "83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " " + strings.Repeat("91 ", k-1) + "90"
}

func TestMsgpackDecodeHostile(t *testing.T) {
	event := func(data string) string {
		return "83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " " + data
	}
	packet := func(typ, data string) string {
		return "83 " + mpType + " " + typ + " " + mpNsp + " " + mpRoot + " " + mpData + " " + data
	}
	withID := func(id string) string {
		return "84 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 91 " + mpX + " " + mpID + " " + id
	}
	tests := []struct {
		name string
		wire string
	}{
		{"empty", ""},
		{"nil", "c0"},
		{"array", "92 02 a12f"},
		{"string", "a3 616263"},
		{"empty map", "80"},
		{"missing type", "82 " + mpNsp + " " + mpRoot + " " + mpData + " 91 " + mpX},
		{"missing nsp", "82 " + mpType + " 02 " + mpData + " 91 " + mpX},
		{"key not a string", "83 01 02 " + mpNsp + " " + mpRoot + " " + mpData + " 91 " + mpX},
		{"type 5", packet("05", "91 "+mpX)},
		{"type 6", packet("06", "91 "+mpX)},
		{"type 127", packet("7f", "91 "+mpX)},
		{"type -1", packet("ff", "91 "+mpX)},
		{"type as string", packet("a1 32", "91 "+mpX)},
		{"type 1.5", packet("cb 3ff8000000000000", "91 "+mpX)},
		{"type 2^64-1", packet("cf ffffffffffffffff", "91 "+mpX)},
		{"type nil", packet("c0", "91 "+mpX)},
		{"nsp a number", "83 " + mpType + " 02 " + mpNsp + " 01 " + mpData + " 91 " + mpX},
		{"nsp nil", "83 " + mpType + " 02 " + mpNsp + " c0 " + mpData + " 91 " + mpX},
		{"id -1", withID("ff")},
		{"id 2^53", withID("cf 0020000000000000")},
		{"id 2^64-1", withID("cf ffffffffffffffff")},
		{"id 1.5", withID("cb 3ff8000000000000")},
		{"id -1.0", withID("cb bff0000000000000")},
		{"id 2^53 as a double", withID("cb 4340000000000000")},
		{"id as string", withID("a1 31")},
		{"id true", withID("c3")},
		{"id undefined", withID("d4 00 00")},
		{"disconnect with data", packet("01", "90")},
		{"connect with array", packet("00", "90")},
		{"connect with string", packet("00", "a1 61")},
		{"connect error without data", "82 " + mpType + " 04 " + mpNsp + " " + mpRoot},
		{"connect error undefined", packet("04", "d4 00 00")},
		{"connect error number", packet("04", "01")},
		{"connect error array", packet("04", "90")},
		{"event without data", "82 " + mpType + " 02 " + mpNsp + " " + mpRoot},
		{"event with map", event("81 a1 61 01")},
		{"event with string", event("a1 61")},
		{"event with empty array", event("90")},
		{"event name nil", event("91 c0")},
		{"event name bin", event("91 c4 01 78")},
		{"event undefined data", event("d4 00 00")},
		{"ack with map", packet("03", "80")},
		{"ack without data", "82 " + mpType + " 03 " + mpNsp + " " + mpRoot},
		{"reserved connect", event("91 a7 636f6e6e656374")},
		{"reserved connect_error", event("91 ad 636f6e6e6563745f6572726f72")},
		{"reserved disconnect", event("91 aa 646973636f6e6e656374")},
		{"reserved disconnecting", event("91 ad 646973636f6e6e656374696e67")},
		{"reserved newListener", event("91 ab 6e65774c697374656e6572")},
		{"reserved removeListener", event("91 ae 72656d6f76654c697374656e6572")},
		{"trailing byte", event("91 " + mpX + " 00")},
		{"truncated", event("92 " + mpX)},
		{"truncated string", event("91 a5 6162")},
		{"map claims 2^32-1 entries", "df ffffffff " + mpType + " 02"},
		{"map claims one entry too many", "84 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 91 " + mpX},
		{"array claims 2^32-1 elements", event("dd ffffffff " + mpX)},
		{"string claims 2^32-1 bytes", event("91 db ffffffff 78")},
		{"key claims 2^32-1 bytes", "81 db ffffffff 74"},
		{"bin claims 2^32-1 bytes", event("92 " + mpX + " c6 ffffffff 00")},
		{"ext claims 2^32-1 bytes", event("92 " + mpX + " c9 ffffffff 00 00")},
		{"fixext 16 truncated", event("92 " + mpX + " d8 00 0102")},
		{"never used byte", event("92 " + mpX + " c1")},
		{"unknown key truncated", "83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " a1 7a dc ffff"},
		{"depth 40", mpNested(40)},
		{"depth 100000", mpNested(100000)},
	}
	var mp MsgpackParser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mp.NewDecoder().Add(unhex(tt.wire), true)
			if !errors.Is(err, ErrInvalidSocketPacket) || p != nil {
				t.Fatalf("Add(%.60s) = %v, %v; want ErrInvalidSocketPacket", tt.wire, p, err)
			}
		})
	}
	t.Run("text message", func(t *testing.T) {
		p, err := mp.NewDecoder().Add(unhex(msgpackCases[0].wire), false)
		if !errors.Is(err, ErrInvalidSocketPacket) || p != nil {
			t.Fatalf("Add(text) = %v, %v; want ErrInvalidSocketPacket", p, err)
		}
	})
}

func TestMsgpackDepth(t *testing.T) {
	var mp MsgpackParser
	// The data array holds an argument nested 31 deep: 32 levels.
	if _, err := mp.NewDecoder().Add(unhex(mpNested(31)), true); err != nil {
		t.Fatalf("32 levels: %v", err)
	}
	small := MsgpackParser{MaxDepth: 2}
	if _, err := small.NewDecoder().Add(unhex(event2("92 "+mpX+" 91 91 90")), true); !errors.Is(err, ErrInvalidSocketPacket) {
		t.Fatalf("4 levels with MaxDepth 2: %v", err)
	}
}

func event2(data string) string {
	return "83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " " + data
}

// TestMsgpackHugeLengthFailsFast checks that lengths are never trusted to
// size an allocation.
func TestMsgpackHugeLengthFailsFast(t *testing.T) {
	var mp MsgpackParser
	d := mp.NewDecoder()
	for _, wire := range []string{
		"df ffffffff " + mpType + " 02",
		event2("dd ffffffff " + mpX),
		event2("dc ffff " + mpX),
		event2("91 db ffffffff 78"),
	} {
		b := unhex(wire)
		// The keys, the packet and the error take a few small allocations;
		// a claimed length must add nothing.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			if _, err := d.Add(b, true); !errors.Is(err, ErrInvalidSocketPacket) {
				t.Fatalf("Add(%s) = %v", wire, err)
			}
		}
		runtime.ReadMemStats(&after)
		if n := (after.TotalAlloc - before.TotalAlloc) / 100; n > 1024 {
			t.Errorf("Add(%s): %d bytes allocated per call", wire, n)
		}
	}
}

func TestMsgpackValueDecodeIntoTypes(t *testing.T) {
	type upload struct {
		Name string `json:"name"`
		Body []byte `json:"body"`
		Size int    `json:"size"`
	}
	var mp MsgpackParser
	msgs, err := mp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"upload", upload{"a", []byte{1, 2}, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !strings.Contains(hex.EncodeToString(msgs[0].Data), "a4626f6479c4020102") {
		t.Fatalf("struct not encoded with its json names and bin: %x", msgs[0].Data)
	}
	p, err := mp.NewDecoder().Add(msgs[0].Data, true)
	if err != nil {
		t.Fatal(err)
	}
	var u upload
	if err := p.Args[0].Decode(&u); err != nil || !reflect.DeepEqual(u, upload{"a", []byte{1, 2}, 2}) {
		t.Fatalf("Decode = %+v, %v", u, err)
	}
	var s string
	if err := p.Args[0].Decode(&s); err == nil {
		t.Fatalf("decoding a map into a string succeeded: %q", s)
	}
}

// Binary values stay []byte and numbers come out widened wherever a
// generic value holds them, as nested maps and arrays of an auth payload or
// an any argument do.
func TestMsgpackValueDecodeGeneric(t *testing.T) {
	var mp MsgpackParser
	msgs, err := mp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"x", map[string]any{
		"bin": []byte{1, 2}, "n": 7, "list": []any{[]byte{3}, 300, map[string]any{"deep": []byte{4}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := mp.NewDecoder().Add(msgs[0].Data, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"bin": []byte{1, 2}, "n": int64(7),
		"list": []any{[]byte{3}, int64(300), map[string]any{"deep": []byte{4}}},
	}
	var v any
	if err := p.Args[0].Decode(&v); err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("Decode(*any) = %#v, %v", v, err)
	}
	var m map[string]any
	if err := p.Args[0].Decode(&m); err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("Decode(*map[string]any) = %#v, %v", m, err)
	}
	var wrapped struct {
		List []any `json:"list"`
	}
	if err := p.Args[0].Decode(&wrapped); err != nil || !reflect.DeepEqual(wrapped.List[2], want["list"].([]any)[2]) {
		t.Fatalf("Decode(struct) = %#v, %v", wrapped, err)
	}
}

func FuzzMsgpackDecoder(f *testing.F) {
	for _, c := range msgpackCases {
		f.Add(unhex(c.wire))
	}
	f.Add(unhex("83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " c7 03 00 010203"))
	f.Add(unhex("83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " d7 00 0000018b cfe5687b"))
	f.Add(unhex("83 " + mpType + " 02 " + mpNsp + " " + mpRoot + " " + mpData + " 92 " + mpX + " 81 01 d4 00 00"))
	f.Add(unhex(mpNested(40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var mp MsgpackParser
		p, err := mp.NewDecoder().Add(data, true)
		if err != nil {
			if !errors.Is(err, ErrInvalidSocketPacket) {
				t.Fatalf("error %v is not ErrInvalidSocketPacket", err)
			}
			return
		}
		if p.Type > SocketPacketConnectError || p.ID > maxAckID || IsReservedEvent(p.Event) || (p.Event != "" && p.Type != SocketPacketEvent) {
			t.Fatalf("decoded %+v", p)
		}
		args, ok := decodeAll(p.Args)
		if !ok {
			return // an extension Go has no type for
		}
		var payload any
		if p.Payload != nil && p.Payload.Decode(&payload) != nil {
			return
		}
		out := &SocketPacket{Type: p.Type, Namespace: p.Namespace, ID: p.ID, HasID: p.HasID}
		switch p.Type {
		case SocketPacketConnect, SocketPacketConnectError:
			out.Data = payload
		case SocketPacketEvent:
			out.Data = append([]any{p.Event}, args...)
		case SocketPacketAck:
			out.Data = append([]any{}, args...)
		}
		msgs, err := mp.Encode(out)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", out, err)
		}
		q, err := mp.NewDecoder().Add(msgs[0].Data, true)
		if err != nil {
			t.Fatalf("%x → %x: %v", data, msgs[0].Data, err)
		}
		if q.Type != p.Type || q.Namespace != p.Namespace || q.ID != p.ID || q.HasID != p.HasID || q.Event != p.Event {
			t.Fatalf("round trip %x: got %+v, want %+v", msgs[0].Data, q, p)
		}
		args2, ok := decodeAll(q.Args)
		if !ok || mpString(args) != mpString(args2) {
			t.Fatalf("round trip %x: args %#v, want %#v", msgs[0].Data, args2, args)
		}
		var payload2 any
		if q.Payload != nil {
			if err := q.Payload.Decode(&payload2); err != nil {
				t.Fatal(err)
			}
		}
		if (q.Payload == nil) != (p.Payload == nil) || mpString(payload) != mpString(payload2) {
			t.Fatalf("round trip %x: payload %#v, want %#v", msgs[0].Data, payload2, payload)
		}
	})
}

// mpString prints a decoded value so that equal values print the same: %#v
// sorts maps and prints NaN as NaN, and non-negative integers are printed
// alike whether they came as int or uint (the encoder picks the smallest
// form, not the type).
func mpString(v any) string {
	var norm func(v any) any
	norm = func(v any) any {
		switch t := v.(type) {
		case int64:
			if t >= 0 {
				return uint64(t)
			}
		case time.Time:
			// A value with its own JSON is sent as that JSON (a timestamp
			// extension decodes to a time.Time, sent on as a string).
			b, _ := t.MarshalJSON()
			var s string
			_ = json.Unmarshal(b, &s)
			return s
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = norm(e)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(t))
			for k, e := range t {
				out[k] = norm(e)
			}
			return out
		}
		return v
	}
	return fmt.Sprintf("%#v", norm(v))
}

func TestMsgpackWellFormed(t *testing.T) {
	for _, tt := range []struct {
		wire string
		want bool
	}{
		{"81 a1 61 01", true},        // {"a": 1}
		{"92 c4 02 0102 a0", true},   // [bin 2, ""]
		{"c6 b167cd00 00", false},    // bin 32 claiming 3 GB
		{"dd ffffffff 01", false},    // array 32 claiming 4G values
		{"df 30303030 a0 a0", false}, // map 32 claiming 808M pairs
		{"c9 00000002 01 aa", false}, // ext 32 one byte short
		{"81 a1 61", false},          // a key without its value
		{"01 02", false},             // two values
		{"c1", false},                // never used
		{"91 91 91 91 01", false},    // deeper than 3
		{"91 91 91 01", true},        // 3 deep
	} {
		if got := MsgpackWellFormed(unhex(tt.wire), 3); got != tt.want {
			t.Errorf("MsgpackWellFormed(%s) = %v, want %v", tt.wire, got, tt.want)
		}
	}
}
