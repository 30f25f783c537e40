package engineio

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// memHub is a ClusterBus for the nodes of one process: each node's
// messages are delivered in order by a goroutine of its own, as a
// subscriber connection delivers them.
type memHub struct {
	mu    sync.Mutex
	nodes map[string]*memBus
}

type memBus struct {
	hub  *memHub
	node string

	mu     sync.Mutex
	fn     func([]byte)
	queue  [][]byte
	wake   chan struct{}
	done   chan struct{}
	closed sync.Once
}

func newMemHub() *memHub { return &memHub{nodes: make(map[string]*memBus)} }

func (h *memHub) bus(node string) *memBus {
	b := &memBus{hub: h, node: node, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	h.nodes[node] = b
	h.mu.Unlock()
	go b.loop()
	return b
}

func (b *memBus) Node() string { return b.node }

// Alive implements NodeWatcher: a node is there until its bus closes.
func (b *memBus) Alive(_ context.Context, node string) (bool, error) {
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	_, ok := b.hub.nodes[node]
	return ok, nil
}

func (b *memBus) Receive(fn func([]byte)) {
	b.mu.Lock()
	b.fn = fn
	b.mu.Unlock()
}

func (b *memBus) Publish(node string, msg []byte) error {
	b.hub.mu.Lock()
	var to []*memBus
	for name, n := range b.hub.nodes {
		if node == "" || name == node {
			to = append(to, n)
		}
	}
	b.hub.mu.Unlock()
	for _, n := range to {
		n.mu.Lock()
		n.queue = append(n.queue, append([]byte(nil), msg...))
		n.mu.Unlock()
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (b *memBus) loop() {
	for {
		select {
		case <-b.wake:
		case <-b.done:
			return
		}
		for {
			b.mu.Lock()
			if len(b.queue) == 0 {
				b.mu.Unlock()
				break
			}
			msg := b.queue[0]
			b.queue = b.queue[1:]
			fn := b.fn
			b.mu.Unlock()
			if fn != nil {
				fn(msg)
			}
		}
	}
}

func (b *memBus) close() {
	b.closed.Do(func() {
		b.hub.mu.Lock()
		delete(b.hub.nodes, b.node)
		b.hub.mu.Unlock()
		close(b.done)
	})
}

// clusterEnvs starts n servers on one hub.
func clusterEnvs(t *testing.T, n int, opts Options) ([]*env, func()) {
	envs, _, stop := clusterEnvsBuses(t, n, opts)
	return envs, stop
}

// clusterEnvsBuses is clusterEnvs that also returns the buses.
func clusterEnvsBuses(t *testing.T, n int, opts Options) ([]*env, []*memBus, func()) {
	t.Helper()
	hub := newMemHub()
	var envs []*env
	var buses []*memBus
	for i := range n {
		b := hub.bus(string(rune('a' + i)))
		buses = append(buses, b)
		o := opts
		o.Cluster = &ClusterOptions{Bus: b, ResponseTimeout: 500 * time.Millisecond}
		envs = append(envs, newEnv(t, newRecorder(false), &o))
	}
	return envs, buses, func() {
		for _, e := range envs {
			e.close()
		}
		for _, b := range buses {
			b.close()
		}
	}
}

// TestClusterOwnerGone: a node serving requests for another one that
// dies without a word (its bus gone, as when a process is killed) ends
// them within a few seconds, so that the clients reconnect: a poll held
// for it is answered with a close packet, and a WebSocket relayed to it
// is closed with a close frame.
func TestClusterOwnerGone(t *testing.T) {
	defer leakcheck.Check(t)()
	envs, buses, stop := clusterEnvsBuses(t, 3, Options{})
	defer stop()
	a, b := envs[0], envs[1]

	c, _, s := a.handshake()
	ch := c.on(b).asyncGet()
	waitFor(t, "the remote poll pending", s.writableForTest)

	c2, _, s2 := envs[2].handshake()
	ws := upgradeAt(t, b, c2, s2)
	defer ws.close()

	buses[0].close() // a is gone
	buses[2].close() // and so is the owner of the relayed session
	if got := packetString(pollResult(t, ch)); got != "1" {
		t.Errorf("poll held for a gone node: %q, want the close packet", got)
	}
	if err := ws.expectClosed(); !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
		t.Errorf("relay to a gone node ended with %v, want a close frame", err)
	}
}

// upgradeAt runs the upgrade of the polling session s (client c) to a
// WebSocket opened at e, another node, and returns the WebSocket once the
// owner relays the session to it.
func upgradeAt(t *testing.T, e *env, c *pollClient, s *Session) *wsClient {
	t.Helper()
	poll := c.asyncGet()
	waitFor(t, "a pending poll", s.writableForTest)
	ws := e.mustDialWS("EIO=4&transport=websocket&sid=" + s.ID())
	ws.write("2probe")
	if got := ws.readText(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	// The owner releases the poll (a noop, or a ping that came first).
	for {
		got := packetString(pollResult(t, poll))
		if strings.Contains(got, "6") {
			break
		}
		if got != "2" {
			t.Fatalf("poll during upgrade: %q", got)
		}
		c.post("3")
		poll = c.asyncGet()
	}
	ws.write("5")
	waitFor(t, "the relay in place", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.relayed
	})
	return ws
}

// on makes c's requests go to e's server.
func (p *pollClient) on(e *env) *pollClient {
	q := *p
	q.e = e
	return &q
}

// TestClusterPolling: every request of a polling session may reach any
// node: GETs held on another node get the owner's packets, POSTs sent to
// another node reach the owner, in order, and a close packet posted to
// another node closes the session.
func TestClusterPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	envs, stop := clusterEnvs(t, 2, Options{})
	defer stop()
	a, b := envs[0], envs[1]
	c, _, s := a.handshake()
	cb := c.on(b)

	// A GET at b, answered with what a's session sends.
	ch := cb.asyncGet()
	waitFor(t, "the remote poll pending", s.writableForTest)
	if err := s.Send(textMsg("hello"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(pollResult(t, ch)); got != "4hello" {
		t.Errorf("poll at b: %q", got)
	}
	// Packets queued first leave with the next GET at b at once.
	for _, m := range []string{"x", "y"} {
		if err := s.Send(textMsg(m), SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := packetString(cb.mustGet()); got != "4x|4y" {
		t.Errorf("second poll at b: %q", got)
	}
	// POSTs at b reach a, in order, binary too.
	cb.post("4one\x1ebAQID\x1e4two")
	for _, want := range []message{{s, "one", false}, {s, "\x01\x02\x03", true}, {s, "two", false}} {
		if m := recv(t, a.rec.msgs, "message at a"); m != want {
			t.Errorf("message %+v, want %+v", m, want)
		}
	}
	// Alternate nodes: a GET at a, then at b.
	if err := s.Send(textMsg("z"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := packetString(c.mustGet()); got != "4z" {
		t.Errorf("poll at a: %q", got)
	}
	// A close packet posted at b closes the session; the GET pending at b
	// is released with a noop.
	ch = cb.asyncGet()
	waitFor(t, "the remote poll pending", s.writableForTest)
	cb.post("1")
	a.rec.expectClose(t, s, ReasonTransportClose)
	if got := packetString(pollResult(t, ch)); got != "6" {
		t.Errorf("pending poll after close: %q, want the noop packet", got)
	}
	if a.srv.Stats().Sessions != 0 || b.srv.Stats().Sessions != 0 {
		t.Errorf("sessions left: a %d, b %d", a.srv.Stats().Sessions, b.srv.Stats().Sessions)
	}
}

// TestClusterAbortedRemoteGet: a client that drops a GET another node
// holds ends its session, as on the owner.
func TestClusterAbortedRemoteGet(t *testing.T) {
	defer leakcheck.Check(t)()
	envs, stop := clusterEnvs(t, 2, Options{})
	defer stop()
	a, b := envs[0], envs[1]
	c, _, s := a.handshake()
	conn := rawGet(t, b, c.query(), "")
	waitFor(t, "the remote poll pending", s.writableForTest)
	conn.Close()
	a.rec.expectClose(t, s, ReasonTransportError)
}

// TestClusterUnknownSession: a session no node holds is refused as on a
// single node, once the nodes had their time to answer.
func TestClusterUnknownSession(t *testing.T) {
	defer leakcheck.Check(t)()
	envs, stop := clusterEnvs(t, 2, Options{})
	defer stop()
	for _, sid := range []string{"AAAAAAAAAAAAAAAAAAAA", "short"} {
		res := envs[1].mustDo("GET", "EIO=4&transport=polling&sid="+sid, "", nil)
		if res.status != http.StatusBadRequest || res.body != `{"code":1,"message":"Session ID unknown"}` {
			t.Errorf("sid %q: %d %s", sid, res.status, res.body)
		}
	}
}

// TestClusterRelayedWebSocket: a WebSocket upgrade that reaches another
// node is accepted there and relayed: the pending poll is released, the
// session's packets come over the WebSocket, the client's reach the
// owner, the heartbeat goes on, and closing the session closes the
// WebSocket.
func TestClusterRelayedWebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	envs, stop := clusterEnvs(t, 2, Options{PingInterval: 100 * time.Millisecond, PingTimeout: 500 * time.Millisecond})
	defer stop()
	a, b := envs[0], envs[1]
	c, _, s := a.handshake()
	ws := upgradeAt(t, b, c, s)
	defer ws.close()
	if err := s.Send(textMsg("over ws"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, got := ws.readSkipPings(); got != "4over ws" {
		t.Errorf("relayed packet %q", got)
	}
	ws.write("4from client")
	if m := recv(t, a.rec.msgs, "message at a"); m != (message{s, "from client", false}) {
		t.Errorf("message %+v", m)
	}
	// Heartbeats through the relay keep the session open past PingTimeout.
	deadline := time.Now().Add(700 * time.Millisecond)
	for time.Now().Before(deadline) {
		if got := ws.readText(); got == "2" {
			ws.write("3")
		}
	}
	if s.Transport() != TransportPolling || a.srv.Session(s.ID()) == nil {
		t.Fatal("session lost its heartbeat through the relay")
	}
	s.Close()
	a.rec.expectClose(t, s, ReasonForcedClose)
	if err := ws.expectClosed(); !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
		t.Errorf("relayed WebSocket ended with %v, want a close frame", err)
	}
}

// TestClusterMessages: the bus messages have the Node implementation's
// fields and types.
func TestClusterMessages(t *testing.T) {
	p := toBus(parser.Packet{Type: parser.PacketMessage, Data: []byte("hi")})
	if p.Type != "message" || p.Data != "hi" {
		t.Errorf("text packet %+v", p)
	}
	p = toBus(parser.Packet{Type: parser.PacketMessage, Data: []byte{1}, Binary: true})
	if b, ok := p.Data.([]byte); p.Type != "message" || !ok || len(b) != 1 {
		t.Errorf("binary packet %+v", p)
	}
	p = toBus(parser.Packet{Type: parser.PacketPing})
	if p.Type != "ping" || p.Data != nil {
		t.Errorf("ping %+v", p)
	}
	for _, b := range []busPacket{{Type: "pong"}, {Type: "message", Data: "x"}, {Type: "message", Data: []byte{2}}} {
		if _, ok := fromBus(b); !ok {
			t.Errorf("%+v not decoded", b)
		}
	}
	for _, b := range []busPacket{{Type: "nope"}, {Type: "message", Data: 3}} {
		if _, ok := fromBus(b); ok {
			t.Errorf("%+v decoded", b)
		}
	}
}

// TestClusterWireNode: messages as the Node implementation
// (@socket.io/cluster-engine 0.1.0, RedisEngine) published them, byte
// for byte, decode to what they say; and ours encode the same fields.
func TestClusterWireNode(t *testing.T) {
	lock, _ := hex.DecodeString("85a972657175657374496401a873656e6465724964a6366337663761a47479706500a46461746183a3736964b4423849674a584539302d70556373654d41414141ad7472616e73706f72744e616d65a7706f6c6c696e67a474797065a57772697465a75f736f75726365a45f65696f")
	resp, _ := hex.DecodeString("86a972657175657374496401a873656e6465724964a6373838313665ab726563697069656e744964a6366337663761a47479706501a46461746181a773756363657373c3a75f736f75726365a45f65696f")

	var m busMessage
	if err := msgpack.Unmarshal(lock, &m); err != nil {
		t.Fatal(err)
	}
	var ld lockData
	if err := msgpack.Unmarshal(m.Data, &ld); err != nil {
		t.Fatal(err)
	}
	if m.Type != msgLock || m.RequestID != 1 || m.SenderID != "6c7f7a" || m.Source != "_eio" ||
		ld != (lockData{SID: "B8IgJXE90-pUcseMAAAA", TransportName: "polling", Type: "write"}) {
		t.Errorf("lock %+v %+v", m, ld)
	}
	if err := msgpack.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	var sd successData
	if err := msgpack.Unmarshal(m.Data, &sd); err != nil {
		t.Fatal(err)
	}
	if m.Type != msgLockResponse || m.RequestID != 1 || m.SenderID != "78816e" || m.RecipientID != "6c7f7a" || !sd.Success {
		t.Errorf("lock response %+v %+v", m, sd)
	}

	// Ours, read back as plain maps, have the same keys and values.
	hub := newMemHub()
	bus := hub.bus("78816e")
	defer bus.close()
	c := &cluster{bus: bus, node: "78816e"}
	var got []byte
	spy := &spyBus{memBus: bus, sent: func(msg []byte) { got = msg }}
	c.bus = spy
	if err := c.publish("6c7f7a", msgLockResponse, 1, &successData{Success: true}); err != nil {
		t.Fatal(err)
	}
	var ours, theirs map[string]any
	if err := msgpack.Unmarshal(got, &ours); err != nil {
		t.Fatal(err)
	}
	if err := msgpack.Unmarshal(resp, &theirs); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ours) != fmt.Sprint(theirs) {
		t.Errorf("ours %v, Node's %v", ours, theirs)
	}
}

// spyBus records what is published.
type spyBus struct {
	*memBus
	sent func([]byte)
}

func (b *spyBus) Publish(node string, msg []byte) error {
	b.sent(msg)
	return nil
}

// FuzzClusterMessage: whatever comes over the bus, a node neither panics
// nor answers for sessions it does not hold.
func FuzzClusterMessage(f *testing.F) {
	for _, h := range []string{
		"85a972657175657374496401a873656e6465724964a6366337663761a47479706500a46461746183a3736964b4423849674a584539302d70556373654d41414141ad7472616e73706f72744e616d65a7706f6c6c696e67a474797065a57772697465a75f736f75726365a45f65696f",
		"86a972657175657374496401a873656e6465724964a6373838313665ab726563697069656e744964a6366337663761a47479706501a46461746181a773756363657373c3a75f736f75726365a45f65696f",
	} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	hub := newMemHub()
	bus := hub.bus("fuzz")
	defer bus.close()
	var sent int
	spy := &spyBus{memBus: bus, sent: func([]byte) { sent++ }}
	srv := NewServer(newRecorder(false), &Options{Cluster: &ClusterOptions{Bus: spy}})
	f.Fuzz(func(t *testing.T, msg []byte) {
		srv.cluster.onMessage(msg)
		if sent != 0 {
			t.Fatalf("a node with no session answered %x", msg)
		}
	})
}

// TestClusterMessageHugeLength: a bus message whose lengths claim more
// than it holds is dropped before it is decoded, allocating nothing for
// them (the decoder would read such a string or bin in 1 MB steps).
func TestClusterMessageHugeLength(t *testing.T) {
	hub := newMemHub()
	bus := hub.bus("a")
	defer bus.close()
	srv := NewServer(newRecorder(false), &Options{Cluster: &ClusterOptions{Bus: bus}})
	for _, msg := range [][]byte{
		[]byte("\x85\xc6\xb1g\xcd\x00\x04\x00\x00\x00"), // a bin 32 key of 3 GB
		[]byte("\x81\xa4data\xdb\x7f\xff\xff\xff"),      // a str 32 value of 2 GB
		[]byte("\xdf\x30\x30\x30\x30\xc6\x30\x30\x30\x30"),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 20 {
			srv.cluster.onMessage(msg)
		}
		runtime.ReadMemStats(&after)
		if n := (after.TotalAlloc - before.TotalAlloc) / 20; n > 4096 {
			t.Errorf("%q: %d bytes allocated per message", msg, n)
		}
	}
}
