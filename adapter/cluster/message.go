package cluster

// Message types of socket.io-adapter's ClusterAdapter, which the Node
// adapters built on it speak (@socket.io/redis-adapter's sharded adapter,
// @socket.io/redis-streams-adapter, @socket.io/postgres-adapter). A
// message is {uid, nsp, type, data}: uid names the sending node
// ("emitter" for an emitter), nsp its namespace.
const (
	InitialHeartbeat       = 1  // a node starts; the others answer with Heartbeat
	Heartbeat              = 2  // a node is alive
	Broadcast              = 3  // {packet, opts, requestId when acks are wanted}
	SocketsJoin            = 4  // {opts, rooms}
	SocketsLeave           = 5  // {opts, rooms}
	DisconnectSockets      = 6  // {opts, close}
	FetchSockets           = 7  // {opts, requestId}
	FetchSocketsResponse   = 8  // {requestId, sockets}
	ServerSideEmit         = 9  // {packet: [event, ...args], requestId when acks are wanted}
	ServerSideEmitResponse = 10 // {requestId, packet: the answer}
	BroadcastClientCount   = 11 // {requestId, clientCount}
	BroadcastAck           = 12 // {requestId, packet: one client's answer}
	AdapterClose           = 13 // a node leaves
)
