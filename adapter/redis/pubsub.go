package redisadapter

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/redis/go-redis/v9"
)

// Request types of the pub/sub protocol, as @socket.io/redis-adapter
// numbers them.
const (
	reqSockets              = 0
	reqAllRooms             = 1
	reqRemoteJoin           = 2
	reqRemoteLeave          = 3
	reqRemoteDisconnect     = 4
	reqRemoteFetch          = 5
	reqServerSideEmit       = 6
	reqBroadcast            = 7
	reqBroadcastClientCount = 8
	reqBroadcastAck         = 9
)

// Options configures the pub/sub adapter. Zero values mean the defaults
// of @socket.io/redis-adapter.
type Options struct {
	// Key prefixes the channels; default "socket.io". Every node of a
	// cluster, and the emitters, must use the same.
	Key string
	// RequestsTimeout bounds the wait for other nodes' answers when the
	// context does not say sooner; default 5s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel sends the answers to a request on
	// the channel of the node that asked rather than on the channel all
	// nodes read. Every node must have it set alike.
	PublishOnSpecificResponseChannel bool
	// RecoveryWindow, when above zero, keeps broadcast events and the
	// state of disconnected sockets that long on each node, for connection
	// state recovery on the same node; set it to the server's
	// MaxDisconnectionDuration. Recovery on any node needs the Streams
	// adapter.
	RecoveryWindow time.Duration
	// QueueSize bounds the messages waiting to be published while Redis
	// cannot be reached; default 10000. Past it, broadcasts reach the
	// local sockets only and return ErrQueueFull.
	QueueSize int
	// Logger receives connection losses and recoveries; default none.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Key == "" {
		r.Key = "socket.io"
	}
	if r.RequestsTimeout <= 0 {
		r.RequestsTimeout = defaultRequestsTimeout
	}
	if r.QueueSize <= 0 {
		r.QueueSize = defaultQueueSize
	}
	if r.Logger == nil {
		r.Logger = discardLogger()
	}
	return r
}

// NewFactory returns a Factory of adapters speaking the protocol of
// @socket.io/redis-adapter 8.x (createAdapter): broadcasts on the channels
// "<key>#<nsp>#" and "<key>#<nsp>#<room>#" as MessagePack, requests and
// answers on "<key>-request#<nsp>#" and "<key>-response#<nsp>#". The
// client publishes and, on one connection of its own, subscribes; its
// adapters share that connection. Node servers using that adapter and
// emitters from @socket.io/redis-emitter or NewEmitter join the same
// cluster.
func NewFactory(client redis.UniversalClient, opts *Options) adapter.Factory {
	o := opts.withDefaults()
	sub := newSubscriber(client, o.Logger)
	return func(nsp adapter.Namespace) adapter.Adapter {
		return newPubSub(client, sub, nsp, o)
	}
}

// pubSubAdapter is the adapter of NewFactory.
type pubSubAdapter struct {
	*core
	rdb  redis.UniversalClient
	sub  *subscriber
	pub  *publisher
	opts Options

	channel          string // broadcasts: channel, or channel+room+"#"
	requestChannel   string
	responseChannel  string
	specificResponse string
}

func newPubSub(rdb redis.UniversalClient, sub *subscriber, nsp adapter.Namespace, o Options) *pubSubAdapter {
	a := &pubSubAdapter{
		core: newCore(nsp, randid.Hex(6), o.Logger, o.RequestsTimeout, o.RecoveryWindow, false),
		rdb:  rdb, sub: sub, opts: o,
		channel:         o.Key + "#" + nsp.Name() + "#",
		requestChannel:  o.Key + "-request#" + nsp.Name() + "#",
		responseChannel: o.Key + "-response#" + nsp.Name() + "#",
	}
	a.specificResponse = a.responseChannel + a.uid + "#"
	a.pub = newPublisher(rdb, a.log, o.QueueSize, o.RequestsTimeout)
	a.start(a)
	ctx, cancel := context.WithTimeout(context.Background(), o.RequestsTimeout)
	defer cancel()
	// The pattern first: once the request channel counts this node, its
	// broadcasts reach it too.
	for _, s := range []struct {
		kind byte
		name string
		fn   func(string, []byte)
	}{
		{subPattern, a.channel + "*", a.onMessage},
		{subChannel, a.requestChannel, a.onRequest},
		{subChannel, a.responseChannel, a.onResponse},
		{subChannel, a.specificResponse, a.onResponse},
	} {
		if err := sub.subscribe(ctx, s.kind, s.name, s.fn); err != nil {
			a.log.Warn("redisadapter: cannot subscribe now, will on reconnection", "channel", s.name, "err", err)
		}
	}
	return a
}

