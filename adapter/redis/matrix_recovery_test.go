package redisadapter_test

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The recovery cells of the matrix (matrix_test.go): a client of one
// server drops, misses a broadcast, and comes back to another server with
// its pid and offset. They run on a cluster of their own whose servers all
// have connection state recovery, so that the other cells' events carry
// no offsets.

// runRecovery runs the recovery cells of every namespace: from N1 to N2
// (Node→Node), N1 to G1 (Node→Go), G1 to N1 (Go→Node) and G1 to G2
// (Go→Go).
func (cl *mxCluster) runRecovery() {
	n1, n2, g1, g2 := cl.servers[0], cl.servers[1], cl.servers[2], cl.servers[3]
	for _, nsp := range mxNamespaces {
		for _, p := range [][2]*mxServer{{n1, n2}, {n1, g1}, {g1, n1}, {g1, g2}} {
			cl.recover(nsp, p[0], p[1])
		}
	}
}

// nextEvent returns the next event of a client, if one comes within d.
func nextEvent(c *Client, d time.Duration) (Event, bool) {
	select {
	case e := <-c.Events:
		return e, true
	case <-time.After(d):
		return Event{}, false
	}
}

// recover runs one recovery cell: a client of from, in a room, gets an
// event, drops, misses an event to the room (and is not sent one to the
// others), and reconnects to to with its pid and offset. It must get its
// id back, the missed event and no other, its room and its data.
func (cl *mxCluster) recover(nsp string, from, to *mxServer) {
	r := cl.newRun(opRecovery, nsp, from, from.name, false, to.lang)
	ctx := context.Background()
	room := r.room("rec")
	name := fmt.Sprintf("%s-%s%s:rec", from.name, to.name, nsp)
	c := DialNamespace(cl.t, from.url, nsp, name, nil)
	c.Join(room)
	before := r.event("before")
	if !r.ctl("emit", &ctlRequest{Rooms: []string{room}, Event: before}, nil) {
		return
	}
	if e, ok := nextEvent(c, mxWait); !ok || e.Name != before {
		r.failAllf("%s did not get %q before it dropped (got %q)", name, before, e.Name)
		return
	}
	offset, pid, sid := c.LastOffset(), c.PID, c.SID
	c.Drop()

	// The sender let the socket go and, with Streams, keeps its session
	// in Redis.
	left := waitUntil(func() bool {
		var out struct{ Sockets []ctlSocket }
		return from.ctl("local", nil, &out) == nil && !slices.ContainsFunc(out.Sockets, func(s ctlSocket) bool {
			return s.Nsp == nsp && s.ID == sid
		})
	})
	if !left {
		r.failAllf("%s still has %s after it dropped", from.name, name)
		return
	}
	var entries int64
	if cl.kind == streamsKind {
		if !waitUntil(func() bool {
			n, err := cl.rdb.Exists(ctx, "sio:session:"+pid).Result()
			return err == nil && n == 1
		}) {
			r.failAllf("no session %q in Redis", pid)
		}
		entries, _ = cl.rdb.XLen(ctx, "socket.io").Result()
	}
	missed, other := r.event("missed"), r.event("not-for-it")
	if !r.ctl("emit", &ctlRequest{Rooms: []string{room}, Event: missed, Args: []any{"m", 1}}, nil) ||
		!r.ctl("emit", &ctlRequest{Except: []string{room}, Event: other}, nil) {
		return
	}
	if cl.kind == streamsKind && !waitUntil(func() bool {
		n, err := cl.rdb.XLen(ctx, "socket.io").Result()
		return err == nil && n >= entries+2
	}) {
		r.failAllf("the events are not in the stream")
	}

	c2 := DialNamespace(cl.t, to.url, nsp, name, map[string]any{"pid": pid, "offset": offset})
	defer c2.Close()
	if c2.SID != sid {
		r.failf(to, "not recovered (pid %q, offset %q): id %s, was %s", pid, offset, c2.SID, sid)
		return
	}
	switch e, ok := nextEvent(c2, mxWait); {
	case !ok:
		r.failf(to, "%s did not get the missed %q", name, missed)
	case e.Name != missed:
		r.failf(to, "%s got %q, want the missed %q", name, e.Name, missed)
	case len(e.Args) < 2 || argsJSON(Event{Args: e.Args[:2]}) != `["m",1]`:
		r.failf(to, "%s got %q with %s", name, missed, argsJSON(e))
	}
	if e, ok := nextEvent(c2, mxQuiet); ok {
		r.failf(to, "%s then got %q", name, e.Name)
	}
	var sockets []ctlSocket
	if err := to.ctl("fetch", &ctlRequest{Nsp: nsp, Rooms: []string{room}}, &sockets); err != nil {
		r.failf(to, "%v", err)
		return
	}
	if len(sockets) != 1 || sockets[0].ID != sid || sockets[0].Data["node"] != from.name || sockets[0].Data["name"] != name {
		r.failf(to, "the sockets of its room after recovery: %+v", sockets)
	}
}
