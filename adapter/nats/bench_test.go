package natsadapter_test

import (
	"fmt"
	"testing"
	"time"

	natsadapter "github.com/duplexio/duplex/adapter/nats"
	"github.com/duplexio/duplex/internal/clustertest"
)

// BenchmarkClusterBroadcast measures broadcasts delivered per second
// across a cluster of three Go nodes on one nats-server, with ten
// clients on each node: one node emits to everyone, in windows of 500
// broadcasts, each window waited for (clustertest.BenchBroadcast, the
// scenario of every adapter's benchmark). The "core" run is on core
// NATS; the "jetstream" run has RecoveryWindow, so each broadcast is a
// JetStream publish, read back by every node.
//
//	go test -run '^$' -bench ClusterBroadcast -benchtime 20000x
func BenchmarkClusterBroadcast(b *testing.B) {
	for _, mode := range []string{"core", "jetstream"} {
		b.Run(mode, func(b *testing.B) {
			var opts *natsadapter.Options
			if mode == "jetstream" {
				opts = &natsadapter.Options{RecoveryWindow: time.Minute}
			}
			ns := startNATS(b)
			var nodes []*goNode
			var urls []string
			for i := range 3 {
				n := startGoNode(b, ns, fmt.Sprintf("n%d", i), opts)
				nodes = append(nodes, n)
				urls = append(urls, n.hs.URL)
			}
			waitServerCount(b, 3, nodes[0].io, nodes[1].io, nodes[2].io)
			clustertest.BenchBroadcast(b, urls, 10, 500, clustertest.GoEmit(b, nodes[0].GoNode))
		})
	}
}
