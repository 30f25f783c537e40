package redisadapter_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/socketio"
)

// The servers of the matrix (matrix_test.go), Node and Go, are driven
// through one HTTP API: POST /ctl/<command> with a ctlRequest as JSON.
// interop/node-server.mjs implements it with the Node API, ctlNode below
// with the Go one.

// mxDynamic matches the dynamic namespaces of the matrix servers, as
// node-server.mjs's io.of(/^\/dyn-\d+$/) does.
var mxDynamic = regexp.MustCompile(`^/dyn-\d+$`)

// ctlRequest is the body of a command. Nsp is the namespace, "/" when
// empty; Rooms and Except select sockets; Args may hold {"$bin": [bytes]}
// for binary values, at any depth.
type ctlRequest struct {
	Nsp     string   `json:"nsp,omitempty"`
	Rooms   []string `json:"rooms,omitempty"`
	Except  []string `json:"except,omitempty"`
	Event   string   `json:"event,omitempty"`
	Args    []any    `json:"args,omitempty"`
	Timeout int      `json:"timeout,omitempty"` // milliseconds, for the acks
	Join    string   `json:"join,omitempty"`    // socketsJoin's room
	Leave   string   `json:"leave,omitempty"`   // socketsLeave's room
	IDs     []string `json:"ids,omitempty"`     // remote: the sockets to fetch
	Op      string   `json:"op,omitempty"`      // remote: emit, join, leave or disconnect
	Room    string   `json:"room,omitempty"`    // remote: the room to join or leave
	Close   bool     `json:"close,omitempty"`   // disconnect: the whole connection
}

// ctlAnswers is the answer to emitWithAck and sseAck: the answers that
// came, and the error, if any (a timeout keeps the answers received).
type ctlAnswers struct {
	Answers []any  `json:"answers"`
	Err     string `json:"err"`
}

// ctlSocket describes a socket: one of fetch's, or of local's (with Nsp).
type ctlSocket struct {
	Nsp   string         `json:"nsp,omitempty"`
	ID    string         `json:"id"`
	Rooms []string       `json:"rooms"`
	Data  map[string]any `json:"data,omitempty"`
	Auth  map[string]any `json:"auth,omitempty"`
}

// ctlReceived lists the server-side events a server got ("hello:<arg>"),
// by namespace.
type ctlReceived struct {
	All map[string][]string `json:"all"`
}

// ctlClient bounds each command; a command that waits for acks or other
// nodes answers well before.
var ctlClient = &http.Client{Timeout: 20 * time.Second}

// postCtl sends a command to the server at url and decodes its answer
// into out (when not nil).
func postCtl(url, cmd string, req *ctlRequest, out any) error {
	if req == nil {
		req = &ctlRequest{}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	resp, err := ctlClient.Post(url+"/ctl/"+cmd, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		first, _, _ := strings.Cut(msg.String(), "\n")
		return fmt.Errorf("%s: %s: %s", cmd, resp.Status, first)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// ctlNode is a Go server of the matrix: the namespaces "/", "/chat" and
// the dynamic ones of mxDynamic, each with the sockets and "hello"
// handler of node-server.mjs, and the ctl API on the same HTTP server.
// It hosts a Go Emitter for the emitter commands.
type ctlNode struct {
	name string
	io   *socketio.Server
	hs   *httptest.Server
	em   *redisadapter.Emitter

	mu  sync.Mutex
	sse map[string][]string // "hello:<arg>" by namespace
}

// startCtlNode starts a Go server of the matrix on the adapter kind,
// with connection state recovery when recovery is above zero; it stops
// when the test ends.
func startCtlNode(t testing.TB, r *redisServer, k kind, name string, recovery time.Duration) *ctlNode {
	t.Helper()
	opts := &socketio.Options{Adapter: r.factory(k, recovery)}
	if recovery > 0 {
		opts.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: recovery, SkipMiddlewares: true}
	}
	g := &ctlNode{name: name, io: socketio.NewServer(opts), em: redisadapter.NewEmitter(r.client(), nil), sse: make(map[string][]string)}
	// As in node-server.mjs, the dynamic namespaces get "hello" when they
	// are created (by the first client connecting to one).
	g.io.Observe(&socketio.Observer{NamespaceCreated: func(n *socketio.Namespace) {
		if mxDynamic.MatchString(n.Name()) {
			g.serverSide(n)
		}
	}})
	for _, name := range []string{"/", "/chat"} {
		n := g.io.Of(name)
		n.OnConnection(g.onConnection)
		g.serverSide(n)
	}
	g.io.OfRegexp(mxDynamic).OnConnection(g.onConnection)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", g.io)
	mux.HandleFunc("/ctl/", g.serveCtl)
	g.hs = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = g.io.Shutdown(ctx)
		g.hs.Close()
	})
	return g
}

