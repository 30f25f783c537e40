package postgresadapter_test

import (
	"context"
	"testing"

	postgresadapter "github.com/duplexio/duplex/adapter/postgres"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// quiet is how long a test waits to be sure an event does not come.
const quiet = clustertest.Quiet

// startCluster starts three Go nodes on one PostgreSQL, with clients
// spread over them (clustertest.Cluster).
func startCluster(t *testing.T) (*clustertest.Cluster, *pgServer) {
	t.Helper()
	pg := startPostgres(t)
	var nodes []clustertest.Node
	for _, name := range []string{"n0", "n1", "n2"} {
		nodes = append(nodes, startGoNode(t, name, pg.factory(nil)))
	}
	return clustertest.Start(t, nodes...), pg
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
	cl, pg := startCluster(t)
	pool := pg.pool()
	clustertest.NodeLeaves(t, cl, postgresadapter.ErrTimeout, func() {
		_, _ = pool.Exec(context.Background(), "SELECT pg_notify('socket.io#/', $1)", `{"type":2,"uid":"silentsilent0000","nsp":"/"}`)
	})
}