func (a *pubSubAdapter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.RequestsTimeout)
	defer cancel()
	a.sub.unsubscribe(ctx, subPattern, a.channel+"*")
	a.sub.unsubscribe(ctx, subChannel, a.requestChannel, a.responseChannel, a.specificResponse)
	a.pub.close()
}

func (a *pubSubAdapter) serverCount(ctx context.Context) (int, error) {
	return numSub(ctx, a.rdb, a.requestChannel, false)
}

// send encodes an op in the format of @socket.io/redis-adapter.
func (a *pubSubAdapter) send(o *op) error {
	var (
		channel = a.requestChannel
		msg     map[string]any
		payload []byte
		err     error
	)
	switch o.Kind {
	case opBroadcast:
		if o.RequestID == "" {
			channel = a.channel
			if len(o.Opts.Rooms) == 1 {
				channel += o.Opts.Rooms[0] + "#"
			}
			payload, err = cluster.EncodeMsgpack([]any{a.uid, o.Packet, cluster.EncodeOpts(o.Opts, true)})
			break
		}
		payload, err = cluster.EncodeMsgpack(map[string]any{
			"uid": a.uid, "requestId": o.RequestID, "type": reqBroadcast,
			"packet": o.Packet, "opts": cluster.EncodeOpts(o.Opts, true),
		})

	case opJoin, opLeave:
		typ := reqRemoteJoin
		if o.Kind == opLeave {
			typ = reqRemoteLeave
		}
		msg = map[string]any{"uid": a.uid, "type": typ, "opts": cluster.EncodeOpts(o.Opts, false), "rooms": cluster.StringsToAny(o.Rooms)}
	case opDisconnect:
		msg = map[string]any{"uid": a.uid, "type": reqRemoteDisconnect, "opts": cluster.EncodeOpts(o.Opts, false), "close": o.Close}
	case opFetch:
		msg = map[string]any{"uid": a.uid, "requestId": o.RequestID, "type": reqRemoteFetch, "opts": cluster.EncodeOpts(o.Opts, false)}
	case opServerSideEmit:
		msg = map[string]any{"uid": a.uid, "type": reqServerSideEmit, "data": o.Data}
		if o.RequestID != "" {
			msg["requestId"] = o.RequestID
		}
	case opClientCount:
		channel = a.responseTo(o.To)
		msg = map[string]any{"type": reqBroadcastClientCount, "requestId": o.RequestID, "clientCount": o.Count}
	case opAck:
		channel = a.responseTo(o.To)
		payload, err = cluster.EncodeMsgpack(map[string]any{"type": reqBroadcastAck, "requestId": o.RequestID, "packet": o.Value})
	case opFetchResponse:
		channel = a.responseTo(o.To)
		msg = map[string]any{"requestId": o.RequestID, "sockets": o.Sockets}
	case opSSEResponse:
		// The reference always answers these on the shared channel.
		channel = a.responseChannel
		msg = map[string]any{"type": reqServerSideEmit, "requestId": o.RequestID, "data": o.Value}
	case opSocketsResponse:
		channel = a.responseTo(o.To)
		msg = map[string]any{"requestId": o.RequestID, "sockets": o.Sockets}
	case opAllRoomsResponse:
		channel = a.responseTo(o.To)
		msg = map[string]any{"requestId": o.RequestID, "rooms": cluster.StringsToAny(o.Rooms)}
	case opDone:
		channel = a.responseTo(o.To)
		msg = map[string]any{"requestId": o.RequestID}
	default:
		return nil
	}
	if msg != nil {
		payload, err = cluster.EncodeAny(msg)
	}
	if err != nil {
		return err
	}
	return a.pub.send(publishItem(channel, payload, false))
}

func (a *pubSubAdapter) responseTo(uid string) string {
	if a.opts.PublishOnSpecificResponseChannel && uid != "" {
		return a.responseChannel + uid + "#"
	}
	return a.responseChannel
}

// hasRoom reports whether a room has local members.
func (a *pubSubAdapter) hasRoom(room string) bool {
	return len(a.Memory.Sockets(&adapter.BroadcastOptions{Rooms: []string{room}})) > 0
}

