package parser

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// These tests pin down that a binary value is a []byte at any depth, both
// ways and with both parsers, as a Buffer is one at any depth in Node.

type nestInner struct {
	Blob []byte `json:"blob"`
	Any  any    `json:"any"`
}

type nestEmbedded struct {
	Emb []byte `json:"emb"`
}

type nestOuter struct {
	nestEmbedded
	Field   []byte            `json:"field"`
	Ptr     *[]byte           `json:"ptr"`
	Inner   nestInner         `json:"inner"`
	InnerP  *nestInner        `json:"innerP"`
	Typed   map[string][]byte `json:"typed"`
	Generic map[string]any    `json:"generic"`
	List    []any             `json:"list"`
	Array   [2]any            `json:"array"`
	Bytes   [][]byte          `json:"bytes"`
	Any     any               `json:"any"`
}

// nestMarshaler has its own JSON: it is sent as that JSON, bytes and all.
type nestMarshaler struct{ b []byte }

func (m nestMarshaler) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]any{"m": m.b}) }

// roundTrip encodes data (the arguments of an event) with p and decodes
// the packet.
func roundTrip(t *testing.T, p Parser, data ...any) *SocketPacket {
	t.Helper()
	msgs, err := p.Encode(&SocketPacket{Type: SocketPacketEvent, Data: append([]any{"ev"}, data...)})
	if err != nil {
		t.Fatal(err)
	}
	d := p.NewDecoder()
	var pk *SocketPacket
	for _, m := range msgs {
		if pk, err = d.Add(m.Data, m.Binary); err != nil {
			t.Fatal(err)
		}
	}
	if pk == nil {
		t.Fatal("packet incomplete")
	}
	return pk
}

var parsers = []struct {
	name string
	p    Parser
}{{"json", &JSONParser{MaxAttachments: 100}}, {"msgpack", &MsgpackParser{}}}

func b(s string) []byte { return []byte(s) }

