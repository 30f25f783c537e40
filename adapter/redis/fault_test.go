package redisadapter_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/socketio"
	"github.com/vmihailenco/msgpack/v5"

	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// Redis is killed and started again mid-test: local clients are served
// meanwhile, the nodes reconnect, later broadcasts arrive; with Streams,
// what was broadcast during the outage arrives too, once.
func TestRedisRestart(t *testing.T) {
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			t.Cleanup(leakcheck.Check(t))
			r := startRedis(t, true)
			n0 := startGoNode(t, "n0", r.factory(k, 0), 0)
			n1 := startGoNode(t, "n1", r.factory(k, 0), 0)
			waitServerCount(t, 2, n0.io, n1.io)
			a := Dial(t, n0.hs.URL, "a", nil)
			c := Dial(t, n1.hs.URL, "c", nil)
			a.Join("r")
			c.Join("r")
			if k == shardedKind {
				waitShardSubscribers(t, r.client(), "r", 2)
			}
			if err := n0.io.To("r").Emit("before"); err != nil {
				t.Fatal(err)
			}
			a.Expect("before")
			c.Expect("before")

			r.kill()
			if _, err := n0.io.Of("/").Adapter().ServerCount(context.Background()); err == nil {
				t.Error("server count without Redis: no error")
			}
			// The local client is served at once.
			if err := n0.io.To("r").Emit("during"); err != nil {
				t.Fatal(err)
			}
			a.Expect("during")
			// Requests fail fast and clearly.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if _, err := n0.io.FetchSockets(ctx); err == nil {
				t.Error("fetch without Redis: no error")
			}
			cancel()

			time.Sleep(500 * time.Millisecond) // let the nodes notice
			r.start()
			waitServerCount(t, 2, n0.io, n1.io)
			if k == pubsubKind {
				waitPatterns(t, r.client(), 2)
			}
			if k == shardedKind {
				waitShardSubscribers(t, r.client(), "r", 2)
			}
			if k == streamsKind {
				// Nothing broadcast during the outage is lost.
				c.Expect("during")
			}
			if err := n1.io.To("r").Emit("after"); err != nil {
				t.Fatal(err)
			}
			a.Expect("after")
			if k != streamsKind {
				// Pub/sub may deliver the queued broadcast, if the other
				// node subscribed again before it went out.
				e := c.Expect2("during", "after")
				if e.Name == "during" {
					c.Expect("after")
				}
			} else {
				c.Expect("after")
			}
			a.ExpectNone(quiet)
			c.ExpectNone(quiet)
		})
	}
}

// A client that loses its connection to one node and reconnects to
// another gets its id, rooms and data back, with the events it missed,
// even across a Redis restart.
func TestStreamsRecoveryAcrossNodes(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	const window = time.Minute
	r := startRedis(t, true)
	n0 := startGoNode(t, "n0", r.factory(streamsKind, window), window)
	n1 := startGoNode(t, "n1", r.factory(streamsKind, window), window)
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	a.Join("r")
	if a.PID == "" {
		t.Fatal("no pid: recovery is off")
	}
	if err := n1.io.To("r").Emit("e1", 1); err != nil {
		t.Fatal(err)
	}
	e1 := a.Expect("e1")
	offset := a.LastOffset()
	if len(e1.Args) != 2 || offset == "" {
		t.Fatalf("e1 %s: no offset", e1.Args)
	}

	a.Drop()
	rdb := r.client()
	eventually(t, "the session in Redis", func() bool {
		n, err := rdb.Exists(context.Background(), "sio:session:"+a.PID).Result()
		return err == nil && n == 1
	})
	if err := n1.io.To("r").Emit("e2", 2); err != nil { // missed: to its room
		t.Fatal(err)
	}
	if err := n0.io.Emit("e3", 3); err != nil { // missed: to everyone
		t.Fatal(err)
	}
	if err := n0.io.Except("r").Emit("not-for-a"); err != nil {
		t.Fatal(err)
	}
	b.Expect("e3")
	b.Expect("not-for-a")

	// Redis restarts before the client is back: the stream and the
	// session survive (append-only file).
	r.kill()
	r.start()
	waitServerCount(t, 2, n0.io, n1.io)

	back := Dial(t, n1.hs.URL, "a2", map[string]any{"pid": a.PID, "offset": offset})
	if back.SID != a.SID {
		t.Fatalf("not recovered: sid %q, was %q", back.SID, a.SID)
	}
	// Two nodes added them to the stream: in either order.
	got := map[string]Event{}
	for range 2 {
		e := back.Expect2("e2", "e3")
		got[e.Name] = e
	}
	var n int
	if err := got["e2"].Arg(0, &n); err != nil || n != 2 || len(got) != 2 {
		t.Fatalf("missed events %v", got)
	}
	back.ExpectNone(quiet)

	// Its room and data came back with it.
	if err := n0.io.To("r").Emit("e4"); err != nil {
		t.Fatal(err)
	}
	back.Expect("e4")
	sockets, err := n0.io.In("r").FetchSockets(context.Background())
	if err != nil || len(sockets) != 1 {
		t.Fatalf("fetch: %d, %v", len(sockets), err)
	}
	if data, _ := sockets[0].Data.(map[string]any); data["name"] != "a" {
		t.Errorf("data %v", sockets[0].Data)
	}

	// A session lives once: coming back again with the same private id
	// while the restored socket is connected takes it over (that one is
	// let go as a lost connection, its session kept and restored here),
	// and the cluster still has one socket of that id.
	again := Dial(t, n0.hs.URL, "a3", map[string]any{"pid": a.PID, "offset": offset})
	if again.SID != a.SID {
		t.Fatalf("not taken over: sid %q, was %q", again.SID, a.SID)
	}
	eventually(t, "one socket of that id", func() bool {
		sockets, err := n0.io.In(a.SID).FetchSockets(context.Background())
		return err == nil && len(sockets) == 1 && n1.io.Of("/").LocalSocket(a.SID) == nil
	})
}

