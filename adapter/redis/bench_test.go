package redisadapter_test

import (
	"fmt"
	"testing"

	"github.com/duplexio/duplex/internal/clustertest"
)

// BenchmarkClusterBroadcast measures broadcasts delivered per second
// across a cluster of three nodes, with ten clients on each node: one
// node emits to everyone, in windows of 500 broadcasts, each window
// waited for (clustertest.BenchBroadcast). The "go" runs have Go nodes on each
// adapter; the "node" run has Node nodes with @socket.io/redis-adapter
// (pub/sub), for comparison. deliveries/s counts packets received by
// clients.
//
//	go test -run '^$' -bench ClusterBroadcast -benchtime 20000x
func BenchmarkClusterBroadcast(b *testing.B) {
	for _, impl := range []string{"go", "go-sharded", "go-streams", "node"} {
		b.Run(impl, func(b *testing.B) {
			k := pubsubKind
			switch impl {
			case "go-sharded":
				k = shardedKind
			case "go-streams":
				k = streamsKind
			}
			r := startRedis(b, false)
			var urls []string
			var emit func(n int)
			for i := range 3 {
				name := fmt.Sprintf("n%d", i)
				if impl != "node" {
					g := startGoNode(b, name, r.factory(k, 0), 0)
					urls = append(urls, g.hs.URL)
					if i == 0 {
						emit = clustertest.GoEmit(b, g.GoNode)
					}
					continue
				}
				nn := startNodeNode(b, r, pubsubKind, name)
				urls = append(urls, nn.URL)
				if i == 0 {
					emit = func(n int) { nn.Ctl("flood", map[string]any{"n": n, "event": "b"}, nil) }
				}
			}
			rdb := r.client()
			eventually(b, "3 nodes", func() bool {
				ch := "socket.io#/#"
				var m map[string]int64
				var err error
				switch k {
				case pubsubKind:
					ch = "socket.io-request#/#"
					m, err = rdb.PubSubNumSub(b.Context(), ch).Result()
				case shardedKind:
					m, err = rdb.PubSubShardNumSub(b.Context(), ch).Result()
				default:
					m, err = rdb.PubSubNumSub(b.Context(), ch).Result()
				}
				return err == nil && m[ch] == 3
			})
			clustertest.BenchBroadcast(b, urls, 10, 500, emit)
		})
	}
}
