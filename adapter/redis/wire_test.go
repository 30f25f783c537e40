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
		{kind: opBroadcast, packet: map[string]any{"type": int64(2), "data": []any{"e"}, "nsp": "/"}, opts: opts},
		{kind: opBroadcast, requestID: "q", packet: map[string]any{"type": int64(2), "data": []any{"e"}, "nsp": "/"}, opts: opts},
		{kind: opJoin, opts: opts, rooms: []string{"y"}},
		{kind: opLeave, opts: opts, rooms: []string{"y"}},
		{kind: opDisconnect, opts: opts, close: true},
		{kind: opFetch, requestID: "q", opts: opts},
		{kind: opFetchResponse, requestID: "q", sockets: []any{}},
		{kind: opServerSideEmit, data: []any{"e", int64(1)}},
		{kind: opSSEResponse, requestID: "q", value: "v"},
		{kind: opClientCount, requestID: "q", count: 3},
		{kind: opAck, requestID: "q", value: []byte{1}},
	}
	for _, o := range ops {
		b, err := cluster.EncodeAny(clusterMessage(o, "me", "/"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := cluster.DecodeAny(b)
		if err != nil {
			t.Fatal(err)
		}
		got := clusterOp(cluster.AsMap(v))
		if got == nil || got.kind != o.kind || got.from != "me" || got.requestID != o.requestID || got.count != o.count ||
			got.close != o.close || !reflect.DeepEqual(got.value, o.value) || len(got.data) != len(o.data) {
			t.Errorf("%d: got %+v from %s", o.kind, got, b)
		}
		if o.opts != nil && (!reflect.DeepEqual(got.opts.Rooms, opts.Rooms) || !reflect.DeepEqual(got.opts.Except, opts.Except)) {
			t.Errorf("%d: opts %+v", o.kind, got.opts)
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
		if o := clusterOp(m); o != nil && o.kind == opFetchResponse {
			for _, s := range o.sockets {
				cluster.DecodeSocket(s)
			}
		}
		cluster.DecodeOpts(m["opts"])
		cluster.DecodeSocket(v)
		_, _ = decodeEntry(map[string]any{"uid": m["uid"], "nsp": "/", "type": "3", "data": string(b)})
	})
}
