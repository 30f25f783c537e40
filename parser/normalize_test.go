package parser

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

type normInner struct {
	Blob []byte `json:"blob"`
	Note string `json:"note,omitempty"`
}

type normOuter struct {
	Name      string            `json:"name"`
	Skip      string            `json:"-"`
	Inner     normInner         `json:"inner"`
	When      time.Time         `json:"when"`
	Raw       json.RawMessage   `json:"raw"`
	Tags      map[string]string `json:"tags"`
	normInner                   // unexported and embedded: its fields are flattened
}

type normOmit struct {
	Blob  []byte    `json:"blob"`
	List  []string  `json:"list,omitempty"`  // empty, not nil: left out
	Zero  normPlain `json:"zero,omitempty"`  // a struct is never empty
	When  time.Time `json:"when,omitzero"`   // by its IsZero method
	Count int       `json:"count,omitempty"` // 0: left out
}

type normPlain struct {
	A int      `json:"a"`
	B []string `json:"b"`
	C float32  `json:"c"`
	D uint64   `json:"d"`
	E any      `json:"e,omitempty"`
	f int
}

type namedBytes []byte

type textKey struct{ s string }

func (k textKey) MarshalText() ([]byte, error) { return []byte("<" + k.s + ">"), nil }

// normA and normB are mutually recursive, and normC reaches normB's
// binary only through normA.
type normA struct{ B *normB }
type normB struct {
	A    *normA
	C    *normC
	Data []byte
}
type normC struct{ A *normA }

// encA, encB and encC are the same for TestEncodeWalk: mayHoldBinary's
// answers are kept for the life of the process.
type encA struct{ B *encB }
type encB struct {
	A    *encA
	C    *encC
	Data []byte
}
type encC struct{ A *encA }

// normValue is a Value holding a generic tree, as the Redis adapter has
// values from other nodes.
type normValue struct{ v any }

func (v normValue) Decode(dst any) error { *dst.(*any) = v.v; return nil }

