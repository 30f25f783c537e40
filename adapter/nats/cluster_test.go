package natsadapter_test

import (
	"testing"

	clusterwire "github.com/duplexio/duplex/adapter/cluster"
	natsadapter "github.com/duplexio/duplex/adapter/nats"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// quiet is how long a test waits to be sure an event does not come.
const quiet = clustertest.Quiet

// startCluster starts three Go nodes on one nats-server, each on a
// connection of its own, with clients spread over them
// (clustertest.Cluster).
func startCluster(t *testing.T) (*clustertest.Cluster, *natsServer) {
	t.Helper()
	ns := startNATS(t)
	var nodes []clustertest.Node
	for _, name := range []string{"n0", "n1", "n2"} {
		nodes = append(nodes, startGoNode(t, ns, name, nil))
	}
	return clustertest.Start(t, nodes...), ns
}

// TestCluster runs the scenarios of clustertest on three Go nodes.
func TestCluster(t *testing.T) {
	clustertest.RunScenarios(t, func(t *testing.T) *clustertest.Cluster {
		cl, _ := startCluster(t)
		return cl
	})
}

// A node that leaves is no longer counted, and requests do not wait for
// it; a node that does not answer makes requests fail with ErrTimeout.
func TestClusterNodeLeaves(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	cl, ns := startCluster(t)
	nc := ns.conn("silent")
	beat, err := clusterwire.EncodeMsgpack(map[string]any{"type": int64(2), "uid": "silentsilent0000", "nsp": "/"})
	if err != nil {
		t.Fatal(err)
	}
	clustertest.NodeLeaves(t, cl, natsadapter.ErrTimeout, func() { _ = nc.Publish("socketio./.all", beat) })
}
