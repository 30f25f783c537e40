// Command sioserver is the Go side of the Socket.IO interop suite: a
// server on package socketio implementing the contract described in
// interop/README.md, configured from the environment. The Node reference
// server in interop/servers/socketio-node.mjs implements the same
// contract.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/socketio"
)

// reasons records why each socket disconnected, for "reason?".
type reasons struct {
	mu sync.Mutex
	m  map[string]string
}

func (r *reasons) set(id string, reason socketio.Reason) {
	r.mu.Lock()
	r.m[id] = string(reason)
	r.mu.Unlock()
}

// clear forgets the reason of a socket connected again under the same id
// (a recovered session).
func (r *reasons) clear(id string) {
	r.mu.Lock()
	delete(r.m, id)
	r.mu.Unlock()
}

func (r *reasons) get(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.m[id]; ok {
		return v
	}
	return "pending"
}

func main() {
	opts := &socketio.Options{
		Options: engineio.Options{
			PingInterval:      envMillis("PING_INTERVAL"),
			PingTimeout:       envMillis("PING_TIMEOUT"),
			MaxHTTPBufferSize: int64(envInt("MAX_PAYLOAD")),
			AllowEIO3:         os.Getenv("ALLOW_EIO3") == "1",
		},
		ConnectTimeout: envMillis("CONNECT_TIMEOUT"),
		AckTimeout:     envMillis("ACK_TIMEOUT"),
	}
	if os.Getenv("PARSER") == "msgpack" {
		opts.Parser = &parser.MsgpackParser{}
	}
	if os.Getenv("RECOVERY") == "1" {
		opts.ConnectionStateRecovery = &socketio.RecoveryOptions{SkipMiddlewares: true}
	}
	io := socketio.NewServer(opts)
	rs := &reasons{m: map[string]string{}}

	io.OnConnection(func(s *socketio.Socket) { setup(s, rs) })
	io.Of("/chat").OnConnection(func(s *socketio.Socket) { setup(s, rs) })
	auth := io.Of("/auth")
	auth.Use(func(s *socketio.Socket) error {
		var token, user string
		if m, ok := s.Handshake().Auth.(map[string]any); ok {
			token, _ = m["token"].(string)
			user, _ = m["user"].(string)
		}
		if token != "secret" {
			return socketio.NewConnectError("unauthorized", map[string]any{"code": 401})
		}
		s.SetData(map[string]any{"user": user})
		return nil
	})
	auth.OnConnection(func(s *socketio.Socket) { setup(s, rs) })
	io.OfRegexp(regexp.MustCompile(`^/dyn-[a-z0-9]+$`)).OnConnection(func(s *socketio.Socket) { setup(s, rs) })

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(envInt("PORT"))))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.Serve(ln))
}

