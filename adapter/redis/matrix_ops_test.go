package redisadapter_test

import (
	"fmt"
	"slices"
	"time"
)

// The operations of the matrix (matrix_test.go), and the checks they
// share.

// mxOp is an operation of the matrix.
type mxOp struct {
	name string
	// emitter: sent by an emitter (the Node one hosted by N1, the Go one
	// by G1) rather than by a server.
	emitter bool
	run     func(r *mxRun)
}

// opRecovery names the recovery cells, which run on clusters of their
// own (runRecovery).
const opRecovery = "recovery on another node"

// mxOps are the operations, in the order they run in each namespace: the
// disconnections last.
var mxOps = []mxOp{
	{"broadcast", false, opBroadcast},
	{"rooms/except", false, opRoomsExcept},
	{"binary", false, opBinary},
	{"emitWithAck", false, opEmitWithAck},
	{"fetchSockets", false, opFetchSockets},
	{"remote emit", false, opRemoteEmit},
	{"remote join/leave", false, opRemoteJoinLeave},
	{"socketsJoin/socketsLeave", false, opSocketsJoinLeave},
	{"serverSideEmit", false, opServerSideEmit},
	{"serverSideEmitWithAck", false, opServerSideEmitWithAck},
	{"emitter broadcast", true, opBroadcast},
	{"emitter rooms/except", true, opRoomsExcept},
	{"emitter binary", true, opBinary},
	{"emitter socketsJoin/socketsLeave", true, opSocketsJoinLeave},
	{"emitter serverSideEmit", true, opServerSideEmit},
	{"remote disconnect", false, opRemoteDisconnect},
	{"disconnectSockets", false, opDisconnectSockets},
	{"emitter disconnectSockets", true, opDisconnectSockets},
}

// mxOpNames are the names of the cells' operations.
func mxOpNames() []string {
	var out []string
	for _, op := range mxOps {
		out = append(out, op.name)
	}
	return append(out, opRecovery)
}

// runOp runs an operation in a namespace from N1 and from G1 (or their
// emitters).
func (cl *mxCluster) runOp(op mxOp, nsp string) {
	for _, via := range []*mxServer{cl.servers[0], cl.servers[2]} {
		origin := via.name
		if op.emitter {
			origin = string(via.lang) + " emitter"
		}
		op.run(cl.newRun(op.name, nsp, via, origin, op.emitter))
	}
}

// mxRun is one operation, from one sender, in one namespace. Its checks
// are recorded in the cells of the pairings sender→server checked.
type mxRun struct {
	cl      *mxCluster
	op      string
	nsp     string
	from    lang   // the sender's language
	origin  string // the sender, for the messages: N1, G1, "Go emitter"...
	via     *mxServer
	emitter bool
	to      []lang // the languages of the servers checked
}

// newRun starts a run whose commands go to via; it checks servers of the
// languages to (default both).
func (cl *mxCluster) newRun(op, nsp string, via *mxServer, origin string, emitter bool, to ...lang) *mxRun {
	if len(to) == 0 {
		to = []lang{langNode, langGo}
	}
	r := &mxRun{cl: cl, op: op, nsp: nsp, from: via.lang, origin: origin, via: via, emitter: emitter, to: to}
	for _, l := range to {
		cl.res.ran(r.key(l))
	}
	return r
}

// key is the cell of the run's checks of servers of the language to.
func (r *mxRun) key(to lang) mxCellKey {
	return mxCellKey{r.cl.kind, r.nsp, r.op, mxPairing{r.from, to}}
}

// failf records a failed check on the server s.
func (r *mxRun) failf(s *mxServer, format string, args ...any) {
	r.cl.res.fail(r.key(s.lang), fmt.Sprintf("%s→%s %s: ", r.origin, s.name, r.nsp)+fmt.Sprintf(format, args...))
}

// failAllf records a failure of the operation as a whole.
func (r *mxRun) failAllf(format string, args ...any) {
	msg := fmt.Sprintf("%s %s: ", r.origin, r.nsp) + fmt.Sprintf(format, args...)
	for _, l := range r.to {
		r.cl.res.fail(r.key(l), msg)
	}
}

// emitterCommands are the ctl commands of the emitters.
var emitterCommands = map[string]string{
	"emit": "emitter", "join": "emitterJoin", "leave": "emitterLeave",
	"disconnect": "emitterDisconnect", "sse": "emitterSse",
}

// ctl sends a command, in the run's namespace, to the sender (its
// emitter's version for an emitter run); false when it failed.
func (r *mxRun) ctl(cmd string, req *ctlRequest, out any) bool {
	if r.emitter {
		cmd = emitterCommands[cmd]
	}
	if req.Nsp == "" {
		req.Nsp = r.nsp
	}
	if err := r.via.ctl(cmd, req, out); err != nil {
		r.failAllf("%v", err)
		return false
	}
	return true
}

