package redisadapter

import "github.com/duplexio/duplex/adapter"

// Message types of the cluster protocol that the sharded and Streams
// adapters share with socket.io-adapter's ClusterAdapter. A message is
// {uid, nsp, type, data}.
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

// clusterMessage encodes an op as a cluster message from uid.
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
	default:
		return nil
	}
	return map[string]any{"uid": uid, "nsp": nsp, "type": typ, "data": data}
}

// isResponse reports whether an op answers a request (and so goes to the
// requesting node only).
func isResponse(k opKind) bool {
	switch k {
	case opFetchResponse, opSSEResponse, opClientCount, opAck:
		return true
	}
	return false
}

// clusterOp decodes a cluster message; nil when it is not one to act on.
func clusterOp(m map[string]any) *op {
	typ, ok := asInt(m["type"])
	if !ok {
		return nil
	}
	data := asMap(m["data"])
	o := &op{from: asString(m["uid"]), requestID: requestID(data["requestId"])}
	opts := func() *adapter.BroadcastOptions { return decodeOpts(data["opts"]) }
	switch typ {
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
	default: // heartbeats and ADAPTER_CLOSE: these adapters count nodes with Redis
		return nil
	}
	return o
}
