package postgresadapter

import "github.com/duplexio/duplex/adapter/cluster"

// op is one message between nodes, decoded; the adapter speaks the
// cluster protocol and nothing else.
type op = cluster.Op

// opKind is what an op asks for or answers.
type opKind = cluster.Kind

const (
	opBroadcast        = cluster.OpBroadcast
	opJoin             = cluster.OpJoin
	opLeave            = cluster.OpLeave
	opDisconnect       = cluster.OpDisconnect
	opFetch            = cluster.OpFetch
	opServerSideEmit   = cluster.OpServerSideEmit
	opClientCount      = cluster.OpClientCount
	opAck              = cluster.OpAck
	opFetchResponse    = cluster.OpFetchResponse
	opSSEResponse      = cluster.OpSSEResponse
	opInitialHeartbeat = cluster.OpInitialHeartbeat
	opHeartbeat        = cluster.OpHeartbeat
	opAdapterClose     = cluster.OpAdapterClose
)
