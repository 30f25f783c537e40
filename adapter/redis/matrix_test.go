package redisadapter_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/redis/go-redis/v9"
)

// The matrix: every adapter (pub/sub, sharded, Streams) × namespace (the
// main one, a static one, a dynamic one) × cross-node operation ×
// direction, with Node–Node as the baseline.
//
// Each adapter gets a cluster of four servers on one Redis: two Node ones
// (N1, N2, interop/node-server.mjs) and two Go ones (G1, G2, ctlNode),
// driven through the same ctl API, with raw WebSocket clients on every
// server and namespace. Each operation runs from N1 and from G1 (emitter
// operations: from the Node emitter and from the Go one); what it does on
// each server, to its clients or to its state, is a check of the pairing
// sender→server: from N1, N1 and N2 are Node→Node and G1 and G2 Node→Go;
// from G1, Go→Node and Go→Go. A cell (adapter, namespace, operation,
// pairing) passes when all its checks do. Every client of every namespace
// is watched for each operation, so a namespace's broadcast reaching
// another namespace fails the cell.
//
// The cells Node itself fails are listed in nodeUnsupported; any other
// Node–Node failure fails the test (the baseline broke), and so does a
// cell that fails Node→Go, Go→Node or Go→Go where Node→Node passes.

const (
	// mxWait bounds the wait for what must happen.
	mxWait = 5 * time.Second
	// mxWaitUnsupported bounds it for an operation that Node does not
	// support on the adapter (nodeUnsupported): what would happen if it
	// did happens in milliseconds.
	mxWaitUnsupported = 500 * time.Millisecond
	// mxQuiet is how long a check waits to be sure that what must not
	// happen does not; one such wait serves all the clients of a check.
	mxQuiet = 250 * time.Millisecond
	// mxRecovery is the recovery window of the recovery cells' servers.
	mxRecovery = time.Minute
)

// mxNamespaces are the namespaces of the matrix: every server declares
// "/chat" and the dynamic namespaces of mxDynamic, such as "/dyn-1".
var mxNamespaces = []string{"/", "/chat", "/dyn-1"}

// lang is the language of a server or an emitter.
type lang string

const (
	langNode lang = "Node"
	langGo   lang = "Go"
)

// mxPairing is a direction: the language of the sender (a server or an
// emitter) and that of the server checked.
type mxPairing struct{ from, to lang }

// String names the pairing: "Node→Go".
func (p mxPairing) String() string { return string(p.from) + "→" + string(p.to) }

var mxPairings = []mxPairing{{langNode, langNode}, {langNode, langGo}, {langGo, langNode}, {langGo, langGo}}

// mxKindOp names an operation on an adapter, in every namespace.
type mxKindOp struct {
	kind kind
	op   string
}

// Why Node fails the cells of nodeUnsupported.
const (
	whyNoSessions = "Node's adapter keeps no session: with connection state recovery and a Redis adapter " +
		"other than Streams, socket.io's restoreSession finds nothing, on any node"
	whyEmitterPubSub = "@socket.io/redis-emitter speaks only the pub/sub adapter's protocol (PUBLISH on " +
		"socket.io#<nsp>#… and socket.io-request#<nsp>#), which this adapter does not read"
)

// nodeUnsupported lists the cells that Node–Node fails, by adapter and
// operation (in every namespace), with the reason. They run all the same,
// to keep the list true: one that passes Node–Node fails the test.
var nodeUnsupported = map[mxKindOp]string{
	{pubsubKind, opRecovery}:                          whyNoSessions,
	{shardedKind, opRecovery}:                         whyNoSessions,
	{shardedKind, "emitter broadcast"}:                whyEmitterPubSub,
	{shardedKind, "emitter rooms/except"}:             whyEmitterPubSub,
	{shardedKind, "emitter binary"}:                   whyEmitterPubSub,
	{shardedKind, "emitter socketsJoin/socketsLeave"}: whyEmitterPubSub,
	{shardedKind, "emitter serverSideEmit"}:           whyEmitterPubSub,
	{shardedKind, "emitter disconnectSockets"}:        whyEmitterPubSub,
	{streamsKind, "emitter broadcast"}:                whyEmitterPubSub,
	{streamsKind, "emitter rooms/except"}:             whyEmitterPubSub,
	{streamsKind, "emitter binary"}:                   whyEmitterPubSub,
	{streamsKind, "emitter socketsJoin/socketsLeave"}: whyEmitterPubSub,
	{streamsKind, "emitter serverSideEmit"}:           whyEmitterPubSub,
	{streamsKind, "emitter disconnectSockets"}:        whyEmitterPubSub,
}