func TestNormalize(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	d := (&JSONParser{}).NewDecoder()
	if p, err := d.Add([]byte(`51-["ev",{"a":[1,2.5],"b":{"_placeholder":true,"num":0}}]`), false); p != nil || err != nil {
		t.Fatalf("binary event: %v, %v", p, err)
	}
	p, err := d.Add([]byte{7}, true)
	if err != nil {
		t.Fatal(err)
	}
	jsonArg := p.Args[0]
	var mp MsgpackParser
	msgs, err := mp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"ev", map[string]any{"n": 1, "b": []byte{8}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = mp.NewDecoder().Add(msgs[0].Data, true); err != nil {
		t.Fatal(err)
	}
	msgpackArg := p.Args[0]
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"integer kinds", []any{int8(-3), uint16(4), 5, uint(6), int32(7), uint8(8)},
			[]any{int64(-3), int64(4), int64(5), int64(6), int64(7), int64(8)}},
		{"uint64 past int64", uint64(math.MaxUint64), float64(math.MaxUint64)},
		{"float32 as JSON writes it", float32(0.1), 0.1},
		{"integral floats are integers", []any{2.0, float32(-3), 1e300, float64(math.MaxInt64), math.Copysign(0, -1)},
			[]any{int64(2), int64(-3), 1e300, float64(math.MaxInt64), int64(0)}},
		{"named kinds", struct {
			D time.Duration `json:"d"`
			K textKey       `json:"k"`
			F float64       `json:"f"`
			B []byte        `json:"b"`
		}{time.Second, textKey{"k"}, 4, nil}, map[string]any{"d": int64(1e9), "k": "<k>", "f": int64(4), "b": nil}},
		{"bytes stay binary", map[string]any{"b": []byte{1}}, map[string]any{"b": []byte{1}}},
		{"nil bytes are null", []byte(nil), nil},
		{"nil slice and map are null", []any{[]any(nil), map[string]any(nil)}, []any{nil, nil}},
		{"named byte slice is base64", namedBytes{1, 2}, "AQI="},
		{"byte array is numbers", [2]byte{1, 2}, []any{int64(1), int64(2)}},
		{"struct", normOuter{
			Name: "n", Skip: "s", Inner: normInner{Blob: []byte{2}}, When: when, Raw: json.RawMessage(`{"x":1}`),
			Tags: map[string]string{"k": "v"}, normInner: normInner{Note: "embedded"},
		}, map[string]any{
			"name": "n", "inner": map[string]any{"blob": []byte{2}}, "when": "2024-01-02T03:04:05Z",
			"raw": map[string]any{"x": int64(1)}, "tags": map[string]any{"k": "v"}, "blob": nil, "note": "embedded",
		}},
		{"omitempty and omitzero as encoding/json", normOmit{Blob: []byte{1}, List: []string{}},
			map[string]any{"blob": []byte{1}, "zero": map[string]any{"a": int64(0), "b": nil, "c": int64(0), "d": int64(0)}}},
		{"no binary: as encoding/json", normPlain{A: 1, C: 1.1, D: math.MaxUint64, f: 9},
			map[string]any{"a": int64(1), "b": nil, "c": 1.1, "d": float64(math.MaxUint64)}},
		{"map with text keys: as encoding/json", map[textKey]int{{"k"}: 1}, map[string]any{"<k>": int64(1)}},
		{"raw JSON", json.RawMessage(` [1, 2.5, "x", {"y": null}] `), []any{int64(1), 2.5, "x", map[string]any{"y": nil}}},
		{"nil raw JSON is null", json.RawMessage(nil), nil},
		{"pointer", &normInner{Blob: []byte{3}}, map[string]any{"blob": []byte{3}}},
		{"nil pointer", (*normInner)(nil), nil},
		{"binary in an interface field", normPlain{E: [][]byte{{4}}},
			map[string]any{"a": int64(0), "b": nil, "c": int64(0), "d": int64(0), "e": []any{[]byte{4}}}},
		{"map of bytes", map[string][]byte{"k": {5}}, map[string]any{"k": []byte{5}}},
		{"value from a JSON client", jsonArg, map[string]any{"a": []any{int64(1), 2.5}, "b": []byte{7}}},
		{"value from a msgpack client", msgpackArg, map[string]any{"n": int64(1), "b": []byte{8}}},
		{"value from elsewhere, normalized too", []Value{normValue{map[string]any{"z": []byte{9}, "n": int32(2)}}},
			[]any{map[string]any{"z": []byte{9}, "n": int64(2)}}},
		// normA first: its answer must not spoil normC's.
		{"recursive types, one end", &normA{}, map[string]any{"B": nil}},
		{"recursive types, other end", normC{A: &normA{B: &normB{Data: []byte{6}}}},
			map[string]any{"A": map[string]any{"B": map[string]any{"A": nil, "C": nil, "Data": []byte{6}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestNormalizeMatchesJSON checks that, binary aside, Normalize gives what
// encoding/json gives, whether or not a struct's walk is needed.
func TestNormalizeMatchesJSON(t *testing.T) {
	type withBlob struct {
		normOmit
		Plain normPlain `json:"plain"`
		Extra []byte    `json:"-"`
	}
	v := withBlob{normOmit{Count: 2, When: time.Unix(5, 0).UTC()}, normPlain{A: 1, B: []string{"x"}, C: 2.5, D: 3}, []byte{1}}
	got, err := Normalize(v)
	if err != nil {
		t.Fatal(err)
	}
	want, err := jsonTree(v)
	if err != nil {
		t.Fatal(err)
	}
	// The walked struct holds nil where encoding/json has base64 for the
	// nil []byte; both are null.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize %#v\nencoding/json %#v", got, want)
	}
}

func TestNormalizeDoesNotChangeItsInput(t *testing.T) {
	in := map[string]any{"l": []any{1, float32(2)}, "b": []byte{1}}
	got, err := Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	got.(map[string]any)["l"].([]any)[0] = "changed"
	want := map[string]any{"l": []any{1, float32(2)}, "b": []byte{1}}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("input is now %#v", in)
	}
}

func TestNormalizeErrors(t *testing.T) {
	cyclic := map[string]any{"b": []byte{1}}
	cyclic["self"] = cyclic
	for name, v := range map[string]any{
		"func":                        func() {},
		"channel in a slice":          []any{make(chan int)},
		"cycle":                       cyclic,
		"bad raw JSON":                json.RawMessage(`{"a":1} x`),
		"empty raw JSON":              json.RawMessage{},
		"failing Value":               []Value{jsonValue{raw: []byte(`[`)}},
		"NaN":                         math.NaN(),
		"float32 NaN":                 float32(math.NaN()),
		"infinity in a walked struct": normPlain{E: []byte{1}, C: float32(math.Inf(1))},
	} {
		if got, err := Normalize(v); err == nil {
			t.Errorf("%s: normalized to %#v", name, got)
		}
	}
}

// The JSON parser finds attachments by the same walk.
func TestEncodeWalk(t *testing.T) {
	type flatUnexported struct {
		normInner
		N int `json:"n"`
	}
	tests := []struct {
		name string
		arg  any
		wire []frame
	}{
		{"unexported embedded struct", flatUnexported{normInner{Blob: []byte{1}}, 2},
			[]frame{text(`51-["m",{"blob":{"_placeholder":true,"num":0},"n":2}]`), att(1)}},
		{"recursive types", encC{A: &encA{B: &encB{Data: []byte{1}}}},
			[]frame{text(`51-["m",{"A":{"B":{"A":null,"C":null,"Data":{"_placeholder":true,"num":0}}}}]`), att(1)}},
		{"omitempty as encoding/json", normOmit{Blob: []byte{1}, List: []string{}},
			[]frame{text(`51-["m",{"blob":{"_placeholder":true,"num":0},"zero":{"a":0,"b":null,"c":0,"d":0}}]`), att(1)}},
	}
	var jp JSONParser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The recursive types first meet the walk from encA, whose
			// answer must not spoil encC's.
			if _, err := jp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"m", &encA{}}}); err != nil {
				t.Fatal(err)
			}
			msgs, err := jp.Encode(&SocketPacket{Type: SocketPacketEvent, Data: []any{"m", tt.arg}})
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, msgs, tt.wire)
		})
	}
}