// setup installs the contract's event handlers on a socket.
func setup(s *socketio.Socket, rs *reasons) {
	nsp := s.Namespace()
	rs.clear(s.ID())
	s.OnDisconnect(func(r socketio.Reason) { rs.set(s.ID(), r) })
	s.On("echo", func(args socketio.Args, ack socketio.Ack) {
		vals := decodeAll(args)
		if ack != nil {
			_ = ack(vals...)
			return
		}
		_ = s.Emit("echo", vals...)
	})
	s.On("echo-emit", func(args ...any) { _ = s.Emit("echo", args...) })
	s.On("join", func(room string, ack socketio.Ack) {
		s.Join(room)
		_ = ack(sorted(s.Rooms()))
	})
	s.On("leave", func(room string, ack socketio.Ack) {
		s.Leave(room)
		_ = ack(sorted(s.Rooms()))
	})
	s.On("rooms", func(ack socketio.Ack) { _ = ack(sorted(s.Rooms())) })
	s.On("to", func(ack socketio.Ack, room, event string, rest ...any) {
		_ = s.To(room).Emit(event, rest...)
		_ = ack("ok")
	})
	s.On("all", func(ack socketio.Ack, event string, rest ...any) {
		_ = nsp.Emit(event, rest...)
		_ = ack("ok")
	})
	s.On("except", func(ack socketio.Ack, room, event string, rest ...any) {
		_ = nsp.Except(room).Emit(event, rest...)
		_ = ack("ok")
	})
	s.On("volatile", func(event string, rest ...any) { _ = s.Volatile().Emit(event, rest...) })
	s.On("ask", func(ack socketio.Ack, timeoutMs int, event string, rest ...any) {
		answer, err := s.Timeout(time.Duration(timeoutMs)*time.Millisecond).EmitWithAck(context.Background(), event, rest...)
		if err != nil {
			_ = ack(map[string]any{"error": err.Error()})
			return
		}
		_ = ack(map[string]any{"answer": decodeAll(answer)})
	})
	s.On("ask-all", func(event string, timeoutMs int, ack socketio.Ack) {
		answers, err := nsp.Timeout(time.Duration(timeoutMs)*time.Millisecond).EmitWithAck(context.Background(), event)
		// Each client's first argument, as the reference's broadcast
		// acknowledgement callback gets it.
		out := make([]any, 0, len(answers))
		for _, a := range answers {
			var first any
			if vals := decodeAll(a); len(vals) > 0 {
				first = vals[0]
			}
			out = append(out, first)
		}
		res := map[string]any{"answers": out}
		if err != nil {
			res["error"] = err.Error()
		}
		_ = ack(res)
	})
	// The sockets of room, or of the whole namespace for "".
	in := func(room string) socketio.BroadcastOperator {
		if room == "" {
			return nsp.To()
		}
		return nsp.In(room)
	}
	s.On("fetch", func(room string, ack socketio.Ack) {
		socks, err := in(room).FetchSockets(context.Background())
		if err != nil {
			_ = ack(map[string]any{"error": err.Error()})
			return
		}
		out := make([]map[string]any, 0, len(socks))
		for _, r := range socks {
			out = append(out, map[string]any{"id": r.ID, "rooms": sorted(r.Rooms), "data": r.Data})
		}
		slices.SortFunc(out, func(a, b map[string]any) int {
			return cmpString(a["id"].(string), b["id"].(string))
		})
		_ = ack(out)
	})
	s.On("sockets-join", func(room, target string, ack socketio.Ack) {
		_ = in(room).SocketsJoin(target)
		_ = ack("ok")
	})
	s.On("sockets-leave", func(room, target string, ack socketio.Ack) {
		_ = in(room).SocketsLeave(target)
		_ = ack("ok")
	})
	s.On("disconnect-room", func(room string, close bool) { _ = in(room).DisconnectSockets(close) })
	s.On("disconnect-me", func(close bool) { s.Disconnect(close) })
	s.On("set-data", func(v any, ack socketio.Ack) {
		s.SetData(v)
		_ = ack("ok")
	})
	s.On("reason?", func(id string, ack socketio.Ack) { _ = ack(rs.get(id)) })
	s.On("emit-reserved", func(ack socketio.Ack) {
		err := s.Emit("disconnecting")
		_ = ack(err != nil)
	})
	s.On("binary", func() {
		_ = s.Emit("binary", []byte{1, 2, 3}, map[string]any{"nested": []byte{4, 5}, "list": []any{[]byte{6}}})
	})
	s.On("handshake", func(ack socketio.Ack) {
		h := s.Handshake()
		_ = ack(map[string]any{"auth": h.Auth, "query": h.Query().Get("q"), "nsp": nsp.Name(), "recovered": s.Recovered()})
	})
	s.On("handshake-full", func(ack socketio.Ack) { _ = ack(s.Handshake()) })
	s.On("nested-binary", func(m map[string]any, ack socketio.Ack) {
		isBytes := func(v any) bool { _, ok := v.([]byte); return ok }
		a, _ := m["a"].(map[string]any)
		list, _ := m["list"].([]any)
		var l0, l1c any
		if len(list) == 2 {
			l0 = list[0]
			c, _ := list[1].(map[string]any)
			l1c = c["c"]
		}
		_ = ack(m, map[string]any{"a.b": isBytes(a["b"]), "list.0": isBytes(l0), "list.1.c": isBytes(l1c)})
	})
	s.On("panic", func() { panic("handler panic") })
	s.On("drop", func() { s.Conn().Close() })
	var seenMu sync.Mutex
	seen := []any{}
	s.OnAny(func(event string, args socketio.Args) {
		seenMu.Lock()
		seen = append(seen, map[string]any{"event": event, "args": decodeAll(args)})
		seenMu.Unlock()
	})
	s.On("any?", func(ack socketio.Ack) {
		seenMu.Lock()
		list := slices.Clone(seen)
		seenMu.Unlock()
		_ = ack(list)
	})
}

// decodeAll decodes arguments into generic values ([]byte for binary).
func decodeAll(args socketio.Args) []any {
	out := make([]any, len(args))
	for i, a := range args {
		var v any
		if err := a.Decode(&v); err != nil {
			v = nil
		}
		out[i] = v
	}
	return out
}

func sorted(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func envMillis(name string) time.Duration {
	return time.Duration(envInt(name)) * time.Millisecond
}