// TestMixedMatrix runs the matrix; with -v it logs its counts by pairing.
func TestMixedMatrix(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	start := time.Now()
	res := &mxResults{cells: make(map[mxCellKey]*mxCell)}
	t.Run("adapters", func(t *testing.T) {
		// The adapters run at once, whatever -parallel says: their tests
		// mostly wait.
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, k := range kinds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(string(k), func(t *testing.T) { runMatrix(t, res, k) })
			}()
		}
	})
	res.evaluate(t)
	t.Logf("the matrix took %s", time.Since(start).Round(time.Millisecond))
}

// runMatrix runs the cells of an adapter: the operations on one cluster,
// the recovery on another.
func runMatrix(t *testing.T, res *mxResults, k kind) {
	t.Run("operations", func(t *testing.T) {
		cl := startMxCluster(t, res, k, 0)
		cl.populate()
		for _, nsp := range mxNamespaces {
			for _, op := range mxOps {
				cl.runOp(op, nsp)
			}
		}
		cl.sweep()
	})
	t.Run("recovery", func(t *testing.T) {
		startMxCluster(t, res, k, mxRecovery).runRecovery()
	})
}

// mxCellKey names a cell.
type mxCellKey struct {
	kind kind
	nsp  string
	op   string
	pair mxPairing
}

// mxCell is a cell's outcome: whether it ran, and its failures.
type mxCell struct {
	ran   bool
	fails []string
}

// mxResults collects the cells' outcomes; safe for concurrent use.
type mxResults struct {
	mu    sync.Mutex
	cells map[mxCellKey]*mxCell
}

// cell returns the cell of k, made if needed; the caller holds m.mu.
func (m *mxResults) cell(k mxCellKey) *mxCell {
	c := m.cells[k]
	if c == nil {
		c = &mxCell{}
		m.cells[k] = c
	}
	return c
}

// ran records that the cell k ran.
func (m *mxResults) ran(k mxCellKey) {
	m.mu.Lock()
	m.cell(k).ran = true
	m.mu.Unlock()
}

// fail records a failure of the cell k.
func (m *mxResults) fail(k mxCellKey, msg string) {
	m.mu.Lock()
	c := m.cell(k)
	c.ran = true
	c.fails = append(c.fails, msg)
	m.mu.Unlock()
}

// get returns a copy of the cell k.
func (m *mxResults) get(k mxCellKey) mxCell {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cell(k)
	return mxCell{ran: c.ran, fails: slices.Clone(c.fails)}
}

