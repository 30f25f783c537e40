package engineio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/vmihailenco/msgpack/v5"
)

// A cluster without sticky sessions: a load balancer may send each
// request of a session to any node. A node that gets a request for a
// session it does not hold asks the cluster which node holds it, over a
// ClusterBus, and serves the request for it: a polling GET is held where
// it arrived and answered with the packets the owner sends over the bus;
// the packets of a POST go to the owner over the bus; a WebSocket upgrade
// is accepted where it arrived and its frames relayed to and from the
// owner for the life of the connection. The session itself never moves:
// its heartbeat, its queue and the sockets on it stay on the node that
// made it.
//
// The messages are those of the Node project's @socket.io/cluster-engine
// (RedisEngine): one MessagePack map each, of the same types and fields,
// so that the protocol is one a Node implementation shares.

// ClusterBus carries the messages between the engines of a cluster. The
// Redis adapter module has one (redis.NewEngineBus).
type ClusterBus interface {
	// Node is this node's id on the bus, unique in the cluster.
	Node() string
	// Receive sets the function the bus calls with each message published
	// to this node or to every node, one at a time, in the order each
	// publisher published them. Messages before Receive are dropped.
	Receive(fn func(msg []byte))
	// Publish sends msg to the node named, or to every node (this one
	// included) when node is "".
	Publish(node string, msg []byte) error
}

// NodeWatcher is a ClusterBus that can tell whether a node is still there.
// With it, a node serving requests for another (a held poll, a relayed
// WebSocket) notices within a second or two when that node dies without
// a word (a crash, SIGKILL), and lets the client reconnect, rather than
// leave it waiting for its heartbeat to time out.
type NodeWatcher interface {
	// Alive reports whether node still receives what is published to it.
	Alive(ctx context.Context, node string) (bool, error)
}

// ClusterOptions configures a node of a cluster without sticky sessions
// (Options.Cluster). Session ids must be 20 characters long, as
// Options.GenerateID's default makes them: the nodes ask each other about
// no other (the Node implementation's rule).
type ClusterOptions struct {
	// Bus carries the messages between the nodes.
	Bus ClusterBus
	// ResponseTimeout is how long a node waits for the node holding a
	// session to answer: a request for a session no node answers for is
	// refused after it (400, "Session ID unknown"). Default 1s.
	ResponseTimeout time.Duration
	// NoopUpgradeInterval is how long after granting a WebSocket upgrade
	// to another node the owner releases the client's pending poll, so
	// that the client can finish the upgrade there. Default 200ms.
	NoopUpgradeInterval time.Duration
}

// NewNodeID returns 6 random hex characters, a node id of the size the
// Node implementation uses.
func NewNodeID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// The message types, in the Node implementation's numbering.
const (
	msgLock = iota
	msgLockResponse
	msgDrain
	msgPacket
	msgUpgrade
	msgUpgradeResponse
	msgClose
)

// busSource marks the messages of the protocol on a shared channel.
const busSource = "_eio"

// maxBusDepth bounds the nesting of a bus message: a message is a map
// whose data holds packets, a few levels deep.
const maxBusDepth = 16

// sidLength is the length of a session id another node asks about: the
// Node implementation asks about no other.
const sidLength = 20

type busMessage struct {
	Type        int                `msgpack:"type"`
	RequestID   int64              `msgpack:"requestId,omitempty"`
	SenderID    string             `msgpack:"senderId"`
	RecipientID string             `msgpack:"recipientId,omitempty"`
	Data        msgpack.RawMessage `msgpack:"data"`
	Source      string             `msgpack:"_source"`
}

type lockData struct {
	SID           string `msgpack:"sid"`
	TransportName string `msgpack:"transportName"`
	Type          string `msgpack:"type"` // "read" or "write"
}

type successData struct {
	SID     string `msgpack:"sid,omitempty"`
	Success bool   `msgpack:"success"`
}

type drainData struct {
	SID     string      `msgpack:"sid"`
	Packets []busPacket `msgpack:"packets"`
}

type packetData struct {
	SID    string    `msgpack:"sid"`
	Packet busPacket `msgpack:"packet"`
}

type upgradeResponseData struct {
	TakeOver bool        `msgpack:"takeOver"`
	Packets  []busPacket `msgpack:"packets"`
}

type closeData struct {
	SID    string `msgpack:"sid"`
	Reason string `msgpack:"reason"`
}

// busPacket is an Engine.IO packet as the Node implementation sends it:
// the type by name, the data a string (text) or bytes (binary).
type busPacket struct {
	Type string `msgpack:"type"`
	Data any    `msgpack:"data,omitempty"`
}

var packetNames = [...]string{
	parser.PacketOpen:    "open",
	parser.PacketClose:   "close",
	parser.PacketPing:    "ping",
	parser.PacketPong:    "pong",
	parser.PacketMessage: "message",
	parser.PacketUpgrade: "upgrade",
	parser.PacketNoop:    "noop",
}

