package natsadapter

import (
	"errors"
	"strings"
	"testing"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
)

func TestToken(t *testing.T) {
	long := strings.Repeat("x", 201)
	for _, tc := range []struct{ in, want string }{
		{"", "%"},
		{"/", "/"},
		{"/chat", "/chat"},
		{"room_1-a:b", "room_1-a:b"},
		{"/v1.0", "/v1%2E0"},
		{"a b", "a%20b"},
		{"*", "%2A"},
		{">", "%3E"},
		{"50%", "50%25"},
		{"#x", "%23x"},
		{"é", "%C3%A9"},
		{strings.Repeat("x", 200), strings.Repeat("x", 200)},
		{long, ""}, // a hash, checked below
	} {
		got := Token(tc.in)
		if tc.in == long {
			if len(got) != 33 || got[0] != '#' || got == Token(long+"y") {
				t.Errorf("Token(long) = %q", got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("Token(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Escaping keeps names apart, and writes no subject syntax.
	seen := map[string]string{}
	for _, name := range []string{"a.b", "a%2Eb", "a b", "a%20b", "", "%", ".", "*", ">", "a\x00"} {
		tok := Token(name)
		if other, ok := seen[tok]; ok {
			t.Errorf("%q and %q share token %q", name, other, tok)
		}
		seen[tok] = name
		if tok == "" || strings.ContainsAny(tok, ". \t\r\n*>") {
			t.Errorf("Token(%q) = %q is no valid token", name, tok)
		}
	}
}

func TestSubject(t *testing.T) {
	s := newSubjects("p.q", "/v1.0")
	opts := func(rooms ...string) *adapter.BroadcastOptions { return &adapter.BroadcastOptions{Rooms: rooms} }
	for _, tc := range []struct {
		name string
		op   cluster.Op
		want string
	}{
		{"everyone", cluster.Op{Kind: cluster.OpBroadcast, Opts: opts()}, "p.q./v1%2E0.all"},
		{"one room", cluster.Op{Kind: cluster.OpBroadcast, Opts: opts("a.b")}, "p.q./v1%2E0.room.a%2Eb"},
		{"two rooms", cluster.Op{Kind: cluster.OpBroadcast, Opts: opts("a", "b")}, "p.q./v1%2E0.all"},
		{"socket id", cluster.Op{Kind: cluster.OpBroadcast, Opts: opts("abcdefghijklmnopqrst")}, "p.q./v1%2E0.all"},
		{"with acks", cluster.Op{Kind: cluster.OpBroadcast, RequestID: "1", Opts: opts("a")}, "p.q./v1%2E0.all"},
		{"join", cluster.Op{Kind: cluster.OpJoin, Opts: opts("a")}, "p.q./v1%2E0.all"},
		{"fetch", cluster.Op{Kind: cluster.OpFetch, Opts: opts("a")}, "p.q./v1%2E0.all"},
		{"fetch answer", cluster.Op{Kind: cluster.OpFetchResponse, To: "u1"}, "p.q./v1%2E0.node.u1"},
		{"sse answer", cluster.Op{Kind: cluster.OpSSEResponse, To: "u1"}, "p.q./v1%2E0.node.u1"},
		{"count", cluster.Op{Kind: cluster.OpClientCount, To: "u1"}, "p.q./v1%2E0.node.u1"},
		{"ack", cluster.Op{Kind: cluster.OpAck, To: "u1"}, "p.q./v1%2E0.node.u1"},
		{"heartbeat", cluster.Op{Kind: cluster.OpHeartbeat}, "p.q./v1%2E0.all"},
	} {
		if got := s.subject(&tc.op); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"socketio", "a.b", "a-b_c/d"} {
		if err := checkPrefix(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"a..b", ".a", "a.", "a.*", ">", "a b", "a\tb"} {
		if err := checkPrefix(p); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("%q: %v, want ErrInvalidPrefix", p, err)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	o := &cluster.Op{Kind: cluster.OpBroadcast, Packet: map[string]any{"type": int64(2), "data": []any{"ev", []byte{1, 2}}, "nsp": "/"},
		Opts: &adapter.BroadcastOptions{Rooms: []string{"r"}, Except: []string{"x"}}}
	b, err := encode(o, "u1", "/chat")
	if err != nil {
		t.Fatal(err)
	}
	nsp, got, err := decodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if nsp != "/chat" || got.Kind != cluster.OpBroadcast || got.From != "u1" ||
		len(got.Opts.Rooms) != 1 || got.Opts.Rooms[0] != "r" || len(got.Opts.Except) != 1 {
		t.Fatalf("decoded %q %+v", nsp, got)
	}
	data := cluster.AsSlice(got.Packet["data"])
	if bin, ok := data[1].([]byte); len(data) != 2 || !ok || string(bin) != "\x01\x02" {
		t.Fatalf("packet data %#v", data)
	}
	for _, bad := range []string{"", "\xc0", "\x93\x01\x02\x03", "\x81\xa4type\x03", "\x82\xa4type\x63\xa3nsp\xa1/"} {
		if _, _, err := decodeMessage([]byte(bad)); !errors.Is(err, cluster.ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
	}
}

// FuzzDecodeMessage checks that no input makes the message decoder, or
// the handling of what it decodes into subjects, panic.
func FuzzDecodeMessage(f *testing.F) {
	seeds := []*cluster.Op{
		{Kind: cluster.OpBroadcast, Packet: map[string]any{"type": int64(2), "data": []any{"ev", 1.5, nil, true}}, Opts: &adapter.BroadcastOptions{Rooms: []string{"r"}}},
		{Kind: cluster.OpFetch, RequestID: "1", Opts: &adapter.BroadcastOptions{}},
		{Kind: cluster.OpFetchResponse, RequestID: "1", Sockets: []any{map[string]any{"id": "s", "rooms": []any{"r"}}}},
		{Kind: cluster.OpServerSideEmit, RequestID: "2", Data: []any{"hello", "x"}},
		{Kind: cluster.OpAck, RequestID: "3", Value: map[string]any{"a": []any{int64(1)}}},
		{Kind: cluster.OpHeartbeat},
	}
	for _, o := range seeds {
		b, err := encode(o, "u", "/")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\xdd\xff\xff\xff\xff"))
	s := newSubjects("socketio", "/")
	f.Fuzz(func(t *testing.T, b []byte) {
		nsp, o, err := decodeMessage(b)
		if err != nil {
			if !errors.Is(err, cluster.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		_ = Token(nsp)
		_ = s.subject(o)
	})
}
