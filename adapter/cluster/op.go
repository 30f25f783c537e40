package cluster

import (
	"encoding/json"
	"strconv"

	"github.com/duplexio/duplex/adapter"
)

// Kind is what an Op asks for or answers, whatever the protocol that
// carries it.
type Kind int

// The kinds of the ClusterAdapter protocol. An adapter may number kinds
// of its own from OpExtension on.
const (
	OpBroadcast        Kind = iota // packet to the selected sockets (with RequestID: with acks)
	OpJoin                         // selected sockets join rooms
	OpLeave                        // selected sockets leave rooms
	OpDisconnect                   // selected sockets disconnect
	OpFetch                        // describe the selected sockets
	OpServerSideEmit               // event for the namespace's server-side handlers
	OpClientCount                  // answer to OpBroadcast with acks: sockets reached
	OpAck                          // answer to OpBroadcast with acks: one client's answer
	OpFetchResponse                // answer to OpFetch
	OpSSEResponse                  // answer to OpServerSideEmit
	OpInitialHeartbeat             // a node starts: the others answer with OpHeartbeat
	OpHeartbeat                    // a node is alive
	OpAdapterClose                 // a node leaves
	// OpExtension is the first kind free for an adapter's own messages.
	OpExtension
)

// Op is one message between nodes, decoded. Values are generic trees.
type Op struct {
	Kind      Kind
	From      string // uid of the sending node; "" or "emitter" for an emitter
	To        string // uid of the node an answer goes to, when the protocol addresses answers
	RequestID string
	Packet    map[string]any // OpBroadcast: {type, data, nsp}
	Opts      *adapter.BroadcastOptions
	Rooms     []string
	Close     bool
	SID       string // one socket, for the kinds of an adapter that act on one
	Data      []any  // OpServerSideEmit: event then arguments
	Value     any    // OpAck, OpSSEResponse: the answer
	Count     int    // OpClientCount
	Sockets   []any  // OpFetchResponse: socket descriptions
	Offset    string // set for messages read from a stream
}

// Encode writes o as a ClusterAdapter message {uid, nsp, type, data} from
// node uid; nsp is left out when empty. It returns nil for a kind the
// protocol does not have.
func Encode(o *Op, uid, nsp string) map[string]any {
	var typ int
	var data map[string]any
	switch o.Kind {
	case OpBroadcast:
		typ = Broadcast
		data = map[string]any{"packet": o.Packet, "opts": EncodeOpts(o.Opts, true)}
		if o.RequestID != "" {
			data["requestId"] = o.RequestID
		}
	case OpJoin, OpLeave:
		typ = SocketsJoin
		if o.Kind == OpLeave {
			typ = SocketsLeave
		}
		data = map[string]any{"opts": EncodeOpts(o.Opts, true), "rooms": StringsToAny(o.Rooms)}
	case OpDisconnect:
		typ = DisconnectSockets
		data = map[string]any{"opts": EncodeOpts(o.Opts, true), "close": o.Close}
	case OpFetch:
		typ = FetchSockets
		data = map[string]any{"opts": EncodeOpts(o.Opts, true), "requestId": o.RequestID}
	case OpFetchResponse:
		typ = FetchSocketsResponse
		data = map[string]any{"requestId": o.RequestID, "sockets": o.Sockets}
	case OpServerSideEmit:
		typ = ServerSideEmit
		data = map[string]any{"packet": o.Data}
		if o.RequestID != "" {
			data["requestId"] = o.RequestID
		}
	case OpSSEResponse:
		typ = ServerSideEmitResponse
		data = map[string]any{"requestId": o.RequestID, "packet": o.Value}
	case OpClientCount:
		typ = BroadcastClientCount
		data = map[string]any{"requestId": o.RequestID, "clientCount": o.Count}
	case OpAck:
		typ = BroadcastAck
		data = map[string]any{"requestId": o.RequestID, "packet": o.Value}
	case OpInitialHeartbeat:
		typ = InitialHeartbeat
	case OpHeartbeat:
		typ = Heartbeat
	case OpAdapterClose:
		typ = AdapterClose
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

// Decode reads a ClusterAdapter message; nil when it is not one.
func Decode(m map[string]any) *Op {
	typ, ok := AsInt(m["type"])
	if !ok {
		return nil
	}
	data := AsMap(m["data"])
	o := &Op{From: AsString(m["uid"]), RequestID: RequestID(data["requestId"])}
	opts := func() *adapter.BroadcastOptions { return DecodeOpts(data["opts"]) }
	switch typ {
	case InitialHeartbeat:
		o.Kind = OpInitialHeartbeat
	case Heartbeat:
		o.Kind = OpHeartbeat
	case AdapterClose:
		o.Kind = OpAdapterClose
	case Broadcast:
		o.Kind, o.Packet, o.Opts = OpBroadcast, AsMap(data["packet"]), opts()
	case SocketsJoin:
		o.Kind, o.Opts, o.Rooms = OpJoin, opts(), AsStrings(data["rooms"])
	case SocketsLeave:
		o.Kind, o.Opts, o.Rooms = OpLeave, opts(), AsStrings(data["rooms"])
	case DisconnectSockets:
		o.Kind, o.Opts, o.Close = OpDisconnect, opts(), Truthy(data["close"])
	case FetchSockets:
		o.Kind, o.Opts = OpFetch, opts()
	case FetchSocketsResponse:
		o.Kind, o.Sockets = OpFetchResponse, AsSlice(data["sockets"])
	case ServerSideEmit:
		o.Kind, o.Data = OpServerSideEmit, AsSlice(data["packet"])
	case ServerSideEmitResponse:
		o.Kind, o.Value = OpSSEResponse, data["packet"]
	case BroadcastClientCount:
		n, _ := AsInt(data["clientCount"])
		o.Kind, o.Count = OpClientCount, int(n)
	case BroadcastAck:
		o.Kind, o.Value = OpAck, data["packet"]
	default:
		return nil
	}
	return o
}

// RequestID reads a request id: a string (or, from old emitters, a
// number).
func RequestID(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		b, _ := json.Marshal(t)
		return string(b)
	}
	return ""
}
