package cluster

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/duplexio/duplex/adapter"
)

func TestOpRoundTrip(t *testing.T) {
	opts := &adapter.BroadcastOptions{Rooms: []string{"r"}, Except: []string{"x"}}
	ops := []*Op{
		{Kind: OpInitialHeartbeat},
		{Kind: OpHeartbeat},
		{Kind: OpAdapterClose},
		{Kind: OpBroadcast, Packet: map[string]any{"type": int64(2), "data": []any{"e"}}, Opts: opts},
		{Kind: OpBroadcast, RequestID: "q", Packet: map[string]any{"type": int64(2), "data": []any{"e"}}, Opts: opts},
		{Kind: OpJoin, Opts: opts, Rooms: []string{"y"}},
		{Kind: OpLeave, Opts: opts, Rooms: []string{"y"}},
		{Kind: OpDisconnect, Opts: opts, Close: true},
		{Kind: OpFetch, RequestID: "q", Opts: opts},
		{Kind: OpFetchResponse, RequestID: "q", Sockets: []any{}},
		{Kind: OpServerSideEmit, Data: []any{"e", int64(1)}},
		{Kind: OpSSEResponse, RequestID: "q", Value: "v"},
		{Kind: OpClientCount, RequestID: "q", Count: 3},
		{Kind: OpAck, RequestID: "q", Value: []byte{1}},
	}
	for _, o := range ops {
		b, err := EncodeAny(Encode(o, "me", "/"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := DecodeAny(b)
		if err != nil {
			t.Fatal(err)
		}
		m := AsMap(v)
		got := Decode(m)
		if got == nil || got.Kind != o.Kind || got.From != "me" || got.RequestID != o.RequestID || got.Count != o.Count ||
			got.Close != o.Close || !reflect.DeepEqual(got.Value, o.Value) || len(got.Data) != len(o.Data) || m["nsp"] != "/" {
			t.Errorf("%d: got %+v from %s", o.Kind, got, b)
		}
		if o.Opts != nil && (!reflect.DeepEqual(got.Opts.Rooms, opts.Rooms) || !reflect.DeepEqual(got.Opts.Except, opts.Except)) {
			t.Errorf("%d: opts %+v", o.Kind, got.Opts)
		}
	}
	// Heartbeats carry no data; an emitter's message may have no nsp.
	b, _ := json.Marshal(Encode(&Op{Kind: OpHeartbeat}, "me", ""))
	if string(b) != `{"type":2,"uid":"me"}` {
		t.Errorf("heartbeat %s", b)
	}
	if Encode(&Op{Kind: OpExtension}, "me", "/") != nil {
		t.Error("an extension kind encoded")
	}
	if Decode(map[string]any{"type": int64(14)}) != nil || Decode(map[string]any{}) != nil {
		t.Error("an unknown type decoded")
	}
}

func TestRequestID(t *testing.T) {
	for v, want := range map[any]string{"abc": "abc", int64(7): "7", 1.5: "1.5", true: "", nil: ""} {
		if got := RequestID(v); got != want {
			t.Errorf("RequestID(%v) = %q, want %q", v, got, want)
		}
	}
}
