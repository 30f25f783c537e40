package redisadapter_test

import (
	"fmt"
	"slices"
	"time"
)

// The checks of the matrix's operations (matrix_ops_test.go).

// waitUntil polls cond until it holds or mxWait passes.
func waitUntil(cond func() bool) bool { return waitFor(mxWait, cond) }

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(15 * time.Millisecond)
	}
	return true
}

// waitFor polls cond until it holds or the run's patience passes:
// mxWait, or mxWaitUnsupported for an operation that Node does not
// support on the adapter.
func (r *mxRun) waitFor(cond func() bool) bool {
	if _, listed := nodeUnsupported[mxKindOp{r.cl.kind, r.op}]; listed {
		return waitFor(mxWaitUnsupported, cond)
	}
	return waitFor(mxWait, cond)
}

// mxWant is an event that exactly the clients of to must get, once, with
// args rendered as argsJSON renders them ("" for any).
type mxWant struct {
	run   *mxRun
	event string
	to    map[*mxClient]bool
	args  string
	seen  map[*mxClient]int // how many each client had at the check
}

// want returns what the clients of to must get: event, once, with args.
func (r *mxRun) want(event string, to map[*mxClient]bool, args string) *mxWant {
	return &mxWant{run: r, event: event, to: to, args: args}
}

// checkEvents waits until the clients of each want got its event, then,
// after one quiet period for them all, checks every client of every
// namespace: the wanted ones got it once, with its arguments, the others
// never.
func (r *mxRun) checkEvents(ws ...*mxWant) {
	r.waitFor(func() bool {
		for _, w := range ws {
			for c := range w.to {
				if len(c.got(w.event)) == 0 {
					return false
				}
			}
		}
		return true
	})
	time.Sleep(mxQuiet)
	for _, w := range ws {
		w.seen = make(map[*mxClient]int)
		for _, c := range r.cl.clients {
			got := c.got(w.event)
			w.seen[c] = len(got)
			want := 0
			if w.to[c] {
				want = 1
			}
			switch {
			case len(got) != want:
				r.failf(c.srv, "%s got %q %d times, want %d", c.Name, w.event, len(got), want)
			case want == 1 && w.args != "":
				if a := argsJSON(got[0]); a != w.args {
					r.failf(c.srv, "%s got %q with %s, want %s", c.Name, w.event, a, w.args)
				}
			}
		}
		r.cl.wants = append(r.cl.wants, w)
	}
}

// checkAnswers checks the answers of an operation with acks: one from
// each of want (name → the server that answers for it), no other.
func (r *mxRun) checkAnswers(out ctlAnswers, want map[string]*mxServer) {
	n := make(map[string]int)
	for _, a := range out.Answers {
		s, ok := a.(string)
		if !ok {
			r.failAllf("answer %v (%T)", a, a)
			continue
		}
		n[s]++
	}
	complete := true
	for name, s := range want {
		if n[name] != 1 {
			r.failf(s, "%d answers from %s, want 1 (error %q)", n[name], name, out.Err)
			complete = false
		}
		delete(n, name)
	}
	for name, k := range n {
		complete = false
		if s := r.cl.serverOf(name); s != nil {
			r.failf(s, "%d answers from %s, which was not asked", k, name)
		} else {
			r.failAllf("%d answers %q", k, name)
		}
	}
	if out.Err != "" && complete {
		r.failAllf("error with every answer in: %s", out.Err)
	}
}

// serverOf returns the server of a server's or a client's name.
func (cl *mxCluster) serverOf(name string) *mxServer {
	for _, s := range cl.servers {
		if s.name == name {
			return s
		}
	}
	for _, c := range cl.clients {
		if c.Name == name {
			return c.srv
		}
	}
	return nil
}

