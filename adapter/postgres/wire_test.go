package postgresadapter

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
)

// Notifications as @socket.io/postgres-adapter 0.5 and
// @socket.io/postgres-emitter 0.1.1 send them (captured on PostgreSQL 15).
var nodeNotifications = []struct {
	payload string
	kind    opKind
	check   func(t *testing.T, o *op)
}{
	{`{"type":1,"uid":"915ca2222658985d","nsp":"/"}`, opInitialHeartbeat, nil},
	{`{"type":2,"uid":"915ca2222658985d","nsp":"/"}`, opHeartbeat, nil},
	{`{"type":13,"uid":"915ca2222658985d","nsp":"/"}`, opAdapterClose, nil},
	{`{"type":3,"data":{"packet":{"type":2,"data":["room-msg",{"a":1}]},"opts":{"rooms":["r1"],"except":["nobody"],"flags":{}}},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opBroadcast, func(t *testing.T, o *op) {
		if !reflect.DeepEqual(o.Opts.Rooms, []string{"r1"}) || !reflect.DeepEqual(o.Opts.Except, []string{"nobody"}) || o.RequestID != "" {
			t.Errorf("opts %+v, request %q", o.Opts, o.RequestID)
		}
		if got := cluster.AsSlice(o.Packet["data"]); len(got) != 2 || got[0] != "room-msg" {
			t.Errorf("packet %v", o.Packet)
		}
	}},
	{`{"type":3,"data":{"packet":{"type":2,"data":["vol",1]},"opts":{"rooms":[],"except":[],"flags":{"volatile":true,"compress":false}}},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opBroadcast, func(t *testing.T, o *op) {
		if !o.Opts.Flags.Volatile || !o.Opts.Flags.NoCompress {
			t.Errorf("flags %+v", o.Opts.Flags)
		}
	}},
	{`{"type":3,"data":{"packet":{"type":2,"data":["ask",42]},"requestId":"567ed58bba1fec65","opts":{"rooms":[],"except":[],"flags":{"timeout":1000}}},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opBroadcast, func(t *testing.T, o *op) {
		if o.RequestID != "567ed58bba1fec65" || o.Opts.Flags.Timeout.Milliseconds() != 1000 {
			t.Errorf("request %q, flags %+v", o.RequestID, o.Opts.Flags)
		}
	}},
	{`{"type":12,"data":{"requestId":"567ed58bba1fec65","packet":"ack-from-cb"},"uid":"915ca2222658985d","nsp":"/"}`, opAck, func(t *testing.T, o *op) {
		if o.Value != "ack-from-cb" {
			t.Errorf("value %v", o.Value)
		}
	}},
	{`{"type":11,"data":{"requestId":"567ed58bba1fec65","clientCount":1},"uid":"915ca2222658985d","nsp":"/"}`, opClientCount, func(t *testing.T, o *op) {
		if o.Count != 1 {
			t.Errorf("count %d", o.Count)
		}
	}},
	{`{"type":4,"data":{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["r2","r3"]},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opJoin, func(t *testing.T, o *op) {
		if !reflect.DeepEqual(o.Rooms, []string{"r2", "r3"}) {
			t.Errorf("rooms %v", o.Rooms)
		}
	}},
	{`{"type":5,"data":{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["r3"]},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opLeave, nil},
	{`{"type":6,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"close":false},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opDisconnect, nil},
	{`{"type":7,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"requestId":"527da1e457f3454e"},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opFetch, nil},
	{`{"type":8,"data":{"requestId":"527da1e457f3454e","sockets":[{"id":"Q_5YuXT4ZPtrAFOfAAAB","handshake":{"headers":{"host":"127.0.0.1:3102"},"time":"Thu Dec 03 2026 11:44:00 GMT+0000 (Coordinated Universal Time)","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"issued":1796298240649,"url":"/socket.io/?room=r1&EIO=4&transport=websocket","query":{"room":"r1","EIO":"4","transport":"websocket"},"auth":{}},"rooms":["Q_5YuXT4ZPtrAFOfAAAB","r1"],"data":{"who":"B:Q_5Y"}}]},"uid":"915ca2222658985d","nsp":"/"}`, opFetchResponse, func(t *testing.T, o *op) {
		if len(o.Sockets) != 1 {
			t.Fatalf("sockets %v", o.Sockets)
		}
		s := cluster.DecodeSocket(o.Sockets[0])
		if s.ID != "Q_5YuXT4ZPtrAFOfAAAB" || s.Handshake.Issued != 1796298240649 || s.Handshake.Query().Get("room") != "r1" || !reflect.DeepEqual(s.Rooms, []string{"Q_5YuXT4ZPtrAFOfAAAB", "r1"}) {
			t.Errorf("socket %+v", s)
		}
	}},
	{`{"type":9,"data":{"requestId":"48e4d6767c47443b","packet":["sse-ack",7]},"uid":"f0a38a0113a2af5e","nsp":"/"}`, opServerSideEmit, func(t *testing.T, o *op) {
		if o.RequestID != "48e4d6767c47443b" || len(o.Data) != 2 || o.Data[0] != "sse-ack" {
			t.Errorf("%+v", o)
		}
	}},
	{`{"type":10,"data":{"requestId":"48e4d6767c47443b","packet":"pong-B"},"uid":"915ca2222658985d","nsp":"/"}`, opSSEResponse, nil},
	// The Node emitter: no nsp at the top level.
	{`{"type":3,"data":{"packet":{"type":2,"data":["from-emitter",1,"two"],"nsp":"/"},"opts":{"rooms":[],"flags":{},"except":[]}},"uid":"emitter"}`, opBroadcast, nil},
	{`{"type":4,"data":{"opts":{"rooms":["r1"],"except":[]},"rooms":["r9"]},"uid":"emitter"}`, opJoin, nil},
	{`{"type":9,"data":{"packet":["e-sse","q"]},"uid":"emitter"}`, opServerSideEmit, nil},
}

func TestNodeNotifications(t *testing.T) {
	for _, n := range nodeNotifications {
		m, att, err := decodeNotification(n.payload)
		if err != nil || att != 0 {
			t.Fatalf("%s: %v, attachment %d", n.payload, err, att)
		}
		o := cluster.Decode(m)
		if o == nil || o.Kind != n.kind {
			t.Fatalf("%s: got %+v, want kind %d", n.payload, o, n.kind)
		}
		if n.check != nil {
			n.check(t, o)
		}
	}
}

func TestAttachmentHeaders(t *testing.T) {
	for _, c := range []struct {
		payload string
		id      int64
		bad     bool
	}{
		{`{"uid":"f0a38a0113a2af5e","type":3,"attachmentId":"1"}`, 1, false},
		{`{"uid":"emitter","type":3,"attachmentId":"3"}`, 3, false},
		{`{"uid":"x","type":3,"attachmentId":42}`, 42, false},
		{`{"uid":"x","type":3,"attachmentId":"x"}`, 0, true},
		{`{"uid":"x","type":3,"attachmentId":"-1"}`, 0, true},
		{`{"uid":"x","type":3,"attachmentId":1.5}`, 0, true},
		{`{"uid":"x","type":3,"attachmentId":""}`, 0, true},
		{`{"uid":"x","type":3,"attachmentId":0}`, 0, false}, // falsy, as in Node: no attachment
		{`[1]`, 0, true},
		{`{`, 0, true},
		{``, 0, true},
	} {
		_, id, err := decodeNotification(c.payload)
		if (err != nil) != c.bad || id != c.id {
			t.Errorf("%s: id %d, err %v", c.payload, id, err)
		}
		if err != nil && !errors.Is(err, cluster.ErrMalformed) {
			t.Errorf("%s: error %q", c.payload, err)
		}
	}
}

// Rows of the attachments table written by Node: a binary broadcast of the
// adapter and one of the emitter.
func TestNodeAttachmentRows(t *testing.T) {
	row := func(h string) map[string]any {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		v, err := cluster.DecodeMsgpack(b)
		if err != nil {
			t.Fatal(err)
		}
		return cluster.AsMap(v)
	}
	m := row("84a47479706503a46461746182a67061636b657482a47479706502a46461746193a362696ec40301020381a66e6573746564c4026869a46f70747383a5726f6f6d7390a665786365707490a5666c61677380a3756964b066306133386130313133613261663565a36e7370a12f")
	o := cluster.Decode(m)
	if o == nil || o.Kind != opBroadcast || m["nsp"] != "/" || o.From != "f0a38a0113a2af5e" {
		t.Fatalf("adapter row: %+v", m)
	}
	data := cluster.AsSlice(o.Packet["data"])
	if len(data) != 3 || !reflect.DeepEqual(data[1], []byte{1, 2, 3}) || !reflect.DeepEqual(cluster.AsMap(data[2])["nested"], []byte("hi")) {
		t.Errorf("adapter row data %#v", data)
	}
	m = row("83a47479706503a46461746182a67061636b657483a47479706502a46461746192b066726f6d2d656d69747465722d62696ec4020908a36e7370a12fa46f70747383a5726f6f6d7390a5666c61677380a665786365707490a3756964a7656d6974746572")
	o = cluster.Decode(m)
	if o == nil || o.Kind != opBroadcast || o.From != "emitter" || !reflect.DeepEqual(cluster.AsSlice(o.Packet["data"])[1], []byte{9, 8}) {
		t.Errorf("emitter row: %+v", m)
	}
}

func TestClusterOpRoundTrip(t *testing.T) {
	opts := &adapter.BroadcastOptions{Rooms: []string{"r"}, Except: []string{"x"}}
	ops := []*op{
		{Kind: opInitialHeartbeat},
		{Kind: opHeartbeat},
		{Kind: opAdapterClose},
		{Kind: opBroadcast, Packet: map[string]any{"type": int64(2), "data": []any{"e"}}, Opts: opts},
		{Kind: opBroadcast, RequestID: "q", Packet: map[string]any{"type": int64(2), "data": []any{"e"}}, Opts: opts},
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
		msg := cluster.Encode(o, "me", "/")
		var m map[string]any
		if cluster.HasBinary(msg) {
			b, err := cluster.EncodeMsgpack(msg)
			if err != nil {
				t.Fatal(err)
			}
			v, err := cluster.DecodeMsgpack(b)
			if err != nil {
				t.Fatal(err)
			}
			m = cluster.AsMap(v)
		} else {
			b, err := json.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			if m, _, err = decodeNotification(string(b)); err != nil {
				t.Fatal(err)
			}
		}
		got := cluster.Decode(m)
		if got == nil || got.Kind != o.Kind || got.From != "me" || got.RequestID != o.RequestID || got.Count != o.Count ||
			got.Close != o.Close || !reflect.DeepEqual(got.Value, o.Value) || len(got.Data) != len(o.Data) || m["nsp"] != "/" {
			t.Errorf("%d: got %+v from %v", o.Kind, got, m)
		}
		if o.Opts != nil && (!reflect.DeepEqual(got.Opts.Rooms, opts.Rooms) || !reflect.DeepEqual(got.Opts.Except, opts.Except)) {
			t.Errorf("%d: opts %+v", o.Kind, got.Opts)
		}
	}
}

func TestOptions(t *testing.T) {
	o, err := Options{PayloadThreshold: 100000}.withDefaults()
	if err != nil || o.PayloadThreshold != 7999 || o.TableName != "socket_io_attachments" || o.ChannelPrefix != "socket.io" {
		t.Errorf("defaults %+v, %v", o, err)
	}
	for _, name := range []string{"t; DROP TABLE x", "a b", "1t", "a.b.c", `"q"`} {
		if _, err := (Options{TableName: name}).withDefaults(); err == nil {
			t.Errorf("table name %q accepted", name)
		}
	}
	for _, name := range []string{"MyTable", "app.socket_io_attachments", "t$1"} {
		if _, err := (Options{TableName: name}).withDefaults(); err != nil {
			t.Errorf("table name %q: %v", name, err)
		}
	}
	if _, err := channelName("socket.io", "/"+strings.Repeat("n", 52)); err != nil {
		t.Errorf("63 bytes: %v", err)
	}
	if _, err := channelName("socket.io", "/"+strings.Repeat("n", 53)); err == nil {
		t.Error("64 bytes accepted")
	}
}

// FuzzNotification feeds arbitrary notification payloads to the decoders:
// they must never panic.
func FuzzNotification(f *testing.F) {
	for _, n := range nodeNotifications {
		f.Add(n.payload)
	}
	f.Add(`{"uid":"f0a38a0113a2af5e","type":3,"attachmentId":"1"}`)
	f.Add(`{"type":8,"data":{"requestId":"q","sockets":[{"id":"a","handshake":{"query":5},"rooms":3}]},"uid":"u"}`)
	f.Fuzz(func(t *testing.T, payload string) {
		m, _, err := decodeNotification(payload)
		if err != nil {
			return
		}
		o := cluster.Decode(m)
		if o == nil {
			return
		}
		for _, s := range o.Sockets {
			cluster.DecodeSocket(s)
		}
		if o.Opts != nil {
			cluster.EncodeOpts(o.Opts, true)
		}
	})
}

// FuzzDecodeMsgpack feeds arbitrary attachment rows to the MessagePack
// decoder: it must never panic, and what it decodes encodes again.
func FuzzDecodeMsgpack(f *testing.F) {
	for _, h := range []string{
		"84a47479706503a46461746182a67061636b657482a47479706502a46461746193a362696ec40301020381a66e6573746564c4026869a46f70747383a5726f6f6d7390a665786365707490a5666c61677380a3756964b066306133386130313133613261663565a36e7370a12f",
		"96c702000708cd012cd1ff38ce00011170cf0000010000000000d3ffffff0000000000",
	} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := cluster.DecodeMsgpack(b)
		if err != nil {
			return
		}
		if _, err := cluster.EncodeMsgpack(v); err != nil {
			t.Fatalf("%x decoded to %#v, which does not encode: %v", b, v, err)
		}
		if m := cluster.AsMap(v); m != nil {
			cluster.Decode(m)
		}
	})
}