// event returns a unique event name (or argument) for the run.
func (r *mxRun) event(tag string) string {
	return fmt.Sprintf("%s %s %s #%d", tag, r.nsp, r.origin, r.cl.next())
}

// room returns a unique room name.
func (r *mxRun) room(tag string) string { return fmt.Sprintf("%s-%d", tag, r.cl.next()) }

// selected returns the connected clients of the run's namespace that a
// broadcast to rooms (all when empty) except except reaches.
func (r *mxRun) selected(rooms, except []string) map[*mxClient]bool {
	out := make(map[*mxClient]bool)
	for _, c := range r.cl.clients {
		if c.NSP == r.nsp && !c.gone() && (len(rooms) == 0 || c.in(rooms)) && !c.in(except) {
			out[c] = true
		}
	}
	return out
}

// tagged returns the connected clients of the run's namespace with a
// tag of mxSetup: one per server.
func (r *mxRun) tagged(tag string) []*mxClient {
	var out []*mxClient
	for _, c := range r.cl.clients {
		if c.NSP == r.nsp && c.tag == tag && !c.gone() {
			out = append(out, c)
		}
	}
	return out
}

// ids returns the clients' socket ids.
func ids(cs []*mxClient) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.SID)
	}
	return out
}

// set returns the clients as a set.
func set(cs []*mxClient) map[*mxClient]bool {
	out := make(map[*mxClient]bool)
	for _, c := range cs {
		out[c] = true
	}
	return out
}

// receivers are the servers a server-side event of the run reaches:
// every one but the sender, every one for an emitter.
func (r *mxRun) receivers() []*mxServer {
	var out []*mxServer
	for _, s := range r.cl.servers {
		if r.emitter || s != r.via {
			out = append(out, s)
		}
	}
	return out
}

// opBroadcast: an event to every socket of the namespace.
func opBroadcast(r *mxRun) {
	args := []any{1, "two", map[string]any{"three": []any{3.5, true, nil}}}
	ev := r.event("all")
	if r.ctl("emit", &ctlRequest{Event: ev, Args: args}, nil) {
		r.checkEvents(r.want(ev, r.selected(nil, nil), renderArgs(args)))
	}
}

// opRoomsExcept: events to rooms, with and without except, and to
// sockets' own rooms (alone and together).
func opRoomsExcept(r *mxRun) {
	type selection struct{ rooms, except []string }
	sels := []selection{
		{rooms: []string{"r"}},
		{rooms: []string{"r", "s"}},
		{except: []string{"r"}},
		{rooms: []string{"s"}, except: []string{"r"}},
	}
	own := ids(r.tagged("c"))
	for _, id := range own {
		sels = append(sels, selection{rooms: []string{id}})
	}
	sels = append(sels, selection{rooms: own})
	var ws []*mxWant
	for _, s := range sels {
		ev := r.event(fmt.Sprintf("to %v except %v", s.rooms, s.except))
		args := []any{"x"}
		if !r.ctl("emit", &ctlRequest{Rooms: s.rooms, Except: s.except, Event: ev, Args: args}, nil) {
			break
		}
		ws = append(ws, r.want(ev, r.selected(s.rooms, s.except), renderArgs(args)))
	}
	r.checkEvents(ws...)
}

// opBinary: binary nested in the arguments, to all and to a room.
func opBinary(r *mxRun) {
	args := []any{map[string]any{"a": []any{1, map[string]any{"b": bin(1, 2, 3)}}}, bin(4, 5, 0xff), "tail"}
	var ws []*mxWant
	for _, rooms := range [][]string{nil, {"r"}} {
		ev := r.event("binary")
		if !r.ctl("emit", &ctlRequest{Rooms: rooms, Event: ev, Args: args}, nil) {
			break
		}
		ws = append(ws, r.want(ev, r.selected(rooms, nil), renderArgs(args)))
	}
	r.checkEvents(ws...)
}

// opEmitWithAck: a broadcast to a room with acks; each client answers
// with its name.
func opEmitWithAck(r *mxRun) {
	ev := r.event("ask")
	to := r.selected([]string{"r"}, nil)
	var out ctlAnswers
	if !r.ctl("emitWithAck", &ctlRequest{Rooms: []string{"r"}, Event: ev, Args: []any{"q"}, Timeout: 3000}, &out) {
		return
	}
	want := make(map[string]*mxServer)
	for c := range to {
		want[c.Name] = c.srv
	}
	r.checkAnswers(out, want)
	r.checkEvents(r.want(ev, to, `["q"]`))
}

