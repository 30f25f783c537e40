package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitTimeout bounds each wait of the test: a process starting or
// stopping, a message reaching every client.
const waitTimeout = 10 * time.Second

var nodeNames = []string{"node-1", "node-2", "node-3"}

// TestClusterBehindNginx runs the example as run.sh does, for each Redis
// adapter: a real redis-server, three nodes (run in this process, as main
// runs them), and a real nginx in front with nginx.conf.tmpl. Clients over
// WebSocket, over long-polling and over polling upgraded to WebSocket go
// through nginx, spread over the three nodes by their sticky keys. A
// broadcast reaches every client once; a broadcast to a room reaches the
// room's members on every node once, and no one else.
func TestClusterBehindNginx(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install it (apt-get install redis-server)")
	}
	nginxPath(t)
	for _, kind := range []string{adapterPubSub, adapterSharded, adapterStreams} {
		t.Run(kind, func(t *testing.T) { testCluster(t, kind) })
	}
}

// member is a test client and the node nginx sent it to.
type member struct {
	*client
	node string
}

func testCluster(t *testing.T, kind string) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	redisAddr := startRedis(t)
	// The nodes stop together (each may take a moment: the Streams adapter
	// finishes its blocking read), after the clients and nginx.
	nodesCtx, stopNodes := context.WithCancel(context.Background())
	t.Cleanup(stopNodes)
	var servers []string
	for _, name := range nodeNames {
		servers = append(servers, startNode(t, nodesCtx, stopNodes, config{name: name, redis: redisAddr, adapter: kind, sticky: true}))
	}
	lb, _ := startNginx(t, servers, true)
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}

	// Clients of each transport, with new sticky keys until every node
	// has two of each.
	var all []*member
	for _, transport := range []string{transportWebSocket, transportPolling, transportUpgrade} {
		count := map[string]int{}
		for i := 0; !spread(count, 2); i++ {
			if i == 60 {
				t.Fatalf("%d %s clients are on %v: nginx did not spread them over the nodes", i, transport, count)
			}
			c, err := dial(ctx, lb, transport, fmt.Sprintf("%s-%d", transport, i), hc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			var node string
			if err := c.call(ctx, &node, "whoami"); err != nil {
				t.Fatalf("%s: %v", c.key, err)
			}
			count[node]++
			all = append(all, &member{c, node})
		}
		t.Logf("%s clients per node: %v", transport, count)
	}

	// The nodes have found each other through Redis.
	for {
		var n int
		if err := all[0].call(ctx, &n, "nodes"); err != nil {
			t.Fatal(err)
		}
		if n == len(nodeNames) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the cluster counts %d nodes, not %d", n, len(nodeNames))
		case <-time.After(20 * time.Millisecond):
		}
	}

	// A broadcast from a polling client reaches every client, once.
	sender := find(all, func(m *member) bool { return m.transport == transportPolling })
	text := "hello from " + sender.key
	if err := sender.call(ctx, nil, "broadcast", text); err != nil {
		t.Fatal(err)
	}
	expect(ctx, t, all, message{Node: sender.node, Text: text})
	barrier(ctx, t, all, sender.node, "after the broadcast")

	// A broadcast to a room reaches its members on every node, once, and
	// no one else. One member per node and transport; the sender is not
	// one of them.
	var members, others []*member
	for _, m := range all {
		if find(members, func(o *member) bool { return o.node == m.node && o.transport == m.transport }) == nil {
			members = append(members, m)
		} else {
			others = append(others, m)
		}
	}
	for _, m := range members {
		var rooms []string
		if err := m.call(ctx, &rooms, "join", "lobby"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rooms, []string{"lobby"}) {
			t.Fatalf("%s joined %q, want [lobby]", m.key, rooms)
		}
	}
	sender = find(others, func(m *member) bool { return m.transport == transportWebSocket })
	text = "to the lobby from " + sender.key
	if err := sender.call(ctx, nil, "to", "lobby", text); err != nil {
		t.Fatal(err)
	}
	expect(ctx, t, members, message{Node: sender.node, Room: "lobby", Text: text})
	barrier(ctx, t, all, sender.node, "after the broadcast to the room")

	// Every client is still on the node it started on: no request of a
	// polling session went elsewhere.
	for _, m := range all {
		var node string
		if err := m.call(ctx, &node, "whoami"); err != nil {
			t.Fatalf("%s: %v", m.key, err)
		}
		if node != m.node {
			t.Errorf("%s moved from %s to %s", m.key, m.node, node)
		}
	}
}

// spread reports whether every node has at least n clients in count.
func spread(count map[string]int, n int) bool {
	for _, name := range nodeNames {
		if count[name] < n {
			return false
		}
	}
	return true
}

func find(ms []*member, ok func(*member) bool) *member {
	for _, m := range ms {
		if ok(m) {
			return m
		}
	}
	return nil
}