// Every []byte of a Go value goes as binary, and decodes into any as a
// []byte, whatever the depth.
func TestEncodeNestedBinary(t *testing.T) {
	ptr := b("ptr")
	src := nestOuter{
		nestEmbedded: nestEmbedded{Emb: b("emb")},
		Field:        b("field"),
		Ptr:          &ptr,
		Inner:        nestInner{Blob: b("inner"), Any: map[string]any{"deep": []any{b("deep")}}},
		InnerP:       &nestInner{Blob: b("innerP")},
		Typed:        map[string][]byte{"k": b("typed")},
		Generic:      map[string]any{"g": b("generic"), "n": 1},
		List:         []any{b("list"), map[string]any{"c": b("c")}},
		Array:        [2]any{b("array"), nil},
		Bytes:        [][]byte{b("bytes")},
		Any:          &nestInner{Blob: b("anyptr")},
	}
	want := map[string]any{
		"emb":     b("emb"),
		"field":   b("field"),
		"ptr":     b("ptr"),
		"inner":   map[string]any{"blob": b("inner"), "any": map[string]any{"deep": []any{b("deep")}}},
		"innerP":  map[string]any{"blob": b("innerP"), "any": nil},
		"typed":   map[string]any{"k": b("typed")},
		"generic": map[string]any{"g": b("generic"), "n": float64(1)},
		"list":    []any{b("list"), map[string]any{"c": b("c")}},
		"array":   []any{b("array"), nil},
		"bytes":   []any{b("bytes")},
		"any":     map[string]any{"blob": b("anyptr"), "any": nil},
	}
	for _, tc := range parsers {
		t.Run(tc.name, func(t *testing.T) {
			pk := roundTrip(t, tc.p, src, nestMarshaler{b("x")})
			var got any
			if err := pk.Args[0].Decode(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(numbersAsFloats(got), want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
			var m any
			if err := pk.Args[1].Decode(&m); err != nil {
				t.Fatal(err)
			}
			if want := map[string]any{"m": "eA=="}; !reflect.DeepEqual(m, want) {
				t.Errorf("marshaler: %#v, want its JSON %#v", m, want)
			}
		})
	}
}

// numbersAsFloats makes the numbers of a generic tree float64, as the two
// parsers give different widths.
func numbersAsFloats(v any) any {
	switch t := v.(type) {
	case int64:
		return float64(t)
	case []any:
		for i, e := range t {
			t[i] = numbersAsFloats(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = numbersAsFloats(e)
		}
	}
	return v
}

// Binary nested in objects and arrays decodes as []byte into every kind
// of destination: any, maps, slices, arrays, structs, pointers.
func TestDecodeNestedBinary(t *testing.T) {
	src := map[string]any{"a": map[string]any{"b": b("ab")}, "list": []any{b("l0"), map[string]any{"c": b("c")}}}
	wantTree := map[string]any{"a": map[string]any{"b": b("ab")}, "list": []any{b("l0"), map[string]any{"c": b("c")}}}
	type typed struct {
		A    map[string][]byte `json:"a"`
		List []any             `json:"list"`
	}
	type anyFields struct {
		A    any `json:"a"`
		List any `json:"list"`
	}
	type embedded struct {
		anyFields
	}
	type AnyFields struct { // exported: encoding/json sets no embedded pointer to an unexported type
		A    any `json:"a"`
		List any `json:"list"`
	}
	type embeddedPtr struct {
		*AnyFields
	}
	type ptrs struct {
		A    *map[string]any `json:"a"`
		List *[2]any         `json:"list"`
	}
	cases := []struct {
		name string
		dst  func() any // a pointer to decode into
		want any        // what it points to afterwards
	}{
		{"any", func() any { return new(any) }, any(wantTree)},
		{"map[string]any", func() any { return new(map[string]any) }, wantTree},
		{"map[string]map[string]any", func() any { return new(map[string]map[string]any) }, nil},
		{"struct of typed fields", func() any { return new(typed) }, typed{A: map[string][]byte{"b": b("ab")}, List: []any{b("l0"), map[string]any{"c": b("c")}}}},
		{"struct of any fields", func() any { return new(anyFields) }, anyFields{A: map[string]any{"b": b("ab")}, List: []any{b("l0"), map[string]any{"c": b("c")}}}},
		{"embedded struct", func() any { return new(embedded) }, embedded{anyFields{A: map[string]any{"b": b("ab")}, List: []any{b("l0"), map[string]any{"c": b("c")}}}}},
		{"embedded pointer", func() any { return new(embeddedPtr) }, embeddedPtr{&AnyFields{A: map[string]any{"b": b("ab")}, List: []any{b("l0"), map[string]any{"c": b("c")}}}}},
		{"pointers and arrays", func() any { return new(ptrs) }, ptrs{A: &map[string]any{"b": b("ab")}, List: &[2]any{b("l0"), map[string]any{"c": b("c")}}}},
	}
	for _, tc := range parsers {
		for _, c := range cases {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				pk := roundTrip(t, tc.p, src)
				dst := c.dst()
				err := pk.Args[0].Decode(dst)
				if c.want == nil { // a type the value does not fit
					if err == nil {
						t.Errorf("no error decoding into %T", dst)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := reflect.ValueOf(dst).Elem().Interface(); !reflect.DeepEqual(got, c.want) {
					t.Errorf("got  %#v\nwant %#v", got, c.want)
				}
			})
		}
	}
	// A list at the top.
	for _, tc := range parsers {
		pk := roundTrip(t, tc.p, []any{b("x"), []any{b("y")}})
		var l []any
		if err := pk.Args[0].Decode(&l); err != nil {
			t.Fatal(err)
		}
		if want := []any{b("x"), []any{b("y")}}; !reflect.DeepEqual(l, want) {
			t.Errorf("%s: []any %#v, want %#v", tc.name, l, want)
		}
	}
}

// nestSelf decodes itself: fillBinary leaves it as its UnmarshalJSON made it.
type nestSelf struct{ got any }

func (s *nestSelf) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &s.got) }

// The JSON parser matches keys to fields as encoding/json does, puts
// attachments into maps of every key type encoding/json reads and into
// map elements, and leaves types that decode themselves alone.
func TestDecodeNestedBinaryJSONRules(t *testing.T) {
	type folded struct {
		Data any // no tag: "DATA" and "data" match it
	}
	type withElems struct {
		ByInt  map[int]any                `json:"byInt"`
		Elems  map[string]struct{ X any } `json:"elems"`
		Self   nestSelf                   `json:"self"`
		Ignore any                        `json:"-"`
	}
	pk := roundTrip(t, &JSONParser{}, map[string]any{"DATA": []any{b("d")}},
		map[string]any{"byInt": map[string]any{"7": b("seven")}, "elems": map[string]any{"e": map[string]any{"X": b("x")}}, "self": map[string]any{"s": b("s")}, "Ignore": b("i")})
	var f folded
	if err := pk.Args[0].Decode(&f); err != nil {
		t.Fatal(err)
	}
	if want := (folded{Data: []any{b("d")}}); !reflect.DeepEqual(f, want) {
		t.Errorf("folded %#v, want %#v", f, want)
	}
	var w withElems
	if err := pk.Args[1].Decode(&w); err != nil {
		t.Fatal(err)
	}
	want := withElems{
		ByInt: map[int]any{7: b("seven")},
		Elems: map[string]struct{ X any }{"e": {X: b("x")}},
		Self:  nestSelf{got: map[string]any{"s": "cw=="}}, // its own JSON, base64 included
	}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("got  %#v\nwant %#v", w, want)
	}
}