// localRooms asks every server for its sockets, and returns the rooms of
// the connected clients by what their servers say (nil for a client its
// server does not list).
func (cl *mxCluster) localRooms() (map[*mxClient][]string, error) {
	rooms := make(map[string][]string) // by "nsp id"
	for _, s := range cl.servers {
		var out struct{ Sockets []ctlSocket }
		if err := s.ctl("local", nil, &out); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		for _, so := range out.Sockets {
			rooms[so.Nsp+" "+so.ID] = so.Rooms
		}
	}
	out := make(map[*mxClient][]string)
	for _, c := range cl.clients {
		out[c] = rooms[c.NSP+" "+c.SID]
	}
	return out, nil
}

// checkRoom waits until exactly the clients of want are in room, as
// their servers say, then checks it again after a quiet period, for the
// connected clients of every namespace.
func (r *mxRun) checkRoom(room string, want map[*mxClient]bool) {
	check := func(report bool) bool {
		rooms, err := r.cl.localRooms()
		if err != nil {
			if report {
				r.failAllf("%v", err)
			}
			return false
		}
		ok := true
		for _, c := range r.cl.clients {
			if c.gone() {
				continue
			}
			if in := slices.Contains(rooms[c], room); in != want[c] {
				ok = false
				if report {
					r.failf(c.srv, "%s in room %s: %v, want %v", c.Name, room, in, want[c])
				}
			}
		}
		return ok
	}
	r.waitFor(func() bool { return check(false) })
	time.Sleep(mxQuiet)
	check(true)
}

// checkSockets checks what fetchSockets returned: each of want once, no
// other and, with details, their rooms, data and auth.
func (r *mxRun) checkSockets(sockets []ctlSocket, want map[*mxClient]bool, details bool) {
	seen := make(map[*mxClient]int)
	for _, s := range sockets {
		var c *mxClient
		for _, o := range r.cl.clients {
			if o.SID == s.ID && (c == nil || o.NSP == r.nsp) {
				c = o
			}
		}
		switch {
		case c == nil:
			r.failAllf("fetched %s, no client's", s.ID)
			continue
		case !want[c]:
			r.failf(c.srv, "fetched %s (%s), not selected", c.Name, c.SID)
			continue
		}
		seen[c]++
		if !details {
			continue
		}
		if s.Data["node"] != c.srv.name || s.Data["name"] != c.Name || s.Auth["name"] != c.Name {
			r.failf(c.srv, "%s fetched with data %v, auth %v", c.Name, s.Data, s.Auth)
		}
		rooms := []string{c.SID}
		for room := range c.rooms {
			rooms = append(rooms, room)
		}
		for _, room := range rooms {
			if !slices.Contains(s.Rooms, room) {
				r.failf(c.srv, "%s fetched with rooms %v, not in %s", c.Name, s.Rooms, room)
			}
		}
	}
	for c := range want {
		if seen[c] != 1 {
			r.failf(c.srv, "%s fetched %d times, want once", c.Name, seen[c])
		}
	}
}

// checkReceived waits until the "hello" handlers of the run's namespace
// on the servers of to got "hello:"+arg, then checks, after a quiet
// period, that they did once and no other handler did.
func (r *mxRun) checkReceived(arg string, to []*mxServer) {
	entry := "hello:" + arg
	counts := func() (map[*mxServer]map[string]int, error) {
		out := make(map[*mxServer]map[string]int)
		for _, s := range r.cl.servers {
			var got ctlReceived
			if err := s.ctl("received", nil, &got); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			out[s] = make(map[string]int)
			for nsp, l := range got.All {
				for _, e := range l {
					if e == entry {
						out[s][nsp]++
					}
				}
			}
		}
		return out, nil
	}
	r.waitFor(func() bool {
		n, err := counts()
		if err != nil {
			return false
		}
		for _, s := range to {
			if n[s][r.nsp] == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(mxQuiet)
	n, err := counts()
	if err != nil {
		r.failAllf("%v", err)
		return
	}
	for _, s := range r.cl.servers {
		for _, nsp := range mxNamespaces {
			want := 0
			if nsp == r.nsp && slices.Contains(to, s) {
				want = 1
			}
			if n[s][nsp] != want {
				r.failf(s, "the handler of %s got %q %d times, want %d", nsp, entry, n[s][nsp], want)
			}
		}
	}
}
