package redisadapter

import (
	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
)

// clusterMessage encodes an op as a cluster message from uid.
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
	typ, ok := cluster.AsInt(m["type"])
	if !ok {
		return nil
	}
	data := cluster.AsMap(m["data"])
	o := &op{from: cluster.AsString(m["uid"]), requestID: requestID(data["requestId"])}
	opts := func() *adapter.BroadcastOptions { return cluster.DecodeOpts(data["opts"]) }
	switch typ {
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
	default: // heartbeats and ADAPTER_CLOSE: these adapters count nodes with Redis
		return nil
	}
	return o
}