// While Redis is down, messages for the other nodes wait in a bounded
// queue; past it, broadcasts reach the local sockets only and say so.
func TestQueueFull(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	r := startRedis(t, false)
	f := redisadapter.NewFactory(r.client(), &redisadapter.Options{QueueSize: 4, RequestsTimeout: time.Second})
	n0 := startGoNode(t, "n0", f, 0)
	waitServerCount(t, 1, n0.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	r.kill()
	var full error
	for i := 0; i < 50 && full == nil; i++ {
		full = n0.io.Emit("e", i)
		a.Expect("e")
	}
	if !errors.Is(full, redisadapter.ErrQueueFull) {
		t.Fatalf("50 broadcasts without Redis: %v, want ErrQueueFull", full)
	}
}

// Answers can go to the asking node's own channel; every node must say so.
func TestSpecificResponseChannel(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	r := startRedis(t, false)
	var nodes []*goNode
	for _, name := range []string{"n0", "n1", "n2"} {
		f := redisadapter.NewFactory(r.client(), &redisadapter.Options{PublishOnSpecificResponseChannel: true})
		nodes = append(nodes, startGoNode(t, name, f, 0))
	}
	waitServerCount(t, 3, nodes[0].io, nodes[1].io, nodes[2].io)
	for _, n := range nodes {
		Dial(t, n.hs.URL, "c-"+n.name, nil).SetAnswer(func(Event) []any { return []any{"ok"} })
	}
	sockets, err := nodes[0].io.FetchSockets(context.Background())
	if err != nil || len(sockets) != 3 {
		t.Fatalf("fetch: %d, %v", len(sockets), err)
	}
	answers, err := nodes[1].io.Timeout(5*time.Second).EmitWithAck(context.Background(), "ask")
	if err != nil || len(answers) != 3 {
		t.Fatalf("emitWithAck: %d, %v", len(answers), err)
	}
}

// TestStreamsKeepWhileConnected: with KeepWhileConnected, a connected
// socket's session is in Redis from its CONNECT on, and follows its rooms
// and data, so that a node that dies without a word loses none (the
// rolling-restart test of examples/cluster kills one); a disconnection
// that may not be recovered from drops it.
func TestStreamsKeepWhileConnected(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	const window = time.Minute
	r := startRedis(t, false)
	io := socketio.NewServer(&socketio.Options{
		Adapter: r.factory(streamsKind, window),
		ConnectionStateRecovery: &socketio.RecoveryOptions{
			MaxDisconnectionDuration: window, SkipMiddlewares: true, KeepWhileConnected: true,
		},
	})
	io.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(room string, ack socketio.Ack) {
			s.Join(room)
			_ = ack()
		})
		s.On("name", func(name string, ack socketio.Ack) {
			s.SetData(map[string]any{"name": name})
			_ = ack()
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = io.Shutdown(ctx)
		hs.Close()
	})
	rdb := r.client()
	kept := func(pid string) map[string]any {
		raw, err := rdb.Get(context.Background(), "sio:session:"+pid).Result()
		if err != nil {
			return nil
		}
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := msgpack.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	c := Dial(t, hs.URL, "a", nil)
	eventually(t, "the session kept on CONNECT", func() bool { return kept(c.PID) != nil })
	c.Join("r")
	c.EmitAck("name", "ann")
	eventually(t, "the room and data kept", func() bool {
		m := kept(c.PID)
		rooms := fmt.Sprint(m["rooms"])
		data, _ := m["data"].(map[string]any)
		return m != nil && strings.Contains(rooms, "r") && data["name"] == "ann"
	})
	// Leaving the namespace for good: nothing to recover.
	c.Write("41")
	eventually(t, "the session dropped", func() bool { return kept(c.PID) == nil })
}

// TestFlush: once Flush returns, a broadcast made before it is in the
// stream, where every node reads it.
func TestFlush(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	r := startRedis(t, false)
	n0 := startGoNode(t, "n0", r.factory(streamsKind, 0), 0)
	rdb := r.client()
	for i := range 20 {
		if err := n0.io.To("r").Emit("e", i); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := n0.io.Flush(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		entries, err := rdb.XRevRangeN(context.Background(), "socket.io", "+", "-", 1).Result()
		if err != nil || len(entries) != 1 {
			t.Fatalf("stream: %v, %v", entries, err)
		}
		if data, _ := entries[0].Values["data"].(string); !strings.Contains(data, fmt.Sprintf(`"data":["e",%d]`, i)) {
			t.Fatalf("last entry after Flush %d: %v", i, entries[0].Values)
		}
	}
}
