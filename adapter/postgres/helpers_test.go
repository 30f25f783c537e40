package postgresadapter_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	postgresadapter "github.com/duplexio/duplex/adapter/postgres"
	"github.com/duplexio/duplex/internal/clustertest"
	"github.com/duplexio/duplex/socketio"
	"github.com/jackc/pgx/v5/pgxpool"
)

// waitTimeout bounds every wait of the tests.
const waitTimeout = 10 * time.Second

// Heartbeats of the test clusters, short so that nodes find each other
// and notice departures quickly.
const (
	testHeartbeat = 200 * time.Millisecond
	testTimeout   = time.Second
)

// pgServer is a PostgreSQL server of the test's own, on a free loopback
// port, with its files in a temporary directory.
type pgServer struct {
	t    testing.TB
	port int
	dir  string // data directory
	base string

	mu  sync.Mutex
	cmd *exec.Cmd
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// pgBin finds a PostgreSQL program: on PATH, or in Debian's directory.
func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found: install PostgreSQL (apt-get install postgresql)", name)
}

// asPostgres runs cmd as the user postgres when the tests run as root,
// which PostgreSQL refuses to run as.
func asPostgres(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

// chownPostgres gives dir to the user postgres when running as root.
func chownPostgres(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// template is a data directory made by initdb once per test run; each
// server starts from a copy.
func template() (string, error) {
	templateOnce.Do(func() {
		initdb, err := pgBin("initdb")
		if err != nil {
			templateErr = err
			return
		}
		base, err := os.MkdirTemp("", "duplex-pg-template-")
		if err != nil {
			templateErr = err
			return
		}
		if templateErr = chownPostgres(base); templateErr != nil {
			return
		}
		dir := filepath.Join(base, "data")
		cmd := exec.Command(initdb, "-D", dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C")
		if templateErr = asPostgres(cmd); templateErr != nil {
			return
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			templateErr = fmt.Errorf("initdb: %v\n%s", err, out)
			return
		}
		templateDir = dir
	})
	return templateDir, templateErr
}

// TestMain removes the template data directory after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(filepath.Dir(templateDir))
	}
	os.Exit(code)
}

// startPostgres starts a PostgreSQL server with the attachments table; it
// is stopped and its files removed when the test ends.
func startPostgres(t testing.TB) *pgServer {
	t.Helper()
	tmpl, err := template()
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "duplex-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := chownPostgres(base); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "data")
	cp := exec.Command("cp", "-a", tmpl, dir)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy the data directory: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &pgServer{t: t, port: port, dir: dir, base: base}
	s.start()
	t.Cleanup(s.stop)
	pool := s.pool()
	if err := postgresadapter.CreateAttachmentsTable(context.Background(), pool, ""); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *pgServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// start runs the server and waits until it takes connections.
func (s *pgServer) start() {
	s.t.Helper()
	bin, err := pgBin("postgres")
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(bin, "-D", s.dir, "-p", strconv.Itoa(s.port), "-k", s.base,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
	if err := asPostgres(cmd); err != nil {
		s.t.Fatal(err)
	}
	logFile, err := os.OpenFile(filepath.Join(s.base, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("postgres: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		pool, err := pgxpool.New(ctx, s.url())
		if err == nil {
			err = pool.Ping(ctx)
			pool.Close()
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.base, "postgres.log"))
			s.t.Fatalf("postgres did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the server down at once (an immediate shutdown: connections
// are cut, as in a crash).
func (s *pgServer) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// pool returns a pool of the server, closed with the test.
func (s *pgServer) pool() *pgxpool.Pool {
	s.t.Helper()
	cfg, err := pgxpool.ParseConfig(s.url())
	if err != nil {
		s.t.Fatal(err)
	}
	cfg.ConnConfig.ConnectTimeout = time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(pool.Close)
	return pool
}

// factory makes a factory on a pool of its own, with short heartbeats.
func (s *pgServer) factory(opts *postgresadapter.Options) adapter.Factory {
	var o postgresadapter.Options
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
	return postgresadapter.NewFactory(s.pool(), &o)
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

// startGoNode starts a node on the adapter f (clustertest.GoNode).
func startGoNode(t testing.TB, name string, f adapter.Factory) *goNode {
	t.Helper()
	return newGoNode(clustertest.StartGoNode(t, name, &socketio.Options{Adapter: f}), name)
}

// The waits of clustertest.
var (
	eventually      = clustertest.Eventually
	waitServerCount = clustertest.WaitServerCount
)
