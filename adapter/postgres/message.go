package postgresadapter

import (
	"strconv"

	"github.com/duplexio/duplex/adapter"
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

// Message types of socket.io-adapter's ClusterAdapter, which
// @socket.io/postgres-adapter speaks. A message is {uid, nsp, type, data}.
const (
	msgInitialHeartbeat       = 1
	msgHeartbeat              = 2
	msgBroadcast              = 3
	msgSocketsJoin            = 4
	msgSocketsLeave           = 5
	msgDisconnectSockets      = 6
	msgFetchSockets           = 7
	msgFetchSocketsResponse   = 8
	msgServerSideEmit         = 9
	msgServerSideEmitResponse = 10
	msgBroadcastClientCount   = 11
	msgBroadcastAck           = 12
	msgAdapterClose           = 13
)

// clusterMessage encodes an op as a cluster message from uid; nsp is left
// out when empty.
func clusterMessage(o *op, uid, nsp string) map[string]any {
	var typ int
	var data map[string]any
	switch o.kind {
	case opBroadcast:
		typ = msgBroadcast
		data = map[string]any{"packet": o.packet, "opts": encodeOpts(o.opts, true)}
		if o.requestID != "" {
			data["requestId"] = o.requestID
		}
	case opJoin, opLeave:
		typ = msgSocketsJoin
		if o.kind == opLeave {
			typ = msgSocketsLeave
		}
		data = map[string]any{"opts": encodeOpts(o.opts, true), "rooms": stringsToAny(o.rooms)}
	case opDisconnect:
		typ = msgDisconnectSockets
		data = map[string]any{"opts": encodeOpts(o.opts, true), "close": o.close}
	case opFetch:
		typ = msgFetchSockets
		data = map[string]any{"opts": encodeOpts(o.opts, true), "requestId": o.requestID}
	case opFetchResponse:
		typ = msgFetchSocketsResponse
		data = map[string]any{"requestId": o.requestID, "sockets": o.sockets}
	case opServerSideEmit:
		typ = msgServerSideEmit
		data = map[string]any{"packet": o.data}
		if o.requestID != "" {
			data["requestId"] = o.requestID
		}
	case opSSEResponse:
		typ = msgServerSideEmitResponse
		data = map[string]any{"requestId": o.requestID, "packet": o.value}
	case opClientCount:
		typ = msgBroadcastClientCount
		data = map[string]any{"requestId": o.requestID, "clientCount": o.count}
	case opAck:
		typ = msgBroadcastAck
		data = map[string]any{"requestId": o.requestID, "packet": o.value}
	case opInitialHeartbeat:
		typ = msgInitialHeartbeat
	case opHeartbeat:
		typ = msgHeartbeat
	case opAdapterClose:
		typ = msgAdapterClose
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
	typ, ok := asInt(m["type"])
	if !ok {
		return nil
	}
	data := asMap(m["data"])
	o := &op{from: asString(m["uid"]), requestID: requestID(data["requestId"])}
	opts := func() *adapter.BroadcastOptions { return decodeOpts(data["opts"]) }
	switch typ {
	case msgInitialHeartbeat:
		o.kind = opInitialHeartbeat
	case msgHeartbeat:
		o.kind = opHeartbeat
	case msgAdapterClose:
		o.kind = opAdapterClose
	case msgBroadcast:
		o.kind, o.packet, o.opts = opBroadcast, asMap(data["packet"]), opts()
	case msgSocketsJoin:
		o.kind, o.opts, o.rooms = opJoin, opts(), asStrings(data["rooms"])
	case msgSocketsLeave:
		o.kind, o.opts, o.rooms = opLeave, opts(), asStrings(data["rooms"])
	case msgDisconnectSockets:
		o.kind, o.opts, o.close = opDisconnect, opts(), truthy(data["close"])
	case msgFetchSockets:
		o.kind, o.opts = opFetch, opts()
	case msgFetchSocketsResponse:
		o.kind, o.sockets = opFetchResponse, asSlice(data["sockets"])
	case msgServerSideEmit:
		o.kind, o.data = opServerSideEmit, asSlice(data["packet"])
	case msgServerSideEmitResponse:
		o.kind, o.value = opSSEResponse, data["packet"]
	case msgBroadcastClientCount:
		n, _ := asInt(data["clientCount"])
		o.kind, o.count = opClientCount, int(n)
	case msgBroadcastAck:
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
