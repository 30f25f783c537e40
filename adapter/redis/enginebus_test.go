package redisadapter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio"
	"github.com/gorilla/websocket"
)

// busNode is a Socket.IO server that is a node of a cluster without
// sticky sessions, on a real Redis.
type busNode struct {
	io  *socketio.Server
	bus *redisadapter.EngineBus
	hs  *httptest.Server
}

func startBusNode(t testing.TB, r *redisServer, f func(*socketio.Server)) *busNode {
	t.Helper()
	bus, err := redisadapter.NewEngineBus(context.Background(), r.client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &busNode{bus: bus}
	n.io = socketio.NewServer(&socketio.Options{
		Adapter: redisadapter.NewFactory(r.client(), nil),
		Options: engineio.Options{Cluster: &engineio.ClusterOptions{Bus: bus}},
	})
	f(n.io)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", n.io)
	n.hs = httptest.NewServer(mux)
	return n
}

func (n *busNode) close() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_ = n.io.Shutdown(ctx)
	n.hs.Close()
	_ = n.bus.Close()
}

// rrClient sends each request of one session to the next node in turn,
// as a round-robin load balancer does.
type rrClient struct {
	t     testing.TB
	nodes []*busNode
	next  int
	sid   string
	hc    *http.Client
}

func (c *rrClient) url() string {
	n := c.nodes[c.next%len(c.nodes)]
	c.next++
	u := n.hs.URL + "/socket.io/?EIO=4&transport=polling"
	if c.sid != "" {
		u += "&sid=" + c.sid
	}
	return u
}

func (c *rrClient) get() string {
	c.t.Helper()
	res, err := c.hc.Get(c.url())
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("GET: %d %s", res.StatusCode, b)
	}
	return string(b)
}

func (c *rrClient) post(body string) {
	c.t.Helper()
	res, err := c.hc.Post(c.url(), "text/plain;charset=UTF-8", strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(b) != "ok" {
		c.t.Fatalf("POST %q: %d %s", body, res.StatusCode, b)
	}
}

// getUntil polls until a packet starting with prefix arrives, answering
// pings.
func (c *rrClient) getUntil(prefix string) string {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		for _, p := range strings.Split(c.get(), "\x1e") {
			switch {
			case strings.HasPrefix(p, prefix):
				return p
			case p == "2":
				c.post("3")
			}
		}
	}
	c.t.Fatalf("no packet %q", prefix)
	return ""
}

// TestEngineBusRoundRobin: with the engine bus, a Socket.IO session works
// when every one of its requests reaches another node than the last:
// connect, events with acks both ways, rooms and broadcasts across
// nodes, then an upgrade to WebSocket on a node that does not hold the
// session, relayed there.
func TestEngineBusRoundRobin(t *testing.T) {
	t.Cleanup(leakcheck.Check(t)) // after the cleanups registered later
	r := startRedis(t, false)
	var nodes []*busNode
	for range 3 {
		nodes = append(nodes, startBusNode(t, r, func(io *socketio.Server) {
			io.OnConnection(func(s *socketio.Socket) {
				s.On("echo", func(text string, ack socketio.Ack) { _ = ack(text) })
				s.On("join", func(room string, ack socketio.Ack) {
					s.Join(room)
					_ = ack()
				})
			})
		}))
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.close()
		}
	})
	c := &rrClient{t: t, nodes: nodes, hc: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout}}
	defer c.hc.CloseIdleConnections()
	open := c.get()
	if !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	c.sid = open[len(`0{"sid":"`) : len(`0{"sid":"`)+20]
	c.post("40")
	if p := c.getUntil("40"); !strings.Contains(p, `"sid"`) {
		t.Fatalf("CONNECT answer %q", p)
	}
	for i := range 6 {
		c.post(fmt.Sprintf(`42%d["echo","hi %d"]`, i, i))
		if p, want := c.getUntil("43"), fmt.Sprintf(`43%d["hi %d"]`, i, i); p != want {
			t.Fatalf("ack %d: %q, want %q", i, p, want)
		}
	}
	c.post(`429["join","r"]`)
	c.getUntil("439[]")
	// A broadcast from each node reaches the session, wherever its GET is.
	for i, n := range nodes {
		if err := n.io.To("r").Emit("news", i); err != nil {
			t.Fatal(err)
		}
		if p := c.getUntil(`42["news"`); p != fmt.Sprintf(`42["news",%d]`, i) {
			t.Fatalf("broadcast from node %d: %q", i, p)
		}
	}

	// The upgrade, on whichever node comes next.
	n := nodes[c.next%len(nodes)]
	c.next++
	wsURL := "ws" + strings.TrimPrefix(n.hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + c.sid
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	write := func(s string) {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) == "2" {
				write("3")
				continue
			}
			return string(b)
		}
	}
	write("2probe")
	if p := read(); p != "3probe" {
		t.Fatalf("probe answer %q", p)
	}
	c.getUntil("6") // the pending poll released
	write("5")
	write(`4277["echo","over ws"]`)
	if p := read(); p != `4377["over ws"]` {
		t.Fatalf("ack over the relay: %q", p)
	}
	if err := nodes[0].io.To("r").Emit("news", "ws"); err != nil {
		t.Fatal(err)
	}
	if p := read(); p != `42["news","ws"]` {
		t.Fatalf("broadcast over the relay: %q", p)
	}
}

// TestEngineBusAlive: a node is alive while its bus is subscribed.
func TestEngineBusAlive(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	r := startRedis(t, false)
	ctx := context.Background()
	a, err := redisadapter.NewEngineBus(ctx, r.client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := redisadapter.NewEngineBus(ctx, r.client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ok, err := b.Alive(ctx, a.Node()); err != nil || !ok {
		t.Fatalf("a alive: %v, %v", ok, err)
	}
	_ = a.Close()
	eventually(t, "a gone", func() bool {
		ok, err := b.Alive(ctx, a.Node())
		return err == nil && !ok
	})
	if ok, err := b.Alive(ctx, "nobody"); err != nil || ok {
		t.Fatalf("unknown node alive: %v, %v", ok, err)
	}
}
