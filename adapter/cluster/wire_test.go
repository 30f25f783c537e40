package cluster

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bytes written by notepack.io (the pub/sub adapter and the emitter) and
// @msgpack/msgpack (the Streams adapter), and what they decode to.
func TestDecodeMsgpack(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want any
	}{{
		// notepack.encode(["abc", {type: 2, data: ["ev", 1, Buffer.from([1, 2]),
		//   undefined, new Date(1700000000000), 1.5, -1, "x"], nsp: "/"},
		//   {rooms: ["r"], except: [], flags: {volatile: true}}])
		name: "broadcast from notepack",
		hex:  "93a361626383a47479706502a46461746198a2657601c4020102d40000d7000000018bcfe56800cb3ff8000000000000ffa178a36e7370a12f83a5726f6f6d7391a172a665786365707490a5666c61677381a8766f6c6174696c65c3",
		want: []any{"abc", map[string]any{
			"type": int64(2),
			"data": []any{"ev", int64(1), []byte{1, 2}, nil, int64(1700000000000), 1.5, int64(-1), "x"},
			"nsp":  "/",
		}, map[string]any{"rooms": []any{"r"}, "except": []any{}, "flags": map[string]any{"volatile": true}}},
	}, {
		// notepack.encode([new Uint8Array([7, 8]).buffer, 300, -200, 70000, 2**40, -(2**40)])
		name: "ArrayBuffer and integers from notepack",
		hex:  "96c702000708cd012cd1ff38ce00011170cf0000010000000000d3ffffff0000000000",
		want: []any{[]byte{7, 8}, int64(300), int64(-200), int64(70000), int64(1 << 40), int64(-(1 << 40))},
	}, {
		// msgpack.encode({d: new Date(1700000000123), u: new Uint8Array([5]), n: null, big: 2**33})
		name: "Date and bin from @msgpack/msgpack",
		hex:  "84a164d7ff1d5353006553f100a175c40105a16ec0a3626967cf0000000200000000",
		want: map[string]any{"d": "2023-11-14T22:13:20.123Z", "u": []byte{5}, "n": nil, "big": int64(1 << 33)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeMsgpack(unhex(t, tt.hex))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeMsgpackMalformed(t *testing.T) {
	for _, h := range []string{
		"",             // nothing
		"93a161",       // array of 3 with one element
		"c1",           // never used
		"dd7fffffff",   // array 32 far longer than the input
		"c6ffffffff00", // bin 32 far longer than the input
		"df0000ffff",   // map 32 longer than the input
	} {
		if _, err := DecodeMsgpack(unhex(t, h)); err == nil {
			t.Errorf("%s: no error", h)
		}
	}
	deep := make([]byte, 200)
	for i := range deep {
		deep[i] = 0x91
	}
	if _, err := DecodeMsgpack(deep); err == nil {
		t.Error("200 nested arrays: no error")
	}
}

// What the Go adapters write, as notepack.io reads it back:
// ["uid",{"data":["ev",1,<Buffer 01>],"nsp":"/","type":2},
// {"except":[],"flags":{"volatile":true},"rooms":["r"]}].
func TestEncodeBroadcast(t *testing.T) {
	opts := &adapter.BroadcastOptions{Rooms: []string{"r"}, Flags: adapter.Flags{Volatile: true}}
	b, err := EncodeMsgpack([]any{"uid", map[string]any{"type": int64(2), "data": []any{"ev", int64(1), []byte{1}}, "nsp": "/"}, EncodeOpts(opts, true)})
	if err != nil {
		t.Fatal(err)
	}
	want := "93a375696483a46461746193a2657601c40101a36e7370a12fa4747970650283a665786365707490a5666c61677381a8766f6c6174696c65c3a5726f6f6d7391a172"
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Flags are written only when set: the Node adapters test "volatile" for
// presence.
func TestFlags(t *testing.T) {
	tests := []struct {
		flags adapter.Flags
		json  string
	}{
		{adapter.Flags{}, `{}`},
		{adapter.Flags{Volatile: true}, `{"volatile":true}`},
		{adapter.Flags{NoCompress: true, Local: true, Timeout: 1500 * time.Millisecond}, `{"compress":false,"local":true,"timeout":1500}`},
	}
	for _, tt := range tests {
		b, _ := json.Marshal(EncodeFlags(tt.flags))
		if string(b) != tt.json {
			t.Errorf("%+v: %s, want %s", tt.flags, b, tt.json)
		}
		v, _ := DecodeJSON([]byte(`{"rooms":["a"],"except":["b"],"flags":` + tt.json + `}`))
		got := DecodeOpts(v)
		want := tt.flags
		want.Local = false // "local" is the sender's business
		if got.Flags != want || !reflect.DeepEqual(got.Rooms, []string{"a"}) || !reflect.DeepEqual(got.Except, []string{"b"}) {
			t.Errorf("%s: decoded %+v", tt.json, got)
		}
	}
}

type inner struct {
	Blob []byte `json:"blob"`
	Note string `json:"note,omitempty"`
}

// TestNormalizeArgs checks the arguments the adapter sends: the trees of
// parser.Normalize (tested in parser), values from clients and from other
// nodes included, and errors that name the argument.
func TestNormalizeArgs(t *testing.T) {
	p, err := (&parser.JSONParser{}).NewDecoder().Add([]byte(`2["ev",{"a":[1,2.5]}]`), false)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := NormalizeArgs([]any{"ev", &inner{Blob: []byte{2}}, when, p.Args[0], value{map[string]any{"z": []byte{9}}}, 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"ev", map[string]any{"blob": []byte{2}}, "2024-01-02T03:04:05Z",
		map[string]any{"a": []any{int64(1), 2.5}}, map[string]any{"z": []byte{9}}, int64(3)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if _, err := NormalizeArgs([]any{"ev", func() {}}); err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("a func normalized: %v", err)
	}
}

func TestValueDecode(t *testing.T) {
	v := value{map[string]any{"blob": []byte{1, 2}, "note": "n", "n": int64(3)}}
	var in inner
	if err := v.Decode(&in); err != nil || string(in.Blob) != "\x01\x02" || in.Note != "n" {
		t.Errorf("struct: %+v, %v", in, err)
	}
	var generic any
	if err := v.Decode(&generic); err != nil {
		t.Fatal(err)
	}
	generic.(map[string]any)["note"] = "changed"
	var again map[string]any
	if err := v.Decode(&again); err != nil || again["note"] != "n" {
		t.Errorf("decoding into any shares the value: %v", again)
	}
	// Binary nested in an object, from a Node node, is a []byte in a map.
	var m map[string]any
	nested := value{map[string]any{"a": map[string]any{"b": []byte{5}}, "list": []any{[]byte{6}}}}
	if err := nested.Decode(&m); err != nil || !reflect.DeepEqual(m, map[string]any{"a": map[string]any{"b": []byte{5}}, "list": []any{[]byte{6}}}) {
		t.Errorf("map: %#v, %v", m, err)
	}
	var b []byte
	if err := (value{[]byte{7}}).Decode(&b); err != nil || string(b) != "\x07" {
		t.Errorf("bytes: %v, %v", b, err)
	}
	var s string
	if err := (value{int64(1)}).Decode(&s); err == nil {
		t.Error("a number decoded into a string")
	}
}

// A socket as the Node adapters describe it, and back.
func TestSocketWire(t *testing.T) {
	nodeJSON := `{"id":"abc","handshake":{"headers":{"host":"h","set-cookie":["a=1","b=2"]},"time":"t","address":"::1",
		"xdomain":false,"secure":true,"issued":1700000000000,"url":"/socket.io/?EIO=4&t=1&t=2","query":{"EIO":"4","t":"2"},
		"auth":{"token":"x"}},"rooms":["abc","r"],"data":{"n":1}}`
	v, err := DecodeJSON([]byte(nodeJSON))
	if err != nil {
		t.Fatal(err)
	}
	info := DecodeSocket(v)
	want := adapter.SocketInfo{
		ID: "abc", Rooms: []string{"abc", "r"}, Data: map[string]any{"n": int64(1)},
		Handshake: adapter.HandshakeFromMap(map[string]any{"time": "t"}), // the Node node's time, kept
	}
	h := &want.Handshake
	h.Headers = adapter.HeaderOf(http.Header{"Host": {"h"}, "Set-Cookie": {"a=1", "b=2"}})
	h.Address, h.Secure, h.Issued, h.URL = "::1", true, 1700000000000, "/socket.io/?EIO=4&t=1&t=2"
	h.Auth = map[string]any{"token": "x"}
	if info.Handshake.Time() != "t" {
		t.Errorf("time %q: not the Node node's", info.Handshake.Time())
	}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("got  %#v\nwant %#v", info, want)
	}
	out, err := EncodeSocket(info)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := DecodeJSON(mustMarshal(t, out))
	if !reflect.DeepEqual(DecodeSocket(back), want) {
		t.Errorf("round trip: %#v", DecodeSocket(back))
	}
	hm := out["handshake"].(map[string]any)
	if q := hm["query"].(map[string]any); q["EIO"] != "4" || q["t"] != "2" ||
		hm["headers"].(map[string]any)["host"] != "h" || !reflect.DeepEqual(hm["headers"].(map[string]any)["set-cookie"], []any{"a=1", "b=2"}) ||
		hm["time"] != "t" {
		t.Errorf("not in Node's shape: %v", hm)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeMsgpack(f *testing.F) {
	for _, h := range []string{
		"93a361626383a47479706502a46461746198a2657601c4020102d40000d7000000018bcfe56800cb3ff8000000000000ffa178a36e7370a12f83a5726f6f6d7391a172a665786365707490a5666c61677381a8766f6c6174696c65c3",
		"96c702000708cd012cd1ff38ce00011170cf0000010000000000d3ffffff0000000000",
		"84a164d7ff1d5353006553f100a175c40105a16ec0a3626967cf0000000200000000",
	} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeMsgpack(b)
		if err != nil {
			return
		}
		// What decodes encodes again.
		if _, err := EncodeMsgpack(v); err != nil {
			t.Fatalf("%x decoded to %#v, which does not encode: %v", b, v, err)
		}
	})
}
