package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// frame is one Engine.IO message of a Socket.IO packet.
type frame struct {
	data   string
	binary bool
}

func text(s string) frame { return frame{data: s} }

func att(b ...byte) frame { return frame{data: string(b), binary: true} }

func (f frame) String() string {
	if f.binary {
		return fmt.Sprintf("bin%q", f.data)
	}
	return fmt.Sprintf("%q", f.data)
}

func framesOf(msgs []Message) []frame {
	out := make([]frame, len(msgs))
	for i, m := range msgs {
		out[i] = frame{string(m.Data), m.Binary}
	}
	return out
}

// decoded is what a decoded packet should hold, its values decoded into
// any (numbers as float64, attachments as []byte).
type decoded struct {
	typ     SocketPacketType
	ns      string
	id      uint64
	hasID   bool
	event   string
	args    []any
	payload any // nil: no payload
}

type obj = map[string]any

// socketCases are packets whose encoding matches socket.io-parser 4.x
// byte for byte, and what decoding that encoding gives.
var socketCases = []struct {
	name   string
	packet SocketPacket
	wire   []frame
	want   decoded
}{
	{
		"connect", SocketPacket{Type: SocketPacketConnect},
		[]frame{text("0")},
		decoded{typ: SocketPacketConnect, ns: "/"},
	},
	{
		"connect to /", SocketPacket{Type: SocketPacketConnect, Namespace: "/"},
		[]frame{text("0")},
		decoded{typ: SocketPacketConnect, ns: "/"},
	},
	{
		"connect to a namespace", SocketPacket{Type: SocketPacketConnect, Namespace: "/admin"},
		[]frame{text("0/admin,")},
		decoded{typ: SocketPacketConnect, ns: "/admin"},
	},
	{
		"connect with auth", SocketPacket{Type: SocketPacketConnect, Data: obj{"token": "abc"}},
		[]frame{text(`0{"token":"abc"}`)},
		decoded{typ: SocketPacketConnect, ns: "/", payload: obj{"token": "abc"}},
	},
	{
		"connect to a namespace with auth", SocketPacket{Type: SocketPacketConnect, Namespace: "/admin", Data: obj{"token": "abc"}},
		[]frame{text(`0/admin,{"token":"abc"}`)},
		decoded{typ: SocketPacketConnect, ns: "/admin", payload: obj{"token": "abc"}},
	},
	{
		"connect reply with sid", SocketPacket{Type: SocketPacketConnect, Data: obj{"sid": "wZX3oN0bSVIhsaknAAAI"}},
		[]frame{text(`0{"sid":"wZX3oN0bSVIhsaknAAAI"}`)},
		decoded{typ: SocketPacketConnect, ns: "/", payload: obj{"sid": "wZX3oN0bSVIhsaknAAAI"}},
	},
	{
		"disconnect", SocketPacket{Type: SocketPacketDisconnect},
		[]frame{text("1")},
		decoded{typ: SocketPacketDisconnect, ns: "/"},
	},
	{
		"disconnect from a namespace", SocketPacket{Type: SocketPacketDisconnect, Namespace: "/admin"},
		[]frame{text("1/admin,")},
		decoded{typ: SocketPacketDisconnect, ns: "/admin"},
	},
	{
		"event", SocketPacket{Type: SocketPacketEvent, Data: []any{"hello", 1, obj{"a": "<b>&"}}},
		[]frame{text(`2["hello",1,{"a":"<b>&"}]`)},
		decoded{typ: SocketPacketEvent, ns: "/", event: "hello", args: []any{1.0, obj{"a": "<b>&"}}},
	},
	{
		"event without arguments", SocketPacket{Type: SocketPacketEvent, Data: []any{"ping"}},
		[]frame{text(`2["ping"]`)},
		decoded{typ: SocketPacketEvent, ns: "/", event: "ping"},
	},
	{
		"event with ack id in a namespace", SocketPacket{Type: SocketPacketEvent, Namespace: "/admin", ID: 12, HasID: true, Data: []any{"hello"}},
		[]frame{text(`2/admin,12["hello"]`)},
		decoded{typ: SocketPacketEvent, ns: "/admin", id: 12, hasID: true, event: "hello"},
	},
	{
		"event with ack id 0", SocketPacket{Type: SocketPacketEvent, HasID: true, Data: []any{"a", nil, true}},
		[]frame{text(`20["a",null,true]`)},
		decoded{typ: SocketPacketEvent, ns: "/", hasID: true, event: "a", args: []any{nil, true}},
	},
	{
		"event with the largest ack id", SocketPacket{Type: SocketPacketEvent, ID: 1<<53 - 1, HasID: true, Data: []any{"a"}},
		[]frame{text(`29007199254740991["a"]`)},
		decoded{typ: SocketPacketEvent, ns: "/", id: 1<<53 - 1, hasID: true, event: "a"},
	},
	{
		"ack", SocketPacket{Type: SocketPacketAck, ID: 7, HasID: true, Data: []any{"ok"}},
		[]frame{text(`37["ok"]`)},
		decoded{typ: SocketPacketAck, ns: "/", id: 7, hasID: true, args: []any{"ok"}},
	},
	{
		"empty ack in a namespace", SocketPacket{Type: SocketPacketAck, Namespace: "/admin", HasID: true, Data: []any{}},
		[]frame{text(`3/admin,0[]`)},
		decoded{typ: SocketPacketAck, ns: "/admin", hasID: true},
	},
	{
		"connect error", SocketPacket{Type: SocketPacketConnectError, Data: obj{"message": "Not authorized"}},
		[]frame{text(`4{"message":"Not authorized"}`)},
		decoded{typ: SocketPacketConnectError, ns: "/", payload: obj{"message": "Not authorized"}},
	},
	{
		"connect error string in a namespace", SocketPacket{Type: SocketPacketConnectError, Namespace: "/admin", Data: "nope"},
		[]frame{text(`4/admin,"nope"`)},
		decoded{typ: SocketPacketConnectError, ns: "/admin", payload: "nope"},
	},
	{
		"binary event", SocketPacket{Type: SocketPacketEvent, Data: []any{"x", []byte{1, 2, 3}}},
		[]frame{text(`51-["x",{"_placeholder":true,"num":0}]`), att(1, 2, 3)},
		decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{[]byte{1, 2, 3}}},
	},
	{
		"binary event with two attachments", SocketPacket{Type: SocketPacketEvent, Data: []any{"x", []byte{1}, "y", []byte{2, 3}}},
		[]frame{text(`52-["x",{"_placeholder":true,"num":0},"y",{"_placeholder":true,"num":1}]`), att(1), att(2, 3)},
		decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{[]byte{1}, "y", []byte{2, 3}}},
	},
	{
		"nested binary event with ack id in a namespace", SocketPacket{Type: SocketPacketEvent, Namespace: "/admin", ID: 5, HasID: true,
			Data: []any{"x", []any{[]byte{1}, obj{"b": []any{[]byte{2, 3}}}}}},
		[]frame{text(`52-/admin,5["x",[{"_placeholder":true,"num":0},{"b":[{"_placeholder":true,"num":1}]}]]`), att(1), att(2, 3)},
		decoded{typ: SocketPacketEvent, ns: "/admin", id: 5, hasID: true, event: "x", args: []any{[]any{[]byte{1}, obj{"b": []any{[]byte{2, 3}}}}}},
	},
	{
		"binary ack", SocketPacket{Type: SocketPacketAck, ID: 3, HasID: true, Data: []any{[]byte{9}}},
		[]frame{text(`61-3[{"_placeholder":true,"num":0}]`), att(9)},
		decoded{typ: SocketPacketAck, ns: "/", id: 3, hasID: true, args: []any{[]byte{9}}},
	},
	{
		"binary ack with two attachments in a namespace", SocketPacket{Type: SocketPacketAck, Namespace: "/admin", ID: 4, HasID: true, Data: []any{[]byte{}, "s", []byte{0xff}}},
		[]frame{text(`62-/admin,4[{"_placeholder":true,"num":0},"s",{"_placeholder":true,"num":1}]`), att(), att(0xff)},
		decoded{typ: SocketPacketAck, ns: "/admin", id: 4, hasID: true, args: []any{[]byte{}, "s", []byte{0xff}}},
	},
}