// onConnection gives a socket its data and its "join" handler.
func (g *ctlNode) onConnection(s *socketio.Socket) {
	if !s.Recovered() {
		auth, _ := s.Handshake().Auth.(map[string]any)
		s.SetData(map[string]any{"node": g.name, "name": auth["name"]})
	}
	s.On("join", func(room string, ack socketio.Ack) {
		s.Join(room)
		if ack != nil {
			_ = ack()
		}
	})
}

// serverSide adds the handler of "hello" to a namespace: it records the
// event and answers with the server's name.
func (g *ctlNode) serverSide(n *socketio.Namespace) {
	name := n.Name()
	n.On("hello", func(arg string, ack socketio.Ack) {
		g.mu.Lock()
		g.sse[name] = append(g.sse[name], "hello:"+arg)
		g.mu.Unlock()
		if ack != nil {
			_ = ack(g.name)
		}
	})
}

// namespace returns the namespace called name if it exists: Of would
// create a static one, even for a name of the dynamic ones.
func (g *ctlNode) namespace(name string) *socketio.Namespace {
	for _, n := range g.io.Namespaces() {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// serveCtl serves POST /ctl/<command>.
func (g *ctlNode) serveCtl(w http.ResponseWriter, r *http.Request) {
	var req ctlRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := g.control(r.Context(), strings.TrimPrefix(r.URL.Path, "/ctl/"), &req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// control carries out a command with the socketio API.
func (g *ctlNode) control(ctx context.Context, cmd string, req *ctlRequest) (any, error) {
	args, _ := revive(req.Args).([]any)
	nsp := req.Nsp
	if nsp == "" {
		nsp = "/"
	}
	switch cmd {
	case "received":
		g.mu.Lock()
		defer g.mu.Unlock()
		all := make(map[string][]string, len(g.sse))
		for n, l := range g.sse {
			all[n] = append([]string(nil), l...)
		}
		return ctlReceived{All: all}, nil
	case "local":
		var out struct {
			Sockets []ctlSocket `json:"sockets"`
		}
		for _, n := range g.io.Namespaces() {
			for _, s := range n.Sockets() {
				out.Sockets = append(out.Sockets, ctlSocket{Nsp: n.Name(), ID: s.ID(), Rooms: s.Rooms()})
			}
		}
		return out, nil
	case "emitter", "emitterJoin", "emitterLeave", "emitterDisconnect":
		em := g.em.Of(nsp).Except(req.Except...)
		if len(req.Rooms) > 0 {
			em = em.To(req.Rooms...)
		}
		switch cmd {
		case "emitter":
			return nil, em.Emit(ctx, req.Event, args...)
		case "emitterJoin":
			return nil, em.SocketsJoin(ctx, req.Join)
		case "emitterLeave":
			return nil, em.SocketsLeave(ctx, req.Leave)
		}
		return nil, em.DisconnectSockets(ctx, req.Close)
	case "emitterSse":
		return nil, g.em.Of(nsp).ServerSideEmit(ctx, req.Event, args...)
	}
	ns := g.namespace(nsp)
	if ns == nil {
		return nil, fmt.Errorf("no namespace %s", nsp)
	}
	op := ns.Except(req.Except...)
	if len(req.Rooms) > 0 {
		op = op.To(req.Rooms...)
	}
	timeout := time.Duration(req.Timeout) * time.Millisecond
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	switch cmd {
	case "emit":
		return nil, op.Emit(req.Event, args...)
	case "emitWithAck":
		ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
		defer cancel()
		answers, err := op.Timeout(timeout).EmitWithAck(ctx, req.Event, args...)
		return ackAnswers(answers, err), nil
	case "fetch":
		sockets, err := op.FetchSockets(ctx)
		if err != nil {
			return nil, err
		}
		out := []ctlSocket{}
		for _, s := range sockets {
			data, _ := s.Data.(map[string]any)
			auth, _ := s.Handshake.Auth.(map[string]any)
			out = append(out, ctlSocket{ID: s.ID, Rooms: s.Rooms, Data: data, Auth: auth})
		}
		return out, nil
	case "join":
		return nil, op.SocketsJoin(req.Join)
	case "leave":
		return nil, op.SocketsLeave(req.Leave)
	case "disconnect":
		return nil, op.DisconnectSockets(req.Close)
	case "remote":
		sockets, err := ns.To(req.IDs...).FetchSockets(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range sockets {
			switch req.Op {
			case "emit":
				err = s.Emit(req.Event, args...)
			case "join":
				err = s.Join(req.Room)
			case "leave":
				err = s.Leave(req.Room)
			case "disconnect":
				err = s.Disconnect(req.Close)
			default:
				err = fmt.Errorf("unknown remote op %q", req.Op)
			}
			if err != nil {
				return nil, err
			}
		}
		return map[string]int{"count": len(sockets)}, nil
	case "sse":
		return nil, ns.ServerSideEmit(ctx, req.Event, args...)
	case "sseAck":
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		answers, err := ns.ServerSideEmitWithAck(ctx, req.Event, args...)
		return ackAnswers(answers, err), nil
	case "count":
		n, err := ns.Adapter().ServerCount(ctx)
		return map[string]int{"count": n}, err
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

// ackAnswers is ctlAnswers for the first argument of each answer.
func ackAnswers(answers []socketio.Args, err error) ctlAnswers {
	out := ctlAnswers{Answers: []any{}}
	for _, a := range answers {
		var v any
		if derr := a.Decode(&v); derr != nil {
			err = errors.Join(err, derr)
		}
		out.Answers = append(out.Answers, v)
	}
	if err != nil {
		out.Err = err.Error()
	}
	return out
}

// bin stands for binary in ctl arguments: {"$bin": [bytes]}.
func bin(b ...byte) map[string]any {
	ints := make([]int, len(b))
	for i, c := range b {
		ints[i] = int(c)
	}
	return map[string]any{"$bin": ints}
}

// revive turns the {"$bin": [bytes]} of decoded JSON into []byte.
func revive(v any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = revive(e)
		}
		return out
	case map[string]any:
		if raw, ok := t["$bin"].([]any); ok && len(t) == 1 {
			b := make([]byte, len(raw))
			for i, e := range raw {
				f, _ := e.(float64)
				b[i] = byte(f)
			}
			return b
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = revive(e)
		}
		return out
	}
	return v
}

// binText is how rendered arguments show binary: "bin:" and its hex.
func binText(b []byte) string { return "bin:" + hex.EncodeToString(b) }

// renderArgs renders ctl arguments as argsJSON renders what a client got
// for them.
func renderArgs(args []any) string {
	var walk func(v any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = walk(e)
			}
			return out
		case map[string]any:
			if ints, ok := t["$bin"].([]int); ok && len(t) == 1 {
				b := make([]byte, len(ints))
				for i, c := range ints {
					b[i] = byte(c)
				}
				return binText(b)
			}
			out := make(map[string]any, len(t))
			for k, e := range t {
				out[k] = walk(e)
			}
			return out
		}
		return v
	}
	b, _ := json.Marshal(walk(args))
	return string(b)
}

// argsJSON renders the arguments of an event a client got as JSON (keys
// sorted), each binary placeholder replaced by binText of its attachment,
// so that arguments compare as strings whatever order a sender gave the
// attachments.
func argsJSON(e Event) string {
	var walk func(v any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case []any:
			for i, x := range t {
				t[i] = walk(x)
			}
		case map[string]any:
			if t["_placeholder"] == true {
				num, _ := t["num"].(json.Number)
				n, err := num.Int64()
				if err != nil || n < 0 || int(n) >= len(e.Bins) {
					return fmt.Sprintf("bad placeholder %v", t["num"])
				}
				return binText(e.Bins[n])
			}
			for k, x := range t {
				t[k] = walk(x)
			}
		}
		return v
	}
	out := make([]any, 0, len(e.Args))
	for _, raw := range e.Args {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return "undecodable " + string(raw)
		}
		out = append(out, walk(v))
	}
	b, _ := json.Marshal(out)
	return string(b)
}
