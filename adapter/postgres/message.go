package postgresadapter

import (
	"strconv"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
)

// opKind is what a message between nodes asks for or answers.
type opKind int

const (
	opBroadcast        opKind = iota // packet to the selected sockets (with requestID: with acks)
	opJoin                           // selected sockets join rooms
	opLeave                          // selected sockets leave rooms
	opDisconnect                     // selected sockets disconnect
	opFetch                          // describe the selected sockets
	opServerSideEmit                 // event for the namespace's server-side handlers
	opClientCount                    // answer to opBroadcast with acks: sockets reached
	opAck                            // answer to opBroadcast with acks: one client's answer
	opFetchResponse                  // answer to opFetch
	opSSEResponse                    // answer to opServerSideEmit
	opInitialHeartbeat               // a node starts: the others answer with opHeartbeat
	opHeartbeat                      // a node is alive
	opAdapterClose                   // a node leaves
)

// op is one message between nodes, decoded. Values are generic trees.
type op struct {
	kind      opKind
	from      string // uid of the sending node; "emitter" for an emitter
	requestID string
	packet    map[string]any // opBroadcast: {type, data, nsp}
	opts      *adapter.BroadcastOptions
	rooms     []string
	close     bool
	data      []any // opServerSideEmit: event then arguments
	value     any   // opAck, opSSEResponse: the answer
	count     int   // opClientCount
	sockets   []any // opFetchResponse: socket descriptions
}

// clusterMessage encodes an op as a cluster message from uid; nsp is left
// out when empty.
func clusterMessage(o *op, uid, nsp string) map[string]any {
	var typ int
	var data map[string]any
	switch o.kind {
	case opBroadcast:
		typ = cluster.Broadcast
		data = map[string]any{"packet": o.packet, "opts": cluster.EncodeOpts(o.opts, true)}
		if o.requestID != "" {
			data["requestId"] = o.requestID
		}
	case opJoin, opLeave:
		typ = cluster.SocketsJoin
		if o.kind == opLeave {
			typ = cluster.SocketsLeave
		}
		data = map[string]any{"opts": cluster.EncodeOpts(o.opts, true), "rooms": cluster.StringsToAny(o.rooms)}
	case opDisconnect:
		typ = cluster.DisconnectSockets
		data = map[string]any{"opts": cluster.EncodeOpts(o.opts, true), "close": o.close}
	case opFetch:
		typ = cluster.FetchSockets
		data = map[string]any{"opts": cluster.EncodeOpts(o.opts, true), "requestId": o.requestID}
	case opFetchResponse:
		typ = cluster.FetchSocketsResponse
		data = map[string]any{"requestId": o.requestID, "sockets": o.sockets}
	case opServerSideEmit:
		typ = cluster.ServerSideEmit
		data = map[string]any{"packet": o.data}
		if o.requestID != "" {
			data["requestId"] = o.requestID
		}
	case opSSEResponse:
		typ = cluster.ServerSideEmitResponse
		data = map[string]any{"requestId": o.requestID, "packet": o.value}
	case opClientCount:
		typ = cluster.BroadcastClientCount
		data = map[string]any{"requestId": o.requestID, "clientCount": o.count}
	case opAck:
		typ = cluster.BroadcastAck
		data = map[string]any{"requestId": o.requestID, "packet": o.value}
	case opInitialHeartbeat:
		typ = cluster.InitialHeartbeat
	case opHeartbeat:
		typ = cluster.Heartbeat
	case opAdapterClose:
		typ = cluster.AdapterClose
	default:
		return nil
	}
	m := map[string]any{"uid": uid, "type": typ}
	if nsp != "" {
		m["nsp"] = nsp
	}
	if data != nil {
		m["data"] = data
	}
	return m
}

// clusterOp decodes a cluster message; nil when it is not one.
func clusterOp(m map[string]any) *op {
	typ, ok := cluster.AsInt(m["type"])
	if !ok {
		return nil
	}
	data := cluster.AsMap(m["data"])
	o := &op{from: cluster.AsString(m["uid"]), requestID: requestID(data["requestId"])}
	opts := func() *adapter.BroadcastOptions { return cluster.DecodeOpts(data["opts"]) }
	switch typ {
	case cluster.InitialHeartbeat:
		o.kind = opInitialHeartbeat
	case cluster.Heartbeat:
		o.kind = opHeartbeat
	case cluster.AdapterClose:
		o.kind = opAdapterClose
	case cluster.Broadcast:
		o.kind, o.packet, o.opts = opBroadcast, cluster.AsMap(data["packet"]), opts()
	case cluster.SocketsJoin:
		o.kind, o.opts, o.rooms = opJoin, opts(), cluster.AsStrings(data["rooms"])
	case cluster.SocketsLeave:
		o.kind, o.opts, o.rooms = opLeave, opts(), cluster.AsStrings(data["rooms"])
	case cluster.DisconnectSockets:
		o.kind, o.opts, o.close = opDisconnect, opts(), cluster.Truthy(data["close"])
	case cluster.FetchSockets:
		o.kind, o.opts = opFetch, opts()
	case cluster.FetchSocketsResponse:
		o.kind, o.sockets = opFetchResponse, cluster.AsSlice(data["sockets"])
	case cluster.ServerSideEmit:
		o.kind, o.data = opServerSideEmit, cluster.AsSlice(data["packet"])
	case cluster.ServerSideEmitResponse:
		o.kind, o.value = opSSEResponse, data["packet"]
	case cluster.BroadcastClientCount:
		n, _ := cluster.AsInt(data["clientCount"])
		o.kind, o.count = opClientCount, int(n)
	case cluster.BroadcastAck:
		o.kind, o.value = opAck, data["packet"]
	default:
		return nil
	}
	return o
}

// requestID reads a request id, a string in the Node adapters.
func requestID(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	}
	return ""
}