func toBus(p parser.Packet) busPacket {
	b := busPacket{Type: "noop"}
	if int(p.Type) < len(packetNames) {
		b.Type = packetNames[p.Type]
	}
	switch {
	case p.Binary:
		b.Data = p.Data
	case len(p.Data) > 0:
		b.Data = string(p.Data)
	}
	return b
}

func fromBus(b busPacket) (parser.Packet, bool) {
	var p parser.Packet
	found := false
	for t, name := range packetNames {
		if name == b.Type {
			p.Type, found = parser.PacketType(t), true
			break
		}
	}
	if !found {
		return p, false
	}
	switch d := b.Data.(type) {
	case nil:
	case string:
		p.Data = []byte(d)
	case []byte:
		p.Data, p.Binary = d, true
	default:
		return p, false
	}
	return p, true
}

func toBusPackets(batch []parser.Packet) []busPacket {
	out := make([]busPacket, len(batch))
	for i := range batch {
		out[i] = toBus(batch[i])
	}
	return out
}

// cluster is a Server's part in a cluster without sticky sessions.
type cluster struct {
	srv  *Server
	bus  ClusterBus
	node string
	opts ClusterOptions

	nextID atomic.Int64

	mu       sync.Mutex
	pending  map[int64]*busRequest  // requests waiting for their response
	reads    map[string]*remoteRead // GETs held here for sessions elsewhere
	relays   map[string]*relay      // WebSockets relayed for sessions elsewhere
	watching bool                   // watchOwners runs
	stopped  bool                   // shutdown has run

	quit    chan struct{}  // closed by shutdown
	watcher sync.WaitGroup // watchOwners
}

// busRequest is a request waiting for its response. onResponse, when
// set, runs on the bus's goroutine before the next message is handled.
type busRequest struct {
	ch         chan busMessage
	onResponse func(m *busMessage)
}

func newCluster(srv *Server, o ClusterOptions) *cluster {
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = time.Second
	}
	if o.NoopUpgradeInterval <= 0 {
		o.NoopUpgradeInterval = 200 * time.Millisecond
	}
	c := &cluster{
		srv:     srv,
		bus:     o.Bus,
		node:    o.Bus.Node(),
		opts:    o,
		pending: make(map[int64]*busRequest),
		reads:   make(map[string]*remoteRead),
		relays:  make(map[string]*relay),
		quit:    make(chan struct{}),
	}
	o.Bus.Receive(c.onMessage)
	return c
}

// publish sends a message of type t with data to node ("" for all).
func (c *cluster) publish(node string, t int, requestID int64, data any) error {
	raw, err := msgpack.Marshal(data)
	if err != nil {
		return err
	}
	msg, err := msgpack.Marshal(&busMessage{
		Type:        t,
		RequestID:   requestID,
		SenderID:    c.node,
		RecipientID: node,
		Data:        raw,
		Source:      busSource,
	})
	if err != nil {
		return err
	}
	return c.bus.Publish(node, msg)
}

// request publishes a message that expects a response, and waits for it
// until ResponseTimeout or done. ok is false without a response.
func (c *cluster) request(node string, t int, data any, onResponse func(m *busMessage), done <-chan struct{}) (busMessage, bool) {
	id := c.nextID.Add(1)
	req := &busRequest{ch: make(chan busMessage, 1), onResponse: onResponse}
	c.mu.Lock()
	c.pending[id] = req
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.publish(node, t, id, data); err != nil {
		c.srv.log.Debug("engineio: cluster publish failed", "err", err)
		return busMessage{}, false
	}
	timer := time.NewTimer(c.opts.ResponseTimeout)
	defer timer.Stop()
	select {
	case m := <-req.ch:
		return m, true
	case <-timer.C:
	case <-done:
	}
	return busMessage{}, false
}

// onMessage handles one message from the bus.
func (c *cluster) onMessage(raw []byte) {
	if !parser.MsgpackWellFormed(raw, maxBusDepth) {
		return // a length past the end would have the decoder allocate it
	}
	var m busMessage
	if err := msgpack.Unmarshal(raw, &m); err != nil || m.Source != busSource || m.SenderID == c.node {
		return
	}
	if m.RecipientID != "" && m.RecipientID != c.node {
		return
	}
	switch m.Type {
	case msgLockResponse, msgUpgradeResponse:
		c.mu.Lock()
		req := c.pending[m.RequestID]
		delete(c.pending, m.RequestID)
		c.mu.Unlock()
		if req == nil {
			return
		}
		if req.onResponse != nil {
			req.onResponse(&m)
		}
		req.ch <- m
	case msgLock:
		c.onLock(&m)
	case msgDrain:
		c.onDrain(&m)
	case msgPacket:
		c.onPacket(&m)
	case msgUpgrade:
		c.onUpgrade(&m)
	case msgClose:
		c.onClose(&m)
	}
}

// closeReason maps a reason sent over the bus to a Reason.
func closeReason(s string) Reason {
	if s == string(ReasonTransportClose) {
		return ReasonTransportClose
	}
	return ReasonTransportError
}