// expect checks that the next event of every client of ms is a
// "broadcast" of want.
func expect(ctx context.Context, t *testing.T, ms []*member, want message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			got, err := nextMessage(ctx, m.client)
			if err != nil {
				t.Errorf("%s client %s on %s: waiting for %q: %v", m.transport, m.key, m.node, want.Text, err)
			} else if got != want {
				t.Errorf("%s client %s on %s: got %+v, want %+v", m.transport, m.key, m.node, got, want)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// barrier broadcasts a marker from a client on a node other than from,
// and checks that it is the next event of every client: nothing arrived
// after what the test expected. Whatever from's node sent before reached
// Redis before the marker did, and Redis delivers to each node in order,
// so a duplicate or a stray packet would come first.
func barrier(ctx context.Context, t *testing.T, all []*member, from, when string) {
	t.Helper()
	m := find(all, func(m *member) bool { return m.node != from })
	text := "barrier " + when
	if err := m.call(ctx, nil, "broadcast", text); err != nil {
		t.Fatal(err)
	}
	expect(ctx, t, all, message{Node: m.node, Text: text})
}

// nextMessage reads the client's next event, a "broadcast".
func nextMessage(ctx context.Context, c *client) (message, error) {
	ev, err := c.next(ctx)
	if err != nil {
		return message{}, err
	}
	if ev.name != "broadcast" || len(ev.args) == 0 {
		return message{}, fmt.Errorf("unexpected event %q %s", ev.name, ev.args)
	}
	var m message
	err = json.Unmarshal(ev.args[0], &m)
	return m, err
}

// startNode runs a node on a free loopback port, as main does, until ctx
// is done, and returns its address. When the test ends it calls stop,
// which ends ctx, and waits for a clean shutdown.
func startNode(t *testing.T, ctx context.Context, stop func(), cfg config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, cfg, io.Discard, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: shutdown: %v", cfg.name, err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("%s: no shutdown after %v", cfg.name, waitTimeout)
		}
	})
	return ln.Addr().String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// process is a command the test started; stop ends it and everything it
// started.
type process struct {
	cmd    *exec.Cmd
	exited chan error
}

func startProcess(t *testing.T, logFile string, name string, args ...string) *process {
	t.Helper()
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(p.stop)
	return p
}

// stop asks the process to terminate, kills its group if it has not
// within waitTimeout, and kills what may remain of the group.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		killGroup(p.cmd)
		<-p.exited
	}
	killGroup(p.cmd)
}

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case err := <-p.exited:
		p.exited <- err
		return false
	default:
		return true
	}
}

// startRedis starts a redis-server on a free loopback port, stopped when
// the test ends, and returns its address.
func startRedis(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	p := startProcess(t, filepath.Join(dir, "redis.log"), "redis-server",
		"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning")
	addr := "127.0.0.1:" + port
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for rdb.Ping(ctx).Err() != nil {
		if !p.running() || ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

// nginxPath finds nginx, which Debian installs in /usr/sbin, out of some
// users' PATH.
func nginxPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Fatal("nginx not found: install it (apt-get install nginx)")
	return ""
}

// nginxConf fills in nginx.conf.tmpl, as run.sh does: with sticky,
// each client stays on one node; without, nginx balances every request
// round-robin.
func nginxConf(t *testing.T, listen string, servers []string, sticky bool) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("nginx.conf.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range servers {
		lines = append(lines, "        server "+s+" max_fails=0;")
	}
	balance := roundRobin
	if sticky {
		balance = stickyHash
	}
	return []byte(strings.NewReplacer("@LISTEN@", listen, "@SERVERS@", strings.Join(lines, "\n"), "@BALANCE@", balance).Replace(string(tmpl)))
}

// The two ways nginx.conf.tmpl's @BALANCE@ is filled in, as run.sh fills
// it in.
const (
	stickyHash = "hash $sticky_key consistent;"
	roundRobin = "# round-robin: every request to the next node"
)

// startNginx starts nginx on a free loopback port in front of servers,
// with its files in a temporary directory; it is stopped when the test
// ends. It returns nginx's URL once nginx answers, and the directory.
func startNginx(t *testing.T, servers []string, sticky bool) (string, string) {
	t.Helper()
	dir := t.TempDir()
	listen := "127.0.0.1:" + freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, nginxConf(t, listen, servers, sticky), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, filepath.Join(dir, "nginx.out"), nginxPath(t),
		"-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "error.log"))
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"nginx.out", "error.log", "access.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("nginx %s:\n%s", f, b)
			}
		}
	})

	u := "http://" + listen
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		err := get(ctx, u+"/")
		if err == nil {
			return u, dir
		}
		if !p.running() || ctx.Err() != nil {
			t.Fatalf("nginx did not start: %v", errors.Join(err, ctx.Err()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches u and wants a 200.
func get(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}
