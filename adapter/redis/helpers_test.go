package redisadapter_test

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	redisadapter "github.com/duplexio/duplex/adapter/redis"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/socketio"
	"github.com/redis/go-redis/v9"
)

// waitTimeout bounds every wait of the tests.
const waitTimeout = 10 * time.Second

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func init() {
	// go-redis logs every failed dial; the fault tests make many.
	redis.SetLogger(quietLogger{})
}

// redisServer is a redis-server of the test's own, on a free loopback
// port, with its files in a temporary directory.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// startRedis starts a redis-server; it is stopped when the test ends.
// With appendOnly, every write is on disk before Redis answers, so a
// killed server comes back with its streams and keys.
func startRedis(t testing.TB, appendOnly bool) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install it (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.args = []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", r.dir, "--save", "", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"}
	if appendOnly {
		r.args = append(r.args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		r.args = append(r.args, "--appendonly", "no")
	}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	cmd := exec.Command("redis-server", r.args...)
	logFile, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(waitTimeout)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server at once, as a crash would.
func (r *redisServer) kill() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// client returns a go-redis client of the server, closed with the test.
func (r *redisServer) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.addr(), DialTimeout: time.Second, MaxRetries: 1})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// kind names an adapter under test.
type kind string

const (
	pubsubKind  kind = "pubsub"
	shardedKind kind = "sharded"
	streamsKind kind = "streams"
)

var kinds = []kind{pubsubKind, shardedKind, streamsKind}

// factory makes a factory of the kind, on a client of its own.
func (r *redisServer) factory(k kind, recovery time.Duration) adapter.Factory {
	c := r.client()
	switch k {
	case shardedKind:
		return redisadapter.NewShardedFactory(c, &redisadapter.ShardedOptions{RequestsTimeout: 2 * time.Second, RecoveryWindow: recovery})
	case streamsKind:
		return redisadapter.NewStreamsFactory(c, &redisadapter.StreamsOptions{RequestsTimeout: 2 * time.Second, BlockTime: 200 * time.Millisecond, RecoveryWindow: recovery})
	}
	return redisadapter.NewFactory(c, &redisadapter.Options{RequestsTimeout: 2 * time.Second, RecoveryWindow: recovery})
}

// goNode is a clustertest.GoNode, its server and HTTP server at hand.
type goNode struct {
	*clustertest.GoNode
	name string
	io   *socketio.Server
	hs   *httptest.Server
}

func newGoNode(g *clustertest.GoNode, name string) *goNode {
	return &goNode{GoNode: g, name: name, io: g.IO, hs: g.HS}
}

func (n *goNode) close()             { n.Close() }
func (n *goNode) received() []string { return n.Received() }

// startGoNode starts a node on the adapter f, with connection state
// recovery for recovery when it is not 0 (clustertest.GoNode).
func startGoNode(t testing.TB, name string, f adapter.Factory, recovery time.Duration) *goNode {
	t.Helper()
	opts := &socketio.Options{Adapter: f}
	if recovery > 0 {
		opts.ConnectionStateRecovery = &socketio.RecoveryOptions{MaxDisconnectionDuration: recovery, SkipMiddlewares: true}
	}
	return newGoNode(clustertest.StartGoNode(t, name, opts), name)
}

// The waits of clustertest.
var (
	eventually      = clustertest.Eventually
	waitServerCount = clustertest.WaitServerCount
)

// waitPatterns waits until n connections subscribe to patterns: the
// pub/sub adapter's broadcast channels.
func waitPatterns(t testing.TB, rdb *redis.Client, n int) {
	t.Helper()
	eventually(t, "pattern subscriptions", func() bool {
		list, err := rdb.ClientList(context.Background()).Result()
		return err == nil && strings.Count(list, " psub=1 ") == n
	})
}

// waitShardSubscribers waits until n connections subscribe to the
// sharded channel of room (the sharded adapter subscribes to a room's
// channel shortly after the room gets its first local member).
func waitShardSubscribers(t testing.TB, rdb *redis.Client, room string, n int) {
	t.Helper()
	ch := "socket.io#/#" + room + "#"
	eventually(t, "subscribers of "+ch, func() bool {
		m, err := rdb.PubSubShardNumSub(context.Background(), ch).Result()
		return err == nil && int(m[ch]) == n
	})
}

// pid is the server's process id.
func (r *redisServer) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd.Process.Pid
}