// onMessage handles a broadcast: [uid, packet, opts] in MessagePack.
func (a *pubSubAdapter) onMessage(channel string, payload []byte) {
	if !strings.HasPrefix(channel, a.channel) || len(channel) < len(a.channel) {
		return
	}
	if room := strings.TrimSuffix(channel[len(a.channel):], "#"); room != "" && !a.hasRoom(room) {
		return
	}
	v, err := cluster.DecodeMsgpack(payload)
	if err != nil {
		a.log.Debug("redisadapter: malformed broadcast", "err", err)
		return
	}
	msg := cluster.AsSlice(v)
	if len(msg) < 3 {
		return
	}
	pkt := cluster.AsMap(msg[1])
	// A channel's prefix also matches a longer namespace's channels
	// ("socket.io#/#" is a prefix of "socket.io#/#room#"), so this
	// adapter, as the Node one, checks the packet's own namespace; an
	// emitter may leave it out for the main namespace.
	if nsp, _ := pkt["nsp"].(string); nsp != a.nsp.Name() && (nsp != "" || a.nsp.Name() != "/") {
		return
	}
	a.handle(&op{Kind: opBroadcast, From: cluster.AsString(msg[0]), Packet: pkt, Opts: cluster.DecodeOpts(msg[2])})
}

// onRequest handles a request from another node or an emitter.
func (a *pubSubAdapter) onRequest(_ string, payload []byte) {
	v, err := cluster.DecodeAny(payload)
	if err != nil {
		a.log.Debug("redisadapter: malformed request", "err", err)
		return
	}
	m := cluster.AsMap(v)
	typ, ok := cluster.AsInt(m["type"])
	if m == nil || !ok {
		return
	}
	o := &op{From: cluster.AsString(m["uid"]), RequestID: cluster.RequestID(m["requestId"])}
	hasOpts := m["opts"] != nil
	if hasOpts {
		o.Opts = cluster.DecodeOpts(m["opts"])
	}
	switch typ {
	case reqSockets:
		o.Kind, o.Rooms = opSockets, cluster.AsStrings(m["rooms"])
	case reqAllRooms:
		o.Kind = opAllRooms
	case reqRemoteJoin, reqRemoteLeave:
		if hasOpts {
			o.Kind, o.Rooms = opJoin, cluster.AsStrings(m["rooms"])
			if typ == reqRemoteLeave {
				o.Kind = opLeave
			}
			break
		}
		o.Kind, o.SID, o.Rooms = opSocketJoin, cluster.AsString(m["sid"]), []string{cluster.AsString(m["room"])}
		if typ == reqRemoteLeave {
			o.Kind = opSocketLeave
		}
	case reqRemoteDisconnect:
		o.Close = cluster.Truthy(m["close"])
		if hasOpts {
			o.Kind = opDisconnect
			break
		}
		o.Kind, o.SID = opSocketDisconnect, cluster.AsString(m["sid"])
	case reqRemoteFetch:
		if !hasOpts {
			o.Opts = &adapter.BroadcastOptions{}
		}
		o.Kind = opFetch
	case reqServerSideEmit:
		o.Kind, o.Data = opServerSideEmit, cluster.AsSlice(m["data"])
	case reqBroadcast:
		if !hasOpts {
			o.Opts = &adapter.BroadcastOptions{}
		}
		o.Kind, o.Packet = opBroadcast, cluster.AsMap(m["packet"])
		if o.RequestID == "" {
			return
		}
	default:
		return
	}
	if o.Opts == nil {
		o.Opts = &adapter.BroadcastOptions{}
	}
	a.handle(o)
}

// onResponse handles an answer to a request; answers to other nodes'
// requests are ignored by their id.
func (a *pubSubAdapter) onResponse(_ string, payload []byte) {
	v, err := cluster.DecodeAny(payload)
	if err != nil {
		a.log.Debug("redisadapter: malformed response", "err", err)
		return
	}
	m := cluster.AsMap(v)
	if m == nil {
		return
	}
	o := &op{RequestID: cluster.RequestID(m["requestId"])}
	typ, hasType := cluster.AsInt(m["type"])
	switch {
	case hasType && typ == reqBroadcastClientCount:
		n, _ := cluster.AsInt(m["clientCount"])
		o.Kind, o.Count = opClientCount, int(n)
	case hasType && typ == reqBroadcastAck:
		o.Kind, o.Value = opAck, m["packet"]
	case hasType && typ == reqServerSideEmit:
		o.Kind, o.Value = opSSEResponse, m["data"]
	case m["sockets"] != nil:
		o.Kind, o.Sockets = opFetchResponse, cluster.AsSlice(m["sockets"])
		// An answer to a "sockets" request lists ids: not ours to take.
		for _, s := range o.Sockets {
			if _, isID := s.(string); isID {
				return
			}
		}
	default:
		return
	}
	a.handle(o)
}
