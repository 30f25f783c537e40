package parser

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// fastCases are values the fast path writes; each must come out byte for
// byte as encoding/json writes it.
func fastCases() []any {
	var all strings.Builder
	for c := 0; c < 256; c++ {
		all.WriteByte(byte(c))
	}
	vals := []any{
		nil, true, false, "", "hello", all.String(),
		"\u2028\u2029", "é😀", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "<>&", "\x7f",
		0.0, math.Copysign(0, -1), 1.0, -1.5, 0.1, 1e-6, 1e-7, 9.99e-7, 1e20, 1e21, 1.5e300,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789.125, -2e-308,
		float32(0.1), float32(1e-7), float32(1e21), float32(3.4e38), float32(-1.5),
		0, -1, math.MaxInt64, math.MinInt64, int32(-7), int64(42), uint(7), uint32(1 << 31), uint64(math.MaxUint64),
		json.RawMessage(` { "a" : [ 1 , "x y" , "q\" z" ] } `), json.RawMessage(nil), json.RawMessage("null"),
		jsonValue{raw: []byte(`{ "k" : "v w",  "n": [1, 2] }`)},
		jsonValue{raw: []byte(`"tab\t in string? no: escaped \\t"`)},
		[]any(nil), []any{}, []any{"a", 1.5, nil, []any{true, []any{}}},
	}
	return append(vals, []any{vals[:10]})
}

func TestFastJSONMatchesEncodingJSON(t *testing.T) {
	for _, v := range fastCases() {
		want, err := appendJSON(nil, v)
		if err != nil {
			t.Fatalf("encoding/json %#v: %v", v, err)
		}
		got, ok := appendFastJSON(nil, v, 0)
		if !ok {
			t.Errorf("fast path refused %#v", v)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%#v:\nfast          %q\nencoding/json %q", v, got, want)
		}
	}
}

// TestFastJSONRefuses checks that what the fast path does not write goes
// to the general path: binary, structs, maps, NaN, received values with
// attachments, invalid raw JSON, deep nesting.
func TestFastJSONRefuses(t *testing.T) {
	deep := any("x")
	for i := 0; i < maxFastDepth+1; i++ {
		deep = []any{deep}
	}
	for _, v := range []any{
		[]byte("bin"), []any{"a", []byte{1}}, struct{ A int }{1}, map[string]any{"a": 1},
		math.NaN(), math.Inf(1), float32(math.Inf(-1)),
		jsonValue{raw: []byte(`{"_placeholder":true,"num":0}`), att: &attachments{}},
		json.RawMessage(`{bad`), deep,
	} {
		if _, ok := appendFastJSON(nil, v, 0); ok {
			t.Errorf("fast path wrote %#v", v)
		}
	}
}

// TestEncodeFastAndGeneralAgree encodes packets the fast path takes and
// the same packets with a value that forces the general path, which must
// frame them alike.
func TestEncodeFastAndGeneralAgree(t *testing.T) {
	jp := &JSONParser{}
	for _, p := range []*SocketPacket{
		{Type: SocketPacketEvent, Namespace: "/", Data: []any{"echo", "x"}},
		{Type: SocketPacketEvent, Namespace: "/chat", ID: 12, HasID: true, Data: []any{"echo", 1.5, nil}},
		{Type: SocketPacketAck, Namespace: "/a", ID: 0, HasID: true, Data: []any{}},
	} {
		fast, err := jp.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		q := *p
		q.Data = append(append([]any{}, p.Data.([]any)...), struct{}{})
		general, err := jp.Encode(&q)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(string(general[0].Data), ",{}]") + "]"
		if strings.HasSuffix(string(general[0].Data), "[{}]") {
			want = strings.TrimSuffix(string(general[0].Data), "{}]") + "]"
		}
		if len(fast) != 1 || string(fast[0].Data) != want {
			t.Errorf("fast %q, general %q", fast[0].Data, general[0].Data)
		}
	}
}

func TestFastEventName(t *testing.T) {
	for _, raw := range []string{`"echo"`, `""`, `"é"`, `"a\"b"`, `"a\u0041"`, "\"\xff\"", `"😀 x"`} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := eventName([]byte(raw)); !ok || got != want {
			t.Errorf("eventName(%s) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	if _, ok := fastEventName([]byte(`"a\nb"`)); ok {
		t.Error("fast path took an escape")
	}
}

// FuzzFastJSON compares the fast path with encoding/json on strings,
// numbers and raw JSON from the fuzzer.
func FuzzFastJSON(f *testing.F) {
	f.Add("hello", 1.5, int64(3), []byte(`{"a": [1, " b "]}`))
	f.Add("\u2028\xff\x01", 1e-7, int64(-1), []byte(` "x" `))
	f.Add("", 1e21, int64(math.MinInt64), []byte(`[ ]`))
	f.Fuzz(func(t *testing.T, s string, fl float64, n int64, raw []byte) {
		vals := []any{s, fl, float32(fl), n, []any{s, []any{n}}}
		if json.Valid(raw) {
			vals = append(vals, json.RawMessage(raw), jsonValue{raw: raw})
		}
		want, err := appendJSON(nil, vals)
		got, ok := appendFastJSON(nil, vals, 0)
		if err != nil {
			if ok {
				t.Fatalf("fast path wrote %q where encoding/json fails: %v", got, err)
			}
			return
		}
		if !ok || string(got) != string(want) {
			t.Fatalf("fast %q (%v), encoding/json %q", got, ok, want)
		}
		var name string
		if json.Unmarshal(raw, &name) == nil {
			if got, ok := fastEventName(raw); ok && got != name {
				t.Fatalf("event name %q, encoding/json %q", got, name)
			}
		}
	})
}