func TestEncodeSocketPacket(t *testing.T) {
	var jp JSONParser
	for _, c := range socketCases {
		t.Run(c.name, func(t *testing.T) {
			msgs, err := jp.Encode(&c.packet)
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, msgs, c.wire)
		})
	}
}

func checkFrames(t *testing.T, msgs []Message, want []frame) {
	t.Helper()
	if got := framesOf(msgs); !reflect.DeepEqual(got, want) {
		t.Fatalf("encoded\n  %v\nwant\n  %v", got, want)
	}
}

func TestDecodeSocketPacket(t *testing.T) {
	var jp JSONParser
	for _, c := range socketCases {
		t.Run(c.name, func(t *testing.T) {
			p := decodeFrames(t, jp.NewDecoder(), c.wire)
			checkDecoded(t, p, c.want)
		})
	}
}

// decodeFrames feeds frames to d and returns the packet the last one
// completes; the frames before it must complete none.
func decodeFrames(t *testing.T, d Decoder, frames []frame) *SocketPacket {
	t.Helper()
	for i, f := range frames {
		p, err := d.Add([]byte(f.data), f.binary)
		if err != nil {
			t.Fatalf("Add(%q, %v): %v", f.data, f.binary, err)
		}
		if last := i == len(frames)-1; last != (p != nil) {
			t.Fatalf("Add(%q, %v) = %v at frame %d of %d", f.data, f.binary, p, i+1, len(frames))
		}
		if p != nil {
			return p
		}
	}
	return nil
}