func BenchmarkNormalize(b *testing.B) {
	type file struct {
		Name string            `json:"name"`
		Body []byte            `json:"body"`
		Meta map[string]string `json:"meta"`
		Size int               `json:"size"`
	}
	args := []any{"upload", file{"a.bin", []byte(strings.Repeat("x", 1024)), map[string]string{"k": "v"}, 1024}, 42, map[string]any{"n": 1.5}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize(args); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzNormalizeRawJSON covers the one input Normalize decodes itself: JSON
// text, which the Redis adapter reads from other nodes. Valid text gives
// what json.Unmarshal gives, numbers aside (int64 or float64 there);
// other text is an error.
func FuzzNormalizeRawJSON(f *testing.F) {
	for _, s := range []string{
		`{"uid":"abc","type":3,"data":{"rooms":["a"],"except":[],"flags":{}}}`,
		`[1, 2.5, -0, 1e400, 9007199254740993, 18446744073709551616, "x", true, null]`,
		`{"a":{"b":[{"c":"\u005f"}]}}`, `"s"`, `0`, `{"a":1} x`, `[`, ` `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return // nil is null, and empty is invalid
		}
		got, err := Normalize(json.RawMessage(b))
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("invalid JSON %q normalized to %#v", b, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid JSON %q: %v", b, err)
		}
		var want any
		if err := json.Unmarshal(b, &want); err != nil {
			if _, ok := err.(*json.UnmarshalTypeError); !ok {
				t.Fatalf("json.Unmarshal(%q): %v", b, err)
			}
			return // a number out of float64's range
		}
		if g := asFloats(got); !reflect.DeepEqual(g, want) {
			t.Fatalf("%q: got %#v, json.Unmarshal %#v", b, g, want)
		}
	})
}

// asFloats turns the int64s of a normalized tree into float64, as
// json.Unmarshal has numbers, in place.
func asFloats(v any) any {
	switch t := v.(type) {
	case int64:
		return float64(t)
	case []any:
		for i, e := range t {
			t[i] = asFloats(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = asFloats(e)
		}
	}
	return v
}
