package redisadapter

import (
	"context"
	"log/slog"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/parser"
)

// opKind is what a message between nodes asks for or answers, whatever
// the protocol that carries it: the kinds of the cluster protocol, and
// those of the pub/sub adapter only.
type opKind = cluster.Kind

const (
	opBroadcast      = cluster.OpBroadcast
	opJoin           = cluster.OpJoin
	opLeave          = cluster.OpLeave
	opDisconnect     = cluster.OpDisconnect
	opFetch          = cluster.OpFetch
	opServerSideEmit = cluster.OpServerSideEmit
	opClientCount    = cluster.OpClientCount
	opAck            = cluster.OpAck
	opFetchResponse  = cluster.OpFetchResponse
	opSSEResponse    = cluster.OpSSEResponse
)

const (
	opSockets          opKind = cluster.OpExtension + iota // ids of the selected sockets (pub/sub adapter only)
	opAllRooms                                             // every room (pub/sub adapter only)
	opSocketsResponse                                      // answer to opSockets
	opAllRoomsResponse                                     // answer to opAllRooms
	opSocketJoin                                           // one socket joins a room (pub/sub adapter only)
	opSocketLeave                                          // one socket leaves a room (pub/sub adapter only)
	opSocketDisconnect                                     // one socket disconnects (pub/sub adapter only)
	opDone                                                 // answer to the three above
)

// op is one message between nodes, decoded.
type op = cluster.Op

// protocol is how one kind of adapter carries ops over Redis.
type protocol interface {
	// send publishes op to the other nodes (or, for an answer, to op.To).
	send(o *op) error
	// serverCount is the number of nodes of the namespace.
	serverCount(ctx context.Context) (int, error)
	// close stops receiving.
	close()
}

// core is what the adapters share: the cluster.Node (local rooms and
// sockets, requests waiting for answers, the handling of ops from other
// nodes) and the ops of the pub/sub adapter only.
type core struct {
	*cluster.Node
	nsp     adapter.Namespace
	uid     string
	log     *slog.Logger
	timeout time.Duration
	proto   protocol
}

func newCore(nsp adapter.Namespace, uid string, log *slog.Logger, timeout, window time.Duration, appendOffsets bool) *core {
	if log == nil {
		log = discardLogger()
	}
	if timeout <= 0 {
		timeout = defaultRequestsTimeout
	}
	c := &core{nsp: nsp, uid: uid, timeout: timeout}
	c.Node = cluster.NewNode(nsp, cluster.Config{
		UID: uid, Name: "redisadapter", Logger: log,
		RequestsTimeout: timeout, RecoveryWindow: window, AppendOffsets: appendOffsets,
		ErrTimeout: ErrTimeout, ErrClosed: ErrClosed,
		Extension: c.handleOwn,
	})
	c.log = c.Node.Logger()
	return c
}

// start gives the node its protocol, which must be able to receive.
func (c *core) start(p protocol) {
	c.proto = p
	c.Node.Start(transport{p})
}

// transport is a protocol as the cluster.Node sees it; Redis counts the
// nodes.
type transport struct{ p protocol }

// Send implements cluster.Transport.
func (t transport) Send(o *op) error { return t.p.send(o) }

// Close implements cluster.Transport.
func (t transport) Close() { t.p.close() }

// ServerCount implements cluster.Counter: Redis counts the nodes.
func (t transport) ServerCount(ctx context.Context) (int, error) { return t.p.serverCount(ctx) }

// handle carries out an op from another node.
func (c *core) handle(o *op) { c.Node.Handle(o) }

// onBroadcast delivers a broadcast op locally.
func (c *core) onBroadcast(o *op) { c.Node.OnBroadcast(o) }

// eventPacket is the generic form of an outgoing EVENT packet.
func (c *core) eventPacket(p *parser.SocketPacket) (map[string]any, error) {
	return c.Node.EventPacket(p)
}

// handleOwn carries out the ops of the pub/sub adapter only.
func (c *core) handleOwn(o *op) {
	switch o.Kind {
	case opSockets:
		ids := c.Memory.Sockets(&adapter.BroadcastOptions{Rooms: o.Rooms})
		c.Answer(&op{Kind: opSocketsResponse, To: o.From, RequestID: o.RequestID, Sockets: cluster.StringsToAny(ids)})
	case opAllRooms:
		c.Answer(&op{Kind: opAllRoomsResponse, To: o.From, RequestID: o.RequestID, Rooms: c.Memory.Rooms()})
	case opSocketJoin, opSocketLeave, opSocketDisconnect:
		if !c.nsp.Connected(o.SID) {
			return
		}
		ids := []string{o.SID}
		switch o.Kind {
		case opSocketJoin:
			c.nsp.Join(ids, o.Rooms)
		case opSocketLeave:
			c.nsp.Leave(ids, o.Rooms)
		default:
			c.nsp.Disconnect(ids, o.Close)
		}
		c.Answer(&op{Kind: opDone, To: o.From, RequestID: o.RequestID})
	}
}