func checkDecoded(t *testing.T, p *SocketPacket, want decoded) {
	t.Helper()
	if p.Type != want.typ || p.Namespace != want.ns || p.ID != want.id || p.HasID != want.hasID || p.Event != want.event {
		t.Fatalf("decoded {%v %q id=%d/%v event=%q}, want {%v %q id=%d/%v event=%q}",
			p.Type, p.Namespace, p.ID, p.HasID, p.Event, want.typ, want.ns, want.id, want.hasID, want.event)
	}
	if len(p.Args) != len(want.args) {
		t.Fatalf("decoded %d args %s, want %d", len(p.Args), rawArgs(p.Args), len(want.args))
	}
	for i, a := range p.Args {
		var v any
		if err := a.Decode(&v); err != nil {
			t.Fatalf("arg %d: Decode: %v", i, err)
		}
		if !reflect.DeepEqual(v, want.args[i]) {
			t.Fatalf("arg %d = %#v, want %#v", i, v, want.args[i])
		}
	}
	if (p.Payload == nil) != (want.payload == nil) {
		t.Fatalf("payload %v, want %#v", p.Payload, want.payload)
	}
	if p.Payload != nil {
		var v any
		if err := p.Payload.Decode(&v); err != nil {
			t.Fatalf("payload: Decode: %v", err)
		}
		if !reflect.DeepEqual(v, want.payload) {
			t.Fatalf("payload = %#v, want %#v", v, want.payload)
		}
	}
}

func rawArgs(args []Value) string {
	b, _ := json.Marshal(args)
	return string(b)
}

// TestDecodeSocketPacketForms decodes forms the encoder does not write but
// the reference decoder accepts.
func TestDecodeSocketPacketForms(t *testing.T) {
	tests := []struct {
		name string
		wire []frame
		want decoded
	}{
		{"namespace without comma", []frame{text("0/admin")}, decoded{typ: SocketPacketConnect, ns: "/admin"}},
		{"disconnect namespace without comma", []frame{text("1/admin")}, decoded{typ: SocketPacketDisconnect, ns: "/admin"}},
		{"root namespace spelled out", []frame{text(`2/,["a"]`)}, decoded{typ: SocketPacketEvent, ns: "/", event: "a"}},
		{"nested namespace", []frame{text(`2/a/b,["a"]`)}, decoded{typ: SocketPacketEvent, ns: "/a/b", event: "a"}},
		{"namespace with a query-like tail", []frame{text(`0/admin?x=1,{}`)}, decoded{typ: SocketPacketConnect, ns: "/admin?x=1", payload: obj{}}},
		{"connect with ack id", []frame{text(`0/admin,5`)}, decoded{typ: SocketPacketConnect, ns: "/admin", id: 5, hasID: true}},
		{"ack id with leading zeros", []frame{text(`2007["a"]`)}, decoded{typ: SocketPacketEvent, ns: "/", id: 7, hasID: true, event: "a"}},
		{"white space inside the array", []frame{text("2[ \"a\" ,\t1 , [2] ]")}, decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{1.0, []any{2.0}}}},
		{"commas inside values", []frame{text(`2["a",{"b":1,"c":[1,2]},"d,e"]`)}, decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{obj{"b": 1.0, "c": []any{1.0, 2.0}}, "d,e"}}},
		{"brackets inside strings", []frame{text(`2["a","[[[[\"]]]","{"]`)}, decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{`[[[["]]]`, "{"}}},
		{"escaped event name", []frame{text(`2["h\u00e9llo"]`)}, decoded{typ: SocketPacketEvent, ns: "/", event: "héllo"}},
		{"event named like a reserved one", []frame{text(`2["Connect"]`)}, decoded{typ: SocketPacketEvent, ns: "/", event: "Connect"}},
		{"trailing white space", []frame{text("2[\"a\"] \n")}, decoded{typ: SocketPacketEvent, ns: "/", event: "a"}},
		{"empty connect error string", []frame{text(`4""`)}, decoded{typ: SocketPacketConnectError, ns: "/", payload: ""}},
		{"placeholder in a text event stays an object",
			[]frame{text(`2["a",{"_placeholder":true,"num":0}]`)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{obj{"_placeholder": true, "num": 0.0}}}},
		{"attachments out of order",
			[]frame{text(`52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`), att(1), att(2)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{[]byte{2}, []byte{1}}}},
		{"duplicate placeholders share an attachment (as in the reference)",
			[]frame{text(`51-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]`), att(7)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{[]byte{7}, []byte{7}}}},
		{"unreferenced attachment",
			[]frame{text(`52-["a",{"_placeholder":true,"num":0}]`), att(1), att(2)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{[]byte{1}}}},
		{"placeholder with extra keys",
			[]frame{text(`51-["a",{"num":0,"_placeholder":true,"x":1}]`), att(1)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{[]byte{1}}}},
		{"placeholder spelled with escapes (JSON.parse sees the same object)",
			[]frame{text(`51-["a",{"\u005fplaceholder":true,"num":0}]`), att(1)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{[]byte{1}}}},
		{"false placeholder is an object",
			[]frame{text(`51-["a",{"_placeholder":false,"num":0},{"_placeholder":true,"num":0}]`), att(1)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{obj{"_placeholder": false, "num": 0.0}, []byte{1}}}},
		{"ten attachments",
			[]frame{text(`510-["a"` + strings.Repeat(`,{"_placeholder":true,"num":0}`, 10) + `]`),
				att(0), att(1), att(2), att(3), att(4), att(5), att(6), att(7), att(8), att(9)},
			decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{[]byte{0}, []byte{0}, []byte{0}, []byte{0}, []byte{0}, []byte{0}, []byte{0}, []byte{0}, []byte{0}, []byte{0}}}},
		{"depth 32", []frame{text(nestedArrays(31))}, decoded{typ: SocketPacketEvent, ns: "/", event: "x", args: []any{nestedValue(31)}}},
	}
	var jp JSONParser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := decodeFrames(t, jp.NewDecoder(), tt.wire)
			checkDecoded(t, p, tt.want)
		})
	}
}

