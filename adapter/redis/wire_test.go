package redisadapter

import (
	"reflect"
	"testing"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
)

// The Streams adapter picks a namespace's stream with JavaScript's
// string hash.
func TestHashCode(t *testing.T) {
	// Values from the reference's hashCode, run in Node; the last one has
	// a character outside the BMP, hashed as two UTF-16 code units.
	for s, want := range map[string]int32{"": 0, "/": 47, "/chat": 46457863, "/éà𝄞": 52334448} {
		if got := hashCode(s); got != want {
			t.Errorf("hashCode(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestClusterOpRoundTrip(t *testing.T) {
	opts := &adapter.BroadcastOptions{Rooms: []string{"r"}, Except: []string{"x"}}
	ops := []*op{
		{Kind: opBroadcast, Packet: map[string]any{"type": int64(2), "data": []any{"e"}, "nsp": "/"}, Opts: opts},
		{Kind: opBroadcast, RequestID: "q", Packet: map[string]any{"type": int64(2), "data": []any{"e"}, "nsp": "/"}, Opts: opts},
		{Kind: opJoin, Opts: opts, Rooms: []string{"y"}},
		{Kind: opLeave, Opts: opts, Rooms: []string{"y"}},
		{Kind: opDisconnect, Opts: opts, Close: true},
		{Kind: opFetch, RequestID: "q", Opts: opts},
		{Kind: opFetchResponse, RequestID: "q", Sockets: []any{}},
		{Kind: opServerSideEmit, Data: []any{"e", int64(1)}},
		{Kind: opSSEResponse, RequestID: "q", Value: "v"},
		{Kind: opClientCount, RequestID: "q", Count: 3},
		{Kind: opAck, RequestID: "q", Value: []byte{1}},
	}
	for _, o := range ops {
		b, err := cluster.EncodeAny(cluster.Encode(o, "me", "/"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := cluster.DecodeAny(b)
		if err != nil {
			t.Fatal(err)
		}
		got := cluster.Decode(cluster.AsMap(v))
		if got == nil || got.Kind != o.Kind || got.From != "me" || got.RequestID != o.RequestID || got.Count != o.Count ||
			got.Close != o.Close || !reflect.DeepEqual(got.Value, o.Value) || len(got.Data) != len(o.Data) {
			t.Errorf("%d: got %+v from %s", o.Kind, got, b)
		}
		if o.Opts != nil && (!reflect.DeepEqual(got.Opts.Rooms, opts.Rooms) || !reflect.DeepEqual(got.Opts.Except, opts.Except)) {
			t.Errorf("%d: opts %+v", o.Kind, got.Opts)
		}
	}
}

// FuzzMessages feeds arbitrary messages to the decoders of the three
// protocols: they must never panic.
func FuzzMessages(f *testing.F) {
	f.Add([]byte(`{"uid":"x","type":5,"requestId":"q","opts":{"rooms":["r"],"except":[]}}`))
	f.Add([]byte(`{"uid":"x","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["e"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}}}`))
	f.Add([]byte(`{"requestId":"q","sockets":[{"id":"a","handshake":{"query":5},"rooms":3}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := cluster.DecodeAny(b)
		if err != nil {
			return
		}
		m := cluster.AsMap(v)
		if o := cluster.Decode(m); o != nil && o.Kind == opFetchResponse {
			for _, s := range o.Sockets {
				cluster.DecodeSocket(s)
			}
		}
		cluster.DecodeOpts(m["opts"])
		cluster.DecodeSocket(v)
		_, _ = decodeEntry(map[string]any{"uid": m["uid"], "nsp": "/", "type": "3", "data": string(b)})
	})
}