// A Go value with its own JSON goes as that JSON with both parsers.
func TestEncodeOwnJSON(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range parsers {
		pk := roundTrip(t, tc.p, when, map[string]any{"t": &when}, []any{nestMarshaler{b("y")}})
		var got []any
		for _, a := range pk.Args {
			var v any
			if err := a.Decode(&v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		want := []any{"2024-01-02T03:04:05Z", map[string]any{"t": "2024-01-02T03:04:05Z"}, []any{map[string]any{"m": "eQ=="}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v, want %#v", tc.name, got, want)
		}
	}
}

// FuzzDecodeNested: a binary packet decodes into generic and typed
// destinations without panicking, and wherever the generic tree has an
// attachment, the same value decoded into a map has it too.
func FuzzDecodeNested(f *testing.F) {
	f.Add(`51-["ev",{"a":{"b":{"_placeholder":true,"num":0}},"list":[{"_placeholder":true,"num":0}]}]`, []byte{1})
	f.Add(`51-["ev",[{"_placeholder":true,"num":0},{"c":[{"_placeholder":true,"num":0}]}]]`, []byte{})
	f.Add(`51-["ev",{"A":{"_placeholder":true,"num":0},"a":1}]`, []byte("x"))
	f.Fuzz(func(t *testing.T, text string, att []byte) {
		d := (&JSONParser{}).NewDecoder()
		p, err := d.Add([]byte(text), false)
		if err != nil || p != nil {
			return
		}
		for p == nil {
			if p, err = d.Add(att, true); err != nil {
				return
			}
		}
		if len(p.Args) == 0 {
			return
		}
		var generic any
		if p.Args[0].Decode(&generic) != nil {
			return
		}
		type dst struct {
			A    any            `json:"a"`
			List []any          `json:"list"`
			M    map[string]any `json:"m"`
			P    *[1]any        `json:"p"`
		}
		var s dst
		_ = p.Args[0].Decode(&s)
		var l []any
		_ = p.Args[0].Decode(&l)
		var m map[string]any
		if p.Args[0].Decode(&m) == nil {
			if gm, ok := generic.(map[string]any); ok && !reflect.DeepEqual(gm, m) {
				t.Fatalf("map %#v, generic %#v", m, gm)
			}
		}
	})
}

// orderedJSON has its own JSON, its keys out of alphabetical order and one
// of them twice.
type orderedJSON struct{}

func (orderedJSON) MarshalJSON() ([]byte, error) {
	return []byte(`{"zeta":1,"alpha":{"y":[1.5,"s"],"b":null},"mid":true,"zeta":2}`), nil
}

// With msgpack, a value with its own JSON keeps its keys' order (as the
// Node server's socket.handshake does), a repeated key counting once with
// its last value, as JSON.parse has it.
func TestMsgpackOwnJSONKeyOrder(t *testing.T) {
	msgs, err := (&MsgpackParser{}).Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"ev", map[string]any{"v": orderedJSON{}}}})
	if err != nil {
		t.Fatal(err)
	}
	raw := msgs[0].Data
	z, a, m, y, bb := bytes.Index(raw, []byte("zeta")), bytes.Index(raw, []byte("alpha")), bytes.Index(raw, []byte("mid")), bytes.Index(raw, []byte("\xa1y")), bytes.Index(raw, []byte("\xa1b"))
	if !(z >= 0 && z < a && a < y && y < bb && bb < m) || bytes.Count(raw, []byte("zeta")) != 1 {
		t.Errorf("keys out of order: %q", raw)
	}
	pk := roundTrip(t, &MsgpackParser{}, orderedJSON{})
	var got any
	if err := pk.Args[0].Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"zeta": int64(2), "alpha": map[string]any{"y": []any{1.5, "s"}, "b": nil}, "mid": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

// A type the msgpack decoder panics on (an embedded pointer to an
// unexported struct) gets an error, as encoding/json gives one.
func TestDecodeUnsettableEmbedded(t *testing.T) {
	type inner struct{ A any }
	type outer struct{ *inner }
	for _, tc := range parsers {
		pk := roundTrip(t, tc.p, map[string]any{"A": b("x")})
		var o outer
		if err := pk.Args[0].Decode(&o); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// DecodeTree decodes a tree as Normalize makes it like its JSON, but with
// its []byte kept at any depth, and shares nothing with the tree.
func TestDecodeTree(t *testing.T) {
	tree, err := Normalize(map[string]any{"a": map[string]any{"b": b("ab"), "n": 2}, "list": []any{b("l"), 1.5}, "plain": map[string]any{"n": 3}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := DecodeTree(tree, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": map[string]any{"b": b("ab"), "n": float64(2)}, "list": []any{b("l"), 1.5}, "plain": map[string]any{"n": float64(3)}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %#v\nwant %#v", m, want)
	}
	m["a"].(map[string]any)["b"].([]byte)[0] = 'X'
	m["list"].([]any)[0] = nil
	if tm := tree.(map[string]any); string(tm["a"].(map[string]any)["b"].([]byte)) != "ab" || tm["list"].([]any)[0] == nil {
		t.Errorf("the tree changed with what was decoded: %#v", tree)
	}
	var s struct {
		A struct {
			B []byte `json:"b"`
			N int    `json:"n"`
		} `json:"a"`
		List []any `json:"list"`
	}
	if err := DecodeTree(tree, &s); err != nil {
		t.Fatal(err)
	}
	if string(s.A.B) != "ab" || s.A.N != 2 || !reflect.DeepEqual(s.List, []any{b("l"), 1.5}) {
		t.Errorf("struct %#v", s)
	}
	var a any
	if err := DecodeTree(tree, &a); err != nil || !reflect.DeepEqual(a, want) {
		t.Errorf("any %#v, %v", a, err)
	}
	var bad struct{ A int }
	if err := DecodeTree(map[string]any{"A": "x"}, &bad); err == nil {
		t.Error("no error for a mistyped value")
	}
}

// A received value sent on as it is (an echo) goes as what it holds with
// msgpack too, binary included.
func TestMsgpackEchoValue(t *testing.T) {
	in := roundTrip(t, &MsgpackParser{}, map[string]any{"a": b("x"), "n": 1})
	out := roundTrip(t, &MsgpackParser{}, in.Args[0])
	var got any
	if err := out.Args[0].Decode(&got); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"a": b("x"), "n": int64(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