// nestedArrays returns an event whose argument nests k arrays: the payload
// is nested k+1 deep.
func nestedArrays(k int) string {
	return `2["x",` + strings.Repeat("[", k) + strings.Repeat("]", k) + "]"
}

func nestedValue(k int) any {
	v := []any{}
	for range k - 1 {
		v = []any{v}
	}
	return v
}

func nestedObjects(k int) string {
	return "0" + strings.Repeat(`{"a":`, k-1) + "{}" + strings.Repeat("}", k-1)
}

func TestDecodeHostileSocketPacket(t *testing.T) {
	ph := func(num string) string { return `{"_placeholder":true,"num":` + num + `}` }
	tests := []struct {
		name   string
		parser JSONParser
		wire   []frame // every frame but the last is accepted; the last fails
	}{
		{"empty", JSONParser{}, []frame{text("")}},
		{"type 7", JSONParser{}, []frame{text(`7["a"]`)}},
		{"type 9", JSONParser{}, []frame{text(`9`)}},
		{"letter type", JSONParser{}, []frame{text(`x["a"]`)}},
		{"type below '0'", JSONParser{}, []frame{text(`/["a"]`)}},
		{"event without payload", JSONParser{}, []frame{text(`2`)}},
		{"event with namespace without payload", JSONParser{}, []frame{text(`2/admin,`)}},
		{"event with id without payload", JSONParser{}, []frame{text(`212`)}},
		{"ack without payload", JSONParser{}, []frame{text(`35`)}},
		{"connect error without payload", JSONParser{}, []frame{text(`4`)}},
		{"disconnect with payload", JSONParser{}, []frame{text(`1{}`)}},
		{"disconnect with array", JSONParser{}, []frame{text(`1/admin,["a"]`)}},
		{"connect with array", JSONParser{}, []frame{text(`0["a"]`)}},
		{"connect with string", JSONParser{}, []frame{text(`0"a"`)}},
		{"connect with null", JSONParser{}, []frame{text(`0null`)}},
		{"connect error with array", JSONParser{}, []frame{text(`4["a"]`)}},
		{"connect error with number", JSONParser{}, []frame{text(`4/admin,true`)}},
		{"event with object", JSONParser{}, []frame{text(`2{"a":1}`)}},
		{"event with string", JSONParser{}, []frame{text(`2"a"`)}},
		{"event with empty array", JSONParser{}, []frame{text(`2[]`)}},
		{"event with blank array", JSONParser{}, []frame{text(`2[ ]`)}},
		{"null event name", JSONParser{}, []frame{text(`2[null]`)}},
		{"array event name", JSONParser{}, []frame{text(`2[["a"]]`)}},
		{"object event name", JSONParser{}, []frame{text(`2[{"a":1}]`)}},
		{"ack with object", JSONParser{}, []frame{text(`31{}`)}},
		{"ack with string", JSONParser{}, []frame{text(`31"a"`)}},
		{"leading white space", JSONParser{}, []frame{text(`2 ["a"]`)}},

		{"reserved connect", JSONParser{}, []frame{text(`2["connect"]`)}},
		{"reserved connect_error", JSONParser{}, []frame{text(`2["connect_error",{}]`)}},
		{"reserved disconnect", JSONParser{}, []frame{text(`2/admin,["disconnect"]`)}},
		{"reserved disconnecting", JSONParser{}, []frame{text(`21["disconnecting"]`)}},
		{"reserved newListener", JSONParser{}, []frame{text(`2["newListener","x"]`)}},
		{"reserved removeListener", JSONParser{}, []frame{text(`2["removeListener","x"]`)}},
		{"reserved name with escapes", JSONParser{}, []frame{text(`2["conn\u0065ct"]`)}},
		{"reserved name in a binary event", JSONParser{}, []frame{text(`51-["disconnect",` + ph("0") + `]`)}},

		{"ack id 2^53", JSONParser{}, []frame{text(`29007199254740992["a"]`)}},
		{"ack id 2^53+1 on an ack", JSONParser{}, []frame{text(`3/admin,9007199254740993[]`)}},
		{"ack id 2^64-1", JSONParser{}, []frame{text(`218446744073709551615["a"]`)}},
		{"ack id beyond uint64", JSONParser{}, []frame{text(`218446744073709551616["a"]`)}},
		{"ack id of 40 digits", JSONParser{}, []frame{text(`2` + strings.Repeat("9", 40) + `["a"]`)}},

		{"garbage after JSON", JSONParser{}, []frame{text(`2["a"]garbage`)}},
		{"second array", JSONParser{}, []frame{text(`2["a"]["b"]`)}},
		{"second object", JSONParser{}, []frame{text(`0{}{}`)}},
		{"extra bracket", JSONParser{}, []frame{text(`2["a"]]`)}},
		{"unterminated array", JSONParser{}, []frame{text(`2["a"`)}},
		{"unterminated string", JSONParser{}, []frame{text(`2["a]`)}},
		{"trailing comma", JSONParser{}, []frame{text(`2["a",]`)}},
		{"missing value", JSONParser{}, []frame{text(`0{"a":}`)}},
		{"single quotes", JSONParser{}, []frame{text(`2['a']`)}},
		{"namespace without payload separator", JSONParser{}, []frame{text(`2admin,["a"]`)}},
		{"invalid UTF-8 outside strings", JSONParser{}, []frame{text("2[\"a\",\xff]")}},

		{"depth 33", JSONParser{}, []frame{text(nestedArrays(32))}},
		{"objects 33 deep", JSONParser{}, []frame{text(nestedObjects(33))}},
		{"depth 100000", JSONParser{}, []frame{text(nestedArrays(100000))}},
		{"depth above a smaller MaxDepth", JSONParser{MaxDepth: 2}, []frame{text(`2["x",[[1]]]`)}},

		{"binary without count", JSONParser{}, []frame{text(`5-["a",` + ph("0") + `]`)}},
		{"binary without dash", JSONParser{}, []frame{text(`5["a",` + ph("0") + `]`)}},
		{"binary count letter", JSONParser{}, []frame{text(`5a-["a",` + ph("0") + `]`)}},
		{"binary count sign", JSONParser{}, []frame{text(`5+1-["a",` + ph("0") + `]`)}},
		{"binary count space", JSONParser{}, []frame{text(`5 1-["a",` + ph("0") + `]`)}},
		{"binary count zero", JSONParser{}, []frame{text(`50-["a"]`)}},
		{"binary ack without count", JSONParser{}, []frame{text(`6-1[]`)}},
		{"binary count 11", JSONParser{}, []frame{text(`511-["a"]`)}},
		{"binary count 9999", JSONParser{}, []frame{text(`59999-["a"]`)}},
		{"binary count of 5 digits", JSONParser{}, []frame{text(`599999-["a"]`)}},
		{"binary count of 30 digits", JSONParser{}, []frame{text(`5` + strings.Repeat("9", 30) + `-["a"]`)}},
		{"binary count above a smaller MaxAttachments", JSONParser{MaxAttachments: 1}, []frame{text(`52-["a",` + ph("0") + `,` + ph("1") + `]`)}},
		{"binary event with object", JSONParser{}, []frame{text(`51-{"a":` + ph("0") + `}`)}},
		{"binary event with bad JSON", JSONParser{}, []frame{text(`51-["a",` + ph("0"))}},

		{"binary frame first", JSONParser{}, []frame{att(1, 2)}},
		{"empty binary frame first", JSONParser{}, []frame{att()}},
		{"binary frame after a text packet", JSONParser{}, []frame{text(`2["a"]`), att(1)}},
		{"binary frame after a complete binary packet", JSONParser{}, []frame{text(`51-["a",` + ph("0") + `]`), att(1), att(2)}},
		{"text while attachments are expected", JSONParser{}, []frame{text(`51-["a",` + ph("0") + `]`), text(`2["b"]`)}},
		{"text between attachments", JSONParser{}, []frame{text(`52-["a",` + ph("0") + `,` + ph("1") + `]`), att(1), text(`2["b"]`)}},

		{"placeholder beyond the attachments", JSONParser{}, []frame{text(`51-["a",` + ph("1") + `]`), att(1)}},
		{"placeholder far beyond", JSONParser{}, []frame{text(`52-["a",` + ph("0") + `,` + ph("1000000") + `]`), att(1), att(2)}},
		{"negative placeholder", JSONParser{}, []frame{text(`51-["a",` + ph("-1") + `]`), att(1)}},
		{"fractional placeholder", JSONParser{}, []frame{text(`51-["a",` + ph("0.5") + `]`), att(1)}},
		{"string placeholder", JSONParser{}, []frame{text(`51-["a",` + ph(`"0"`) + `]`), att(1)}},
		{"null placeholder", JSONParser{}, []frame{text(`51-["a",` + ph("null") + `]`), att(1)}},
		{"huge placeholder", JSONParser{}, []frame{text(`51-["a",` + ph("1e300") + `]`), att(1)}},
		{"placeholder 2^64", JSONParser{}, []frame{text(`51-["a",` + ph("18446744073709551616") + `]`), att(1)}},
		{"placeholder without num", JSONParser{}, []frame{text(`51-["a",{"_placeholder":true}]`), att(1)}},
		{"bad placeholder deep inside", JSONParser{}, []frame{text(`51-["a",` + ph("0") + `,{"b":[[{"c":` + ph("2") + `}]]}]`), att(1)}},
		{"bad placeholder in a binary ack", JSONParser{}, []frame{text(`61-7[` + ph("3") + `]`), att(1)}},
		{"bad placeholder spelled with escapes", JSONParser{}, []frame{text(`51-["a",{"\u005fplaceholder":true,"num":1}]`), att(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.parser.NewDecoder()
			for i, f := range tt.wire {
				p, err := d.Add([]byte(f.data), f.binary)
				if i < len(tt.wire)-1 {
					if err != nil {
						t.Fatalf("frame %d (%.40q): unexpected error %v", i+1, f.data, err)
					}
					continue
				}
				if !errors.Is(err, ErrInvalidSocketPacket) || p != nil {
					t.Fatalf("frame %d (%.40q): got %v, %v; want ErrInvalidSocketPacket", i+1, f.data, p, err)
				}
			}
		})
	}
}

// TestDecodeIncompleteBinaryPacket checks that a packet is held back until
// its last attachment arrives.
func TestDecodeIncompleteBinaryPacket(t *testing.T) {
	d := (&JSONParser{}).NewDecoder()
	p, err := d.Add([]byte(`53-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`), false)
	if p != nil || err != nil {
		t.Fatalf("header: %v, %v; want nil, nil", p, err)
	}
	for i := range 2 {
		if p, err := d.Add([]byte{byte(i)}, true); p != nil || err != nil {
			t.Fatalf("attachment %d: %v, %v; want nil, nil", i, p, err)
		}
	}
	p, err = d.Add([]byte{2}, true)
	if err != nil || p == nil {
		t.Fatalf("last attachment: %v, %v", p, err)
	}
	checkDecoded(t, p, decoded{typ: SocketPacketEvent, ns: "/", event: "a", args: []any{[]byte{0}, []byte{1}, []byte{2}}})

	// The decoder is ready for the next packet.
	p, err = d.Add([]byte(`2["b"]`), false)
	if err != nil || p == nil || p.Event != "b" {
		t.Fatalf("next packet: %v, %v", p, err)
	}
}

func TestDecodersAreIndependent(t *testing.T) {
	var jp JSONParser
	d1, d2 := jp.NewDecoder(), jp.NewDecoder()
	if p, err := d1.Add([]byte(`51-["a",{"_placeholder":true,"num":0}]`), false); p != nil || err != nil {
		t.Fatal(p, err)
	}
	if p, err := d2.Add([]byte(`2["b"]`), false); p == nil || err != nil {
		t.Fatalf("second decoder: %v, %v", p, err)
	}
	if _, err := d2.Add([]byte{1}, true); !errors.Is(err, ErrInvalidSocketPacket) {
		t.Fatalf("second decoder took an attachment the first expects: %v", err)
	}
	if p, err := d1.Add([]byte{1}, true); p == nil || err != nil {
		t.Fatalf("first decoder: %v, %v", p, err)
	}
}

func TestValueDecodeIntoTypes(t *testing.T) {
	type upload struct {
		Name  string   `json:"name"`
		Body  []byte   `json:"body"`
		Parts [][]byte `json:"parts"`
	}
	d := (&JSONParser{}).NewDecoder()
	frames := []frame{
		text(`53-["upload",{"name":"a.txt","body":{"_placeholder":true,"num":0},"parts":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]},"plain",7]`),
		att('h', 'i'), att(1), att(2),
	}
	p := decodeFrames(t, d, frames)
	var u upload
	if err := p.Args[0].Decode(&u); err != nil {
		t.Fatal(err)
	}
	want := upload{Name: "a.txt", Body: []byte("hi"), Parts: [][]byte{{1}, {2}}}
	if !reflect.DeepEqual(u, want) {
		t.Fatalf("Decode = %+v, want %+v", u, want)
	}
	var b []byte
	if err := p.Args[0].Decode(&b); err == nil {
		t.Fatalf("decoding an object into []byte succeeded: %q", b)
	}
	var s string
	var n int
	if err := p.Args[1].Decode(&s); err != nil || s != "plain" {
		t.Fatalf("arg 1: %q, %v", s, err)
	}
	if err := p.Args[2].Decode(&n); err != nil || n != 7 {
		t.Fatalf("arg 2: %d, %v", n, err)
	}
	if err := p.Args[2].Decode(&s); err == nil {
		t.Fatal("decoding a number into a string succeeded")
	}

	// A value marshals back as it came, placeholders included.
	raw, err := json.Marshal(p.Args[0])
	if err != nil || !bytes.HasPrefix(raw, []byte(`{"name":"a.txt","body":{"_placeholder":true,"num":0}`)) {
		t.Fatalf("MarshalJSON = %s, %v", raw, err)
	}

	// An attachment decodes straight into []byte.
	p = decodeFrames(t, d, []frame{text(`61-1[{"_placeholder":true,"num":0}]`), att(5, 6)})
	if err := p.Args[0].Decode(&b); err != nil || !bytes.Equal(b, []byte{5, 6}) {
		t.Fatalf("[]byte arg = %v, %v", b, err)
	}
}

func TestEncodeStructs(t *testing.T) {
	type file struct {
		Name   string   `json:"name"`
		Body   []byte   `json:"body"`
		Thumb  []byte   `json:"thumb,omitempty"`
		Secret []byte   `json:"-"`
		Size   int      `json:"size"`
		Next   *file    `json:"next,omitempty"`
		Any    any      `json:"any,omitempty"`
		Parts  [][]byte `json:"parts,omitempty"`
	}
	type plain struct {
		Name string `json:"name"`
		N    int
	}
	tests := []struct {
		name string
		data []any
		wire []frame
	}{
		{"struct without binary keeps its field order", []any{"m", plain{"a", 1}},
			[]frame{text(`2["m",{"name":"a","N":1}]`)}},
		{"pointer to struct without binary", []any{"m", &plain{"a", 1}},
			[]frame{text(`2["m",{"name":"a","N":1}]`)}},
		{"struct with binary", []any{"upload", file{Name: "a", Body: []byte{1}, Secret: []byte{9}, Size: 1}},
			[]frame{text(`51-["upload",{"body":{"_placeholder":true,"num":0},"name":"a","size":1}]`), att(1)}},
		{"nested structs in field order", []any{"upload", &file{Name: "a", Body: []byte{1}, Thumb: []byte{2}, Next: &file{Body: []byte{3}}}},
			[]frame{text(`53-["upload",{"body":{"_placeholder":true,"num":0},"name":"a","next":{"body":{"_placeholder":true,"num":2},"name":"","size":0},"size":0,"thumb":{"_placeholder":true,"num":1}}]`), att(1), att(2), att(3)}},
		// A nil []byte field is an empty attachment, like a nil []byte
		// argument.
		{"binary in an interface field", []any{"upload", file{Any: []byte{4}, Parts: [][]byte{{5}, {6}}}},
			[]frame{text(`54-["upload",{"any":{"_placeholder":true,"num":1},"body":{"_placeholder":true,"num":0},"name":"","parts":[{"_placeholder":true,"num":2},{"_placeholder":true,"num":3}],"size":0}]`), att(), att(4), att(5), att(6)}},
		{"slice of []byte", []any{"x", [][]byte{{1}, {2}}},
			[]frame{text(`52-["x",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]`), att(1), att(2)}},
		{"pointer to []byte", []any{"x", &[]byte{1}},
			[]frame{text(`51-["x",{"_placeholder":true,"num":0}]`), att(1)}},
		{"map of []byte", []any{"x", map[string][]byte{"k": {1}}},
			[]frame{text(`51-["x",{"k":{"_placeholder":true,"num":0}}]`), att(1)}},
		{"nil []byte is an empty attachment", []any{"x", []byte(nil)},
			[]frame{text(`51-["x",{"_placeholder":true,"num":0}]`), att()}},
		{"json.RawMessage is JSON", []any{"x", json.RawMessage(`{"a":[1]}`)},
			[]frame{text(`2["x",{"a":[1]}]`)}},
		{"byte array is numbers", []any{"x", [2]byte{1, 2}},
			[]frame{text(`2["x",[1,2]]`)}},
		{"typed slice of strings", []any{"x", []string{"a", "b"}},
			[]frame{text(`2["x",["a","b"]]`)}},
		{"no HTML escaping", []any{"x", "<a href='&'>"},
			[]frame{text(`2["x","<a href='&'>"]`)}},
	}
	var jp JSONParser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := jp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: tt.data})
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, msgs, tt.wire)
		})
	}
}

