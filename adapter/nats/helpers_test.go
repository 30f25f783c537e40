package natsadapter_test

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	natsadapter "github.com/duplexio/duplex/adapter/nats"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/socketio"
	"github.com/nats-io/nats.go"
)

// waitTimeout bounds every wait of the tests.
const waitTimeout = 10 * time.Second

// Heartbeats of the test clusters, short so that nodes find each other
// and notice departures quickly.
const (
	testHeartbeat = 200 * time.Millisecond
	testTimeout   = time.Second
)

// natsServer is a nats-server of the test's own, on a free loopback
// port, with its files in a temporary directory.
type natsServer struct {
	t    testing.TB
	port int
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// natsBin finds nats-server: on PATH, or where Debian puts it.
func natsBin() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server", nil
	}
	return "", fmt.Errorf("nats-server not found: install it (apt-get install nats-server)")
}

// startNATS starts a nats-server; it is stopped and its files removed
// when the test ends.
func startNATS(t testing.TB) *natsServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &natsServer{t: t, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server and waits until it takes connections.
func (s *natsServer) start() {
	s.t.Helper()
	bin, err := natsBin()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-js", "-sd", filepath.Join(s.dir, "store"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.OpenFile(filepath.Join(s.dir, "nats.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("nats-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(waitTimeout)
	for {
		nc, err := nats.Connect(s.url(), nats.Timeout(time.Second))
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "nats.log"))
			s.t.Fatalf("nats-server did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server at once, as in a crash, and waits for it.
func (s *natsServer) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// conn connects to the server, reconnecting forever and quickly; the
// connection is closed when the test ends.
func (s *natsServer) conn(name string) *nats.Conn {
	s.t.Helper()
	nc, err := nats.Connect(s.url(), nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// factory makes a factory on a connection of its own, with short
// heartbeats.
func (s *natsServer) factory(nc *nats.Conn, opts *natsadapter.Options) adapter.Factory {
	var o natsadapter.Options
	if opts != nil {
		o = *opts
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = testHeartbeat
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = testTimeout
	}
	if o.RequestsTimeout == 0 {
		o.RequestsTimeout = 2 * time.Second
	}
	return natsadapter.NewFactory(nc, &o)
}

// goNode is a clustertest.GoNode, its server and HTTP server at hand.
type goNode struct {
	*clustertest.GoNode
	name string
	io   *socketio.Server
	hs   *httptest.Server
	nc   *nats.Conn
}

func newGoNode(g *clustertest.GoNode, name string) *goNode {
	return &goNode{GoNode: g, name: name, io: g.IO, hs: g.HS}
}

func (n *goNode) close()             { n.Close() }
func (n *goNode) received() []string { return n.Received() }

// startGoNode starts a node on a NATS connection of its own
// (clustertest.GoNode).
func startGoNode(t testing.TB, ns *natsServer, name string, opts *natsadapter.Options) *goNode {
	t.Helper()
	nc := ns.conn(name)
	sopts := &socketio.Options{Adapter: ns.factory(nc, opts)}
	if opts != nil && opts.RecoveryWindow > 0 {
		sopts.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: opts.RecoveryWindow, SkipMiddlewares: true}
	}
	n := newGoNode(clustertest.StartGoNode(t, name, sopts), name)
	n.nc = nc
	return n
}

// The waits of clustertest.
var (
	eventually      = clustertest.Eventually
	waitServerCount = clustertest.WaitServerCount
)
