package postgresadapter_test

import (
	"fmt"
	"testing"

	"github.com/duplexio/duplex/internal/clustertest"
)

// BenchmarkClusterBroadcast measures broadcasts delivered per second
// across a cluster of three nodes on one PostgreSQL, with ten clients on
// each node: one node emits to everyone, in windows of 500 broadcasts,
// each window waited for (clustertest.BenchBroadcast, the scenario of
// every adapter's benchmark). The "go" run has Go nodes; the "node" run
// has Node nodes with @socket.io/postgres-adapter, for comparison.
//
//	go test -run '^$' -bench ClusterBroadcast -benchtime 20000x
func BenchmarkClusterBroadcast(b *testing.B) {
	for _, impl := range []string{"go", "node"} {
		b.Run(impl, func(b *testing.B) {
			pg := startPostgres(b)
			var urls []string
			var emit func(n int)
			var counts []func() int
			for i := range 3 {
				name := fmt.Sprintf("n%d", i)
				if impl == "go" {
					g := startGoNode(b, name, pg.factory(nil))
					urls = append(urls, g.hs.URL)
					counts = append(counts, func() int {
						n, _ := g.io.Of("/").Adapter().ServerCount(b.Context())
						return n
					})
					if i == 0 {
						emit = clustertest.GoEmit(b, g.GoNode)
					}
					continue
				}
				nn := startNodeNode(b, pg, name)
				urls = append(urls, nn.URL)
				counts = append(counts, nn.Count)
				if i == 0 {
					emit = func(n int) { nn.Ctl("flood", map[string]any{"n": n, "event": "b"}, nil) }
				}
			}
			for _, count := range counts {
				eventually(b, "3 nodes", func() bool { return count() == 3 })
			}
			clustertest.BenchBroadcast(b, urls, 10, 500, emit)
		})
	}
}