type Meta struct {
	Kind string `json:"kind"`
	Raw  []byte `json:"raw"`
}

func TestEncodeEmbeddedStructs(t *testing.T) {
	type flat struct {
		Meta
		Body   []byte `json:"body"`
		secret []byte
	}
	type viaPointer struct {
		*Meta
		Body []byte `json:"body"`
	}
	type named struct {
		Meta `json:"meta"`
		N    int `json:"n"`
	}
	tests := []struct {
		name string
		arg  any
		wire []frame
	}{
		{"embedded fields are flattened", flat{Meta{"k", []byte{1}}, []byte{2}, []byte{3}},
			[]frame{text(`52-["m",{"body":{"_placeholder":true,"num":1},"kind":"k","raw":{"_placeholder":true,"num":0}}]`), att(1), att(2)}},
		{"embedded pointer", viaPointer{&Meta{"k", []byte{1}}, []byte{2}},
			[]frame{text(`52-["m",{"body":{"_placeholder":true,"num":1},"kind":"k","raw":{"_placeholder":true,"num":0}}]`), att(1), att(2)}},
		{"nil embedded pointer", viaPointer{nil, []byte{2}},
			[]frame{text(`51-["m",{"body":{"_placeholder":true,"num":0}}]`), att(2)}},
		{"tagged embedded struct is a field", named{Meta{"k", []byte{1}}, 5},
			[]frame{text(`51-["m",{"meta":{"kind":"k","raw":{"_placeholder":true,"num":0}},"n":5}]`), att(1)}},
	}
	var jp JSONParser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := jp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"m", tt.arg}})
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, msgs, tt.wire)
		})
	}
}

