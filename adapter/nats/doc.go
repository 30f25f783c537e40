// Package natsadapter is a cluster adapter on core NATS: the servers of
// a cluster (Go servers only: no Node adapter speaks this protocol) reach
// each other's sockets through a NATS server or cluster.
//
// Each namespace's adapter is an adapter/cluster Node (local rooms, the
// requests waiting for other nodes' answers, node discovery with
// heartbeats, since NATS does not count subscribers) whose messages,
// ClusterAdapter messages {uid, nsp, type, data} in MessagePack, travel
// on these subjects, under Options.Prefix (default "socketio"):
//
//	<prefix>.<nsp>.all          messages for every node of the namespace
//	<prefix>.<nsp>.room.<room>  broadcasts without acks to exactly one room
//	<prefix>.<nsp>.node.<uid>   answers for one node
//
// A node subscribes to a room's subject while it has at least one socket
// in the room, so the NATS server does not send it broadcasts to rooms it
// has no member of. Subscribing does not wait for the server: a
// broadcast to a room sent at the moment its first member on a node
// joins may miss that member. Namespace and room names are escaped into subject
// tokens (Token). Socket ids (20 characters) are rooms too, but those
// rooms get no subject: a broadcast to a 20-character room goes to every
// node.
//
// Core NATS delivers at most once: messages published while a node is
// disconnected from NATS are lost for it; nats.go resubscribes on
// reconnection, and the node then says hello to the others so that they
// count it again at once. Connect with nats.MaxReconnects(-1) so that the
// connection never gives up. A message larger than the server's
// max_payload (1 MiB by default) cannot be sent: the operation returns an
// error wrapping nats.ErrMaxPayload.
//
// With Options.RecoveryWindow, connection state recovery works across
// nodes on JetStream: broadcasts without acks, and joins, leaves and
// disconnections (so that every node sees them in order), go through a
// stream (subject <prefix>.<nsp>.js) that every node reads back, the
// sender too, delivering each broadcast with its sequence as the offset
// (an Emitter does so with EmitterOptions.JetStream), and sessions are
// kept in a key-value bucket; a client that comes back to any node
// within the window gets its id, rooms, data and the broadcasts it
// missed. Such broadcasts cost a round trip to the NATS server before
// Broadcast returns, and reach local sockets only once read back.
//
// Emitter publishes on the same subjects from a process serving no
// clients.
//
// Concurrency: the adapters of a factory share its *nats.Conn; each reads
// its namespace's messages in one goroutine, in the order the NATS server
// sent them, until it is closed. The connection belongs to the caller,
// who closes it after the socket.io server.
package natsadapter