// opFetchSockets: the sockets of a room, with their rooms and data, then
// all of the namespace's.
func opFetchSockets(r *mxRun) {
	var sockets []ctlSocket
	if r.ctl("fetch", &ctlRequest{Rooms: []string{"r"}}, &sockets) {
		r.checkSockets(sockets, r.selected([]string{"r"}, nil), true)
	}
	sockets = nil
	if r.ctl("fetch", &ctlRequest{}, &sockets) {
		r.checkSockets(sockets, r.selected(nil, nil), false)
	}
}

// opRemoteEmit: fetchSockets by id, then emit to each socket fetched.
func opRemoteEmit(r *mxRun) {
	targets := r.tagged("c")
	ev := r.event("remote")
	args := []any{"to you", map[string]any{"n": 1}}
	if r.ctl("remote", &ctlRequest{IDs: ids(targets), Op: "emit", Event: ev, Args: args}, nil) {
		r.checkEvents(r.want(ev, set(targets), renderArgs(args)))
	}
}

// opRemoteJoinLeave: fetchSockets by id, then make each socket join a
// room, then leave it.
func opRemoteJoinLeave(r *mxRun) {
	targets := r.tagged("c")
	room := r.room("rj")
	if !r.ctl("remote", &ctlRequest{IDs: ids(targets), Op: "join", Room: room}, nil) {
		return
	}
	r.checkRoom(room, set(targets))
	if r.ctl("remote", &ctlRequest{IDs: ids(targets), Op: "leave", Room: room}, nil) {
		r.checkRoom(room, nil)
	}
}

// opSocketsJoinLeave: the sockets of a room but not of another join a
// room, then all leave it.
func opSocketsJoinLeave(r *mxRun) {
	room := r.room("j")
	if !r.ctl("join", &ctlRequest{Rooms: []string{"r"}, Except: []string{"s"}, Join: room}, nil) {
		return
	}
	r.checkRoom(room, r.selected([]string{"r"}, []string{"s"}))
	if r.ctl("leave", &ctlRequest{Rooms: []string{room}, Leave: room}, nil) {
		r.checkRoom(room, nil)
	}
}

// opServerSideEmit: "hello" to the namespace's handlers of the other
// servers.
func opServerSideEmit(r *mxRun) {
	arg := r.event("sse")
	if r.ctl("sse", &ctlRequest{Event: "hello", Args: []any{arg}}, nil) {
		r.checkReceived(arg, r.receivers())
	}
}

// opServerSideEmitWithAck: "hello" with acks; each other server answers
// with its name.
func opServerSideEmitWithAck(r *mxRun) {
	arg := r.event("sse-ack")
	var out ctlAnswers
	if !r.ctl("sseAck", &ctlRequest{Event: "hello", Args: []any{arg}, Timeout: 5000}, &out) {
		return
	}
	want := make(map[string]*mxServer)
	for _, s := range r.receivers() {
		want[s.name] = s
	}
	r.checkAnswers(out, want)
	r.checkReceived(arg, r.receivers())
}

// victims connects a new client to each server in the run's namespace,
// in rooms, to be disconnected.
func (r *mxRun) victims(rooms ...string) []*mxClient {
	var out []*mxClient
	for _, s := range r.cl.servers {
		out = append(out, r.cl.dial(s, r.nsp, fmt.Sprintf("v%d", r.cl.next()), rooms...))
	}
	return out
}

// checkDisconnect runs do, then checks that the victims were disconnected
// and, after a quiet period, that no other client was.
func (r *mxRun) checkDisconnect(victims []*mxClient, do func() bool) {
	var others []*mxClient
	for _, c := range r.cl.clients {
		if !c.gone() && !slices.Contains(victims, c) {
			others = append(others, c)
		}
	}
	if !do() {
		return
	}
	r.waitFor(func() bool {
		for _, v := range victims {
			if !v.gone() {
				return false
			}
		}
		return true
	})
	for _, v := range victims {
		if !v.gone() {
			r.failf(v.srv, "%s still connected", v.Name)
		}
	}
	time.Sleep(mxQuiet)
	for _, c := range others {
		if c.gone() {
			r.failf(c.srv, "%s disconnected too", c.Name)
		}
	}
}

// opRemoteDisconnect: fetchSockets by id, then disconnect each socket.
func opRemoteDisconnect(r *mxRun) {
	victims := r.victims()
	r.checkDisconnect(victims, func() bool {
		return r.ctl("remote", &ctlRequest{IDs: ids(victims), Op: "disconnect"}, nil)
	})
}

// opDisconnectSockets: disconnectSockets of a room's sockets.
func opDisconnectSockets(r *mxRun) {
	room := r.room("v")
	victims := r.victims(room)
	r.checkDisconnect(victims, func() bool {
		return r.ctl("disconnect", &ctlRequest{Rooms: []string{room}}, nil)
	})
}