func TestEncodeDoesNotChangeData(t *testing.T) {
	inner := map[string]any{"b": []byte{2}, "s": "x"}
	list := []any{[]byte{3}}
	data := []any{"x", []byte{1}, inner, list}
	if _, err := (&JSONParser{}).Encode(&SocketPacket{Type: SocketPacketEvent, Data: data}); err != nil {
		t.Fatal(err)
	}
	want := []any{"x", []byte{1}, map[string]any{"b": []byte{2}, "s": "x"}, []any{[]byte{3}}}
	if !reflect.DeepEqual(data, want) {
		t.Fatalf("Encode changed its input to %#v", data)
	}
}

// TestEncodeMapAttachments checks that attachments found in map order (not
// fixed) still pair with their placeholders.
func TestEncodeMapAttachments(t *testing.T) {
	data := []any{"x", map[string]any{"a": []byte("A"), "b": []byte("B"), "c": []byte("C"), "d": "D"}}
	for range 20 {
		msgs, err := (&JSONParser{}).Encode(&SocketPacket{Type: SocketPacketEvent, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		frames := framesOf(msgs)
		if len(msgs) != 4 || !strings.HasPrefix(string(msgs[0].Data), "53-[") {
			t.Fatalf("encoded %v", frames)
		}
		p := decodeFrames(t, (&JSONParser{}).NewDecoder(), frames)
		checkDecoded(t, p, decoded{typ: SocketPacketEvent, ns: "/", event: "x",
			args: []any{obj{"a": []byte("A"), "b": []byte("B"), "c": []byte("C"), "d": "D"}}})
	}
}

func TestEncodeConnectKeepsBinaryAsJSON(t *testing.T) {
	// Only EVENT and ACK carry attachments; the reference encoder does the
	// same.
	msgs, err := (&JSONParser{}).Encode(&SocketPacket{Type: SocketPacketConnect, Data: obj{"k": []byte{1}}})
	if err != nil {
		t.Fatal(err)
	}
	checkFrames(t, msgs, []frame{text(`0{"k":"AQ=="}`)})
}

func TestEncodeError(t *testing.T) {
	for _, data := range []any{
		[]any{"x", make(chan int)},
		[]any{"x", func() {}},
		[]any{"x", []byte{1}, make(chan int)},
	} {
		if msgs, err := (&JSONParser{}).Encode(&SocketPacket{Type: SocketPacketEvent, Data: data}); err == nil {
			t.Errorf("Encode(%#v) = %v, want an error", data, framesOf(msgs))
		}
	}
}

func TestReservedEvents(t *testing.T) {
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if !IsReservedEvent(name) {
			t.Errorf("IsReservedEvent(%q) = false", name)
		}
	}
	for _, name := range []string{"message", "Connect", "", "connection", "error", "ping"} {
		if IsReservedEvent(name) {
			t.Errorf("IsReservedEvent(%q) = true", name)
		}
	}
}

func TestSocketPacketType(t *testing.T) {
	names := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}
	for i, name := range names {
		if got := SocketPacketType(i).String(); got != name {
			t.Errorf("SocketPacketType(%d) = %q, want %q", i, got, name)
		}
	}
	if got := SocketPacketType(7).String(); got != "SocketPacketType(7)" {
		t.Errorf("SocketPacketType(7) = %q", got)
	}
}

