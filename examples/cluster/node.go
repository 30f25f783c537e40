package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duplexio/duplex/adapter"
	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/socketio"
	"github.com/redis/go-redis/v9"
)

// The node's events. Every request the client sends with an
// acknowledgement is answered with the result or with {"error": "..."}.
//
//	client → server
//	  whoami            → "node-2"   the name of the node holding this connection
//	  nodes             → 3          how many nodes the cluster has, as Redis counts them
//	  join(room)        → ["lobby"]  join a room; rooms span the cluster
//	  broadcast(text)   → true       every client of every node gets "broadcast"
//	  to(room, text)    → true       every member of room, on any node, gets "broadcast"
//	                                 (answered once the broadcast is in Redis)
//	server → client
//	  broadcast(message)
const maxTextRunes = 500

var roomPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,23}$`)

// message is what "broadcast" carries to the clients.
type message struct {
	Node string `json:"node"`           // the node of the client that sent it
	Room string `json:"room,omitempty"` // empty when sent to everyone
	Text string `json:"text"`
}

// failure answers a request that was refused.
type failure struct {
	Error string `json:"error"`
}

//go:embed index.html
var indexHTML []byte

// Adapter kinds, as the -adapter flag names them.
const (
	adapterPubSub  = "pubsub"
	adapterSharded = "sharded"
	adapterStreams = "streams"
)

// newFactory returns the Redis adapter factory of kind, on rdb; with a
// recovery window, the Streams adapter keeps disconnected sockets' state
// in Redis that long (connection state recovery across nodes).
func newFactory(kind string, rdb redis.UniversalClient, recovery time.Duration, log *slog.Logger) (adapter.Factory, error) {
	if recovery > 0 && kind != adapterStreams {
		return nil, fmt.Errorf("-recovery needs -adapter streams (the other adapters keep no state across nodes)")
	}
	switch kind {
	case adapterPubSub, "":
		return redisadapter.NewFactory(rdb, &redisadapter.Options{Logger: log}), nil
	case adapterSharded:
		return redisadapter.NewShardedFactory(rdb, &redisadapter.ShardedOptions{Logger: log}), nil
	case adapterStreams:
		return redisadapter.NewStreamsFactory(rdb, &redisadapter.StreamsOptions{Logger: log, RecoveryWindow: recovery}), nil
	}
	return nil, fmt.Errorf("unknown adapter %q: want pubsub, sharded or streams", kind)
}

// newRedisClient makes a go-redis client from a URL (redis://, rediss://,
// unix://) or a plain host:port.
func newRedisClient(addr string) (*redis.Client, error) {
	if !strings.Contains(addr, "://") {
		return redis.NewClient(&redis.Options{Addr: addr}), nil
	}
	opts, err := redis.ParseURL(addr)
	if err != nil {
		return nil, fmt.Errorf("redis address: %w", err)
	}
	return redis.NewClient(opts), nil
}

// newServer returns the Socket.IO server of the node called name, its
// namespaces' adapters made by factory; with bus, the node serves the
// requests that reach it for the other nodes' sessions; with recovery, a
// client that comes back within it gets its session back.
func newServer(name string, factory adapter.Factory, bus *redisadapter.EngineBus, recovery time.Duration, log *slog.Logger) *socketio.Server {
	opts := &socketio.Options{
		Adapter: factory,
		Options: engineio.Options{Logger: log},
	}
	if recovery > 0 {
		// Recovered sockets keep their rooms and data; the middlewares
		// (none here) would not run again. Sessions are kept while their
		// sockets are connected too, so that the clients of a node that
		// is killed recover on another one.
		opts.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: recovery, SkipMiddlewares: true, KeepWhileConnected: true}
	}
	if bus != nil {
		opts.Cluster = &engineio.ClusterOptions{Bus: bus}
	}
	io := socketio.NewServer(opts)
	io.OnConnection(func(s *socketio.Socket) {
		log.Debug("connected", "sid", s.ID(), "transport", s.Conn().Transport().String())
		s.On("whoami", func(ack socketio.Ack) { reply(ack, name, nil) })
		s.On("nodes", func(ack socketio.Ack) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := io.Of("/").Adapter().ServerCount(ctx)
			reply(ack, n, err)
		})
		s.On("join", func(room string, ack socketio.Ack) {
			if err := checkRoom(room); err != nil {
				reply(ack, nil, err)
				return
			}
			s.Join(roomKey(room))
			reply(ack, roomsOf(s), nil)
		})
		s.On("broadcast", func(text string, ack socketio.Ack) {
			if err := checkText(text); err != nil {
				reply(ack, nil, err)
				return
			}
			// To every client of the cluster, the sender included.
			reply(ack, true, io.Emit("broadcast", message{Node: name, Text: text}))
		})
		s.On("to", func(room, text string, ack socketio.Ack) {
			if err := errors.Join(checkRoom(room), checkText(text)); err != nil {
				reply(ack, nil, err)
				return
			}
			err := io.To(roomKey(room)).Emit("broadcast", message{Node: name, Room: room, Text: text})
			if err == nil {
				// Acknowledged once the other nodes can have it: a node that
				// dies now has acknowledged nothing the cluster lacks.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err = io.Flush(ctx)
				cancel()
			}
			reply(ack, true, err)
		})
		s.OnDisconnect(func(reason socketio.Reason) {
			log.Debug("disconnected", "sid", s.ID(), "reason", reason)
		})
	})
	return io
}

// newHandler returns the node's routes: the page at "/" and the Socket.IO
// endpoint at "/socket.io/".
func newHandler(io *socketio.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(indexHTML)
	})
	return mux
}

// reply answers an acknowledgement, when the client asked for one.
func reply(ack socketio.Ack, result any, err error) {
	if ack == nil {
		return
	}
	if err != nil {
		_ = ack(failure{Error: err.Error()})
		return
	}
	_ = ack(result)
}

// roomKey is the Socket.IO room of a room a client names. The prefix keeps
// clients out of the rooms named after socket ids, which would let them
// receive other clients' private messages.
func roomKey(room string) string { return "room:" + room }

// roomsOf lists the rooms the socket joined, by the names its client gave.
func roomsOf(s *socketio.Socket) []string {
	var rooms []string
	for _, r := range s.Rooms() {
		if name, ok := strings.CutPrefix(r, "room:"); ok {
			rooms = append(rooms, name)
		}
	}
	return rooms
}

func checkRoom(room string) error {
	if !roomPattern.MatchString(room) {
		return errors.New("a room name is 1 to 24 lowercase letters, digits, - or _")
	}
	return nil
}

func checkText(text string) error {
	if text == "" || utf8.RuneCountInString(text) > maxTextRunes {
		return fmt.Errorf("a text is 1 to %d characters", maxTextRunes)
	}
	return nil
}
