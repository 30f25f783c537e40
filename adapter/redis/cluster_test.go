package redisadapter_test

import (
	"context"
	"testing"

	"github.com/duplexio/duplex/adapter"
	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// quiet is how long a test waits to be sure an event does not come.
const quiet = clustertest.Quiet

// cluster is three Go nodes on one Redis, with clients spread over them
// (clustertest.Cluster).
type cluster struct {
	*clustertest.Cluster
	redis *redisServer
	nodes []*goNode
}

func startCluster(t *testing.T, k kind) *cluster {
	t.Helper()
	r := startRedis(t, false)
	cl := &cluster{redis: r}
	var nodes []clustertest.Node
	for _, name := range []string{"n0", "n1", "n2"} {
		n := startGoNode(t, name, r.factory(k, 0), 0)
		cl.nodes = append(cl.nodes, n)
		nodes = append(nodes, n)
	}
	cl.Cluster = clustertest.Start(t, nodes...)
	if k == shardedKind {
		// n0 and n1 have members of r, n1 of x.
		waitShardSubscribers(t, r.client(), "r", 2)
		waitShardSubscribers(t, r.client(), "x", 1)
		cl.Joined = func(t *testing.T, room string, nodes int) {
			waitShardSubscribers(t, r.client(), room, nodes)
		}
	}
	return cl
}

// forEachKind runs a test against every adapter.
func forEachKind(t *testing.T, fn func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			t.Cleanup(leakcheck.Check(t)) // after the cleanups registered later
			fn(t, k)
		})
	}
}

// TestCluster runs the scenarios of clustertest on three Go nodes, with
// each adapter.
func TestCluster(t *testing.T) {
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			clustertest.RunScenarios(t, func(t *testing.T) *clustertest.Cluster { return startCluster(t, k).Cluster })
		})
	}
}

// A node that leaves is no longer counted, and requests do not wait for
// it; a node that does not answer makes requests fail with ErrTimeout.
func TestClusterNodeLeaves(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		cl := startCluster(t, k)
		cl.nodes[2].close()
		waitServerCount(t, 2, cl.nodes[0].io, cl.nodes[1].io)
		sockets, err := cl.nodes[0].io.FetchSockets(context.Background())
		if err != nil || len(sockets) != 4 {
			t.Fatalf("fetch: %d sockets, %v", len(sockets), err)
		}

		// A subscriber that is no node: counted, never answers.
		rdb := cl.redis.client()
		ctx := context.Background()
		var ch string
		switch k {
		case pubsubKind:
			ch = "socket.io-request#/#"
		default:
			ch = "socket.io#/#"
		}
		var ps interface{ Close() error }
		if k == shardedKind {
			p := rdb.SSubscribe(ctx, ch)
			ps = p
			if _, err := p.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			p := rdb.Subscribe(ctx, ch)
			ps = p
			if _, err := p.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		defer ps.Close()
		waitServerCount(t, 3, cl.nodes[0].io)
		clustertest.SilentNodeTimesOut(t, cl.nodes[0].io, redisadapter.ErrTimeout)
	})
}

// The sharded adapter's subscription modes decide which rooms get a
// channel of their own; broadcasts reach the same sockets in each.
func TestShardedSubscriptionModes(t *testing.T) {
	for _, mode := range []redisadapter.SubscriptionMode{redisadapter.Static, redisadapter.Dynamic, redisadapter.DynamicPrivate} {
		t.Run(string(mode), func(t *testing.T) {
			t.Cleanup(leakcheck.Check(t))
			r := startRedis(t, false)
			factory := func() adapter.Factory {
				return redisadapter.NewShardedFactory(r.client(), &redisadapter.ShardedOptions{SubscriptionMode: mode})
			}
			n0 := startGoNode(t, "n0", factory(), 0)
			n1 := startGoNode(t, "n1", factory(), 0)
			waitServerCount(t, 2, n0.io, n1.io)
			a := Dial(t, n0.hs.URL, "a", nil)
			c := Dial(t, n1.hs.URL, "c", nil)
			c.Join("r")
			rdb := r.client()
			wantRoom, wantPrivate := 0, 0
			switch mode {
			case redisadapter.Dynamic:
				wantRoom = 1
			case redisadapter.DynamicPrivate:
				wantRoom, wantPrivate = 1, 1
			}
			waitShardSubscribers(t, rdb, "r", wantRoom)
			waitShardSubscribers(t, rdb, c.SID, wantPrivate)
			if err := n0.io.To("r").Emit("room"); err != nil {
				t.Fatal(err)
			}
			c.Expect("room")
			if err := n0.io.To(c.SID).Emit("private"); err != nil {
				t.Fatal(err)
			}
			c.Expect("private")
			a.ExpectNone(quiet)

			// The room's channel goes when its last local member leaves.
			c.EmitAck("join", "other")
			if err := n0.io.In("r").SocketsLeave("r"); err != nil {
				t.Fatal(err)
			}
			waitShardSubscribers(t, rdb, "r", 0)
		})
	}
}