func TestDecodeErrorsWrapSentinel(t *testing.T) {
	_, err := (&JSONParser{}).NewDecoder().Add([]byte(`2["connect"]`), false)
	if !errors.Is(err, ErrInvalidSocketPacket) || err.Error() == ErrInvalidSocketPacket.Error() {
		t.Fatalf("err = %v, want ErrInvalidSocketPacket with a reason", err)
	}
}

// Numbers are accepted as event names, named by their JavaScript text, as
// the reference parser accepts them.
func TestNumericEventNames(t *testing.T) {
	cases := []struct{ wire, name string }{
		{`2[1,"a"]`, "1"},
		{`2[-2.5]`, "-2.5"},
		{`2[1e21]`, "1e+21"},
		{`2[0.0000001]`, "1e-7"},
		{`2[1.0]`, "1"},
	}
	for _, c := range cases {
		p, err := (&JSONParser{}).NewDecoder().Add([]byte(c.wire), false)
		if err != nil || p.Event != c.name {
			t.Errorf("%s: event %q, %v; want %q", c.wire, eventOf(p), err, c.name)
		}
	}
	var mp MsgpackParser
	msgs, err := mp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{7, "x"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := mp.NewDecoder().Add(msgs[0].Data, true)
	if err != nil || p.Event != "7" || len(p.Args) != 1 {
		t.Fatalf("msgpack numeric event: %+v, %v", p, err)
	}
}

func eventOf(p *SocketPacket) string {
	if p == nil {
		return ""
	}
	return p.Event
}

// A cyclic value is an error from Encode, not a stack overflow.
func TestEncodeCyclicValue(t *testing.T) {
	m := map[string]any{"b": []byte{1}}
	m["self"] = m
	if _, err := (&JSONParser{}).Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"x", m}}); err == nil {
		t.Fatal("a cyclic value encoded")
	}
}