// evaluate judges the cells against the baseline and logs the counts.
func (m *mxResults) evaluate(t *testing.T) {
	// Counts by adapter ("" for all) and pairing.
	type count struct{ passed, total, supPassed, supTotal int }
	type countKey struct {
		kind kind
		pair mxPairing
	}
	counts := make(map[countKey]*count)
	add := func(k countKey, passed, supported bool) {
		n := counts[k]
		if n == nil {
			n = &count{}
			counts[k] = n
		}
		n.total++
		if passed {
			n.passed++
		}
		if supported {
			n.supTotal++
			if passed {
				n.supPassed++
			}
		}
	}
	notRun := 0
	unsupported := make(map[mxKindOp][]string) // the Node→Node failures, by namespace
	var beyond []string
	m.mu.Lock()
	ran := make(map[kind]bool) // the adapters with cells that ran (-run may leave some out)
	for k := range m.cells {
		ran[k.kind] = true
	}
	m.mu.Unlock()
	for _, k := range kinds {
		if !ran[k] {
			continue
		}
		for _, nsp := range mxNamespaces {
			for _, op := range mxOpNames() {
				name := fmt.Sprintf("%s %s %s", k, nsp, op)
				_, listed := nodeUnsupported[mxKindOp{k, op}]
				base := m.get(mxCellKey{k, nsp, op, mxPairings[0]})
				basePassed := base.ran && len(base.fails) == 0
				for _, p := range mxPairings {
					c := m.get(mxCellKey{k, nsp, op, p})
					if !c.ran {
						notRun++
						continue
					}
					passed := len(c.fails) == 0
					add(countKey{k, p}, passed, !listed)
					add(countKey{"", p}, passed, !listed)
					switch {
					case p == mxPairings[0]: // judged below
					case passed && listed:
						beyond = append(beyond, name+" "+p.String())
					case passed:
					case basePassed && !listed:
						t.Errorf("%s: %s fails where Node→Node passes:\n\t%s", name, p, strings.Join(c.fails, "\n\t"))
					case !listed:
						t.Logf("%s: %s fails too: %s", name, p, c.fails[0])
					}
				}
				switch {
				case !base.ran:
				case listed && basePassed:
					t.Errorf("%s: listed as unsupported by Node, but Node→Node passes: update nodeUnsupported", name)
				case listed:
					unsupported[mxKindOp{k, op}] = append(unsupported[mxKindOp{k, op}], nsp+": "+base.fails[0])
				case !basePassed:
					t.Errorf("%s: the Node→Node baseline fails:\n\t%s", name, strings.Join(base.fails, "\n\t"))
				}
			}
		}
	}
	if notRun > 0 {
		t.Errorf("%d cells did not run", notRun)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "matrix: %d adapters × %d namespaces × %d operations × %d pairings\n",
		len(kinds), len(mxNamespaces), len(mxOpNames()), len(mxPairings))
	fmt.Fprintf(&b, "\t%-10s %-10s %-14s %s\n", "adapter", "pairing", "passed/total", "passed/total of the cells Node supports")
	for _, k := range append([]kind{""}, kinds...) {
		for _, p := range mxPairings {
			if n := counts[countKey{k, p}]; n != nil {
				name := string(k)
				if k == "" {
					name = "all"
				}
				fmt.Fprintf(&b, "\t%-10s %-10s %-14s %d/%d\n", name, p, fmt.Sprintf("%d/%d", n.passed, n.total), n.supPassed, n.supTotal)
			}
		}
	}
	fmt.Fprintf(&b, "\tcells Node does not support, in every namespace (%d):\n", len(unsupported))
	for _, k := range kinds {
		for _, op := range mxOpNames() {
			if fails := unsupported[mxKindOp{k, op}]; len(fails) > 0 {
				fmt.Fprintf(&b, "\t\t%s %s: %s\n\t\t\tNode→Node %s\n", k, op, nodeUnsupported[mxKindOp{k, op}], fails[0])
			}
		}
	}
	if len(beyond) > 0 {
		fmt.Fprintf(&b, "\tcells Node does not support that pass with Go (%d): %s\n", len(beyond), strings.Join(beyond, "; "))
	}
	t.Log(b.String())
}

// mxServer is a server of a matrix cluster, of either language.
type mxServer struct {
	name string
	lang lang
	url  string
}

// ctl sends a command to the server.
func (s *mxServer) ctl(cmd string, req *ctlRequest, out any) error {
	return postCtl(s.url, cmd, req, out)
}

// mxCluster is a matrix cluster: N1, N2, G1 and G2 on a Redis of their
// own, and the clients.
type mxCluster struct {
	t       *testing.T
	kind    kind
	res     *mxResults
	rdb     *redis.Client
	servers []*mxServer
	clients []*mxClient
	wants   []*mxWant
	seq     int
}

// startMxCluster starts a cluster of the adapter kind, with connection
// state recovery on every server when recovery is above zero.
func startMxCluster(t *testing.T, res *mxResults, k kind, recovery time.Duration) *mxCluster {
	t.Helper()
	r := startRedis(t, false)
	cl := &mxCluster{t: t, kind: k, res: res, rdb: r.client()}
	var env []string
	if recovery > 0 {
		env = append(env, fmt.Sprintf("RECOVERY_MS=%d", recovery.Milliseconds()))
	}
	for _, name := range []string{"N1", "N2"} {
		n := startNodeNode(t, r, k, name, env...)
		cl.servers = append(cl.servers, &mxServer{name: name, lang: langNode, url: n.URL})
	}
	for _, name := range []string{"G1", "G2"} {
		g := startCtlNode(t, r, k, name, recovery)
		cl.servers = append(cl.servers, &mxServer{name: name, lang: langGo, url: g.hs.URL})
	}
	t.Cleanup(ctlClient.CloseIdleConnections)
	return cl
}

// next returns a number not returned before, for unique names.
func (cl *mxCluster) next() int {
	cl.seq++
	return cl.seq
}

// mxSetup are the clients of each server and namespace, and their rooms.
var mxSetup = []struct {
	tag   string
	rooms []string
}{{"a", []string{"r"}}, {"b", []string{"s"}}, {"c", nil}, {"d", []string{"r", "s"}}}

// populate connects the clients of mxSetup and waits until the cluster
// is whole: every server counts four in every namespace and, with the
// sharded adapter, subscribes to the channels of r and s.
func (cl *mxCluster) populate() {
	for _, nsp := range mxNamespaces {
		for _, s := range cl.servers {
			for _, m := range mxSetup {
				cl.dial(s, nsp, m.tag, m.rooms...)
			}
		}
	}
	for _, nsp := range mxNamespaces {
		for _, s := range cl.servers {
			eventually(cl.t, fmt.Sprintf("%s counts %d servers in %s", s.name, len(cl.servers), nsp), func() bool {
				var out struct{ Count int }
				return s.ctl("count", &ctlRequest{Nsp: nsp}, &out) == nil && out.Count == len(cl.servers)
			})
		}
		if cl.kind != shardedKind {
			continue
		}
		for _, room := range []string{"r", "s"} {
			ch := "socket.io#" + nsp + "#" + room + "#"
			eventually(cl.t, "the subscribers of "+ch, func() bool {
				m, err := cl.rdb.PubSubShardNumSub(context.Background(), ch).Result()
				return err == nil && int(m[ch]) == len(cl.servers)
			})
		}
	}
}

// mxClient is a client of the matrix: every event it gets is logged.
type mxClient struct {
	*Client
	srv   *mxServer
	tag   string
	rooms map[string]bool // the rooms it joined, its own aside

	lmu sync.Mutex
	log []Event
}

// dial connects a client to a server's namespace, makes it join rooms,
// and keeps it among the clients watched.
func (cl *mxCluster) dial(s *mxServer, nsp, tag string, rooms ...string) *mxClient {
	cl.t.Helper()
	name := s.name + nsp + ":" + tag
	c := &mxClient{Client: DialNamespace(cl.t, s.url, nsp, name, nil), srv: s, tag: tag, rooms: make(map[string]bool)}
	c.SetAnswer(func(Event) []any { return []any{name} })
	go c.pump()
	for _, room := range rooms {
		c.Join(room)
		c.rooms[room] = true
	}
	cl.clients = append(cl.clients, c)
	return c
}

// pump logs the client's events until its connection ends.
func (c *mxClient) pump() {
	for {
		select {
		case e := <-c.Events:
			c.add(e)
		case <-c.Done():
			for {
				select {
				case e := <-c.Events:
					c.add(e)
				default:
					return
				}
			}
		}
	}
}

// add logs an event.
func (c *mxClient) add(e Event) {
	c.lmu.Lock()
	c.log = append(c.log, e)
	c.lmu.Unlock()
}

// got returns the events called name that the client got.
func (c *mxClient) got(name string) []Event {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	var out []Event
	for _, e := range c.log {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// gone reports whether the client was disconnected.
func (c *mxClient) gone() bool {
	select {
	case <-c.Disconnected:
		return true
	default:
		return false
	}
}

// in reports whether the client is in any of rooms (its own included).
func (c *mxClient) in(rooms []string) bool {
	for _, r := range rooms {
		if r == c.SID || c.rooms[r] {
			return true
		}
	}
	return false
}

// sweep checks, once every operation ran, that no event came late: each
// client has as many of each event as at its check, and none unexpected.
func (cl *mxCluster) sweep() {
	time.Sleep(mxQuiet)
	known := make(map[string]bool)
	for _, w := range cl.wants {
		known[w.event] = true
		for _, c := range cl.clients {
			if n := len(c.got(w.event)); n != w.seen[c] {
				w.run.failf(c.srv, "%s got %q %d times in the end, %d at the check", c.Name, w.event, n, w.seen[c])
			}
		}
	}
	for _, c := range cl.clients {
		c.lmu.Lock()
		for _, e := range c.log {
			if !known[e.Name] {
				cl.t.Errorf("%s got %q, which no operation sent", c.Name, e.Name)
			}
		}
		c.lmu.Unlock()
	}
}
