package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restartSummary is what clients/restart.mjs prints.
type restartSummary struct {
	Clients     int      `json:"clients"`
	Acked       int      `json:"acked"`
	Unacked     int      `json:"unacked"`
	Delivered   int      `json:"delivered"`
	LostAcked   int      `json:"lostAcked"`
	LostUnacked int      `json:"lostUnacked"`
	Duplicated  int      `json:"duplicated"`
	Reordered   int      `json:"reordered"`
	Reconnects  int      `json:"reconnects"`
	Recovered   int      `json:"recovered"`
	GaveUp      int      `json:"gaveUp"`
	NewSessions int      `json:"newSessions"`
	Examples    []string `json:"examples"`
}

// nodeProc is a node run as its own process (built from this package), so
// that it can be stopped with SIGTERM, or killed, and started again on the
// same address.
type nodeProc struct {
	t    *testing.T
	bin  string
	dir  string
	name string
	addr string
	args []string
	cmd  *exec.Cmd
	done chan error
}

func (n *nodeProc) start() {
	n.t.Helper()
	out := filepath.Join(n.dir, n.name+".out")
	logf, err := os.OpenFile(filepath.Join(n.dir, n.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	defer logf.Close()
	outf, err := os.Create(out)
	if err != nil {
		n.t.Fatal(err)
	}
	defer outf.Close()
	n.cmd = exec.Command(n.bin, append([]string{"-addr", n.addr, "-name", n.name}, n.args...)...)
	n.cmd.Stdout, n.cmd.Stderr = outf, logf
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(n.cmd, n.done)
	deadline := time.Now().Add(waitTimeout)
	for {
		b, _ := os.ReadFile(out)
		if strings.HasPrefix(string(b), "listening on ") {
			return
		}
		select {
		case err := <-n.done:
			n.t.Fatalf("%s exited: %v", n.name, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s did not start", n.name)
		}
	}
}

// stop sends sig and waits for the process to end.
func (n *nodeProc) stop(sig syscall.Signal) {
	n.t.Helper()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case err := <-n.done:
		if sig == syscall.SIGTERM && err != nil {
			n.t.Errorf("%s: %v after SIGTERM", n.name, err)
		}
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
		n.t.Errorf("%s did not stop on %v", n.name, sig)
	}
	n.cmd = nil
}

// TestRollingRestart runs three nodes (processes of their own, the Streams
// adapter with connection state recovery, no sticky sessions) behind a
// round-robin nginx, with socket.io-client clients on every transport
// chatting in rooms (clients/restart.mjs). Each node in turn is stopped
// with SIGTERM, which drains it, and started again, while the traffic
// runs: every acknowledged message reaches every member of its room once
// and in its sender's order, every client that reconnected recovered its
// session, and none gave up. Then one node is killed with SIGKILL
// mid-traffic and started again: its clients recover too, nothing
// acknowledged is lost, duplicated or reordered, and the test reports
// what was lost of the unacknowledged messages.
func TestRollingRestart(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: install Node.js")
	}
	if _, err := os.Stat("clients/node_modules/socket.io-client"); err != nil {
		t.Fatal("socket.io-client not installed: run npm ci in examples/cluster/clients")
	}
	dir := t.TempDir()
	if d := os.Getenv("RESTART_TEST_DIR"); d != "" {
		dir = d
	}
	bin := filepath.Join(dir, "node")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	redisAddr := startRedis(t)
	var nodes []*nodeProc
	var servers []string
	for _, name := range nodeNames {
		n := &nodeProc{t: t, bin: bin, dir: dir, name: name, addr: "127.0.0.1:" + freePort(t),
			args: []string{"-redis", redisAddr, "-adapter", adapterStreams, "-recovery", "2m", "-sticky=false"}}
		n.start()
		t.Cleanup(func() { n.stop(syscall.SIGTERM) })
		nodes = append(nodes, n)
		servers = append(servers, n.addr)
	}
	lb, lbDir := startNginx(t, servers, false)
	t.Cleanup(func() {
		if os.Getenv("RESTART_TEST_DIR") != "" {
			for _, f := range []string{"access.log", "error.log"} {
				b, _ := os.ReadFile(filepath.Join(lbDir, f))
				_ = os.WriteFile(filepath.Join(dir, "nginx-"+f), b, 0o644)
			}
		}
		if t.Failed() {
			for _, n := range nodes {
				b, _ := os.ReadFile(filepath.Join(dir, n.name+".log"))
				t.Logf("%s log (last 3000 bytes):\n%s", n.name, tail(b, 3000))
			}
		}
	})

	// Drained restarts: nothing acknowledged is lost.
	sum := chatThrough(t, node, lb, func() {
		for _, n := range nodes {
			n.stop(syscall.SIGTERM)
			n.start()
			time.Sleep(1500 * time.Millisecond)
		}
	})
	t.Logf("rolling restart: %+v", sum)
	if sum.LostAcked != 0 || sum.Duplicated != 0 || sum.Reordered != 0 || sum.GaveUp != 0 ||
		sum.Reconnects == 0 || sum.Recovered != sum.Reconnects || sum.NewSessions != 0 || sum.Acked == 0 {
		t.Errorf("rolling restart: %+v", sum)
	}

	// A node killed: its clients recover elsewhere too (their sessions
	// were kept while they were connected), and nothing acknowledged is
	// lost ("to" is acknowledged once its broadcast is in Redis). What is
	// lost is the unacknowledged window: messages the killed node had
	// taken and not yet written to Redis, whose senders got no ack.
	sum = chatThrough(t, node, lb, func() {
		nodes[1].stop(syscall.SIGKILL)
		nodes[1].start()
		time.Sleep(3 * time.Second)
	})
	t.Logf("SIGKILL: %+v", sum)
	t.Logf("SIGKILL: unacknowledged window: %d messages without an ack, %d (member, message) pairs of them not delivered",
		sum.Unacked, sum.LostUnacked)
	if sum.LostAcked != 0 || sum.Duplicated != 0 || sum.Reordered != 0 || sum.GaveUp != 0 || sum.Acked == 0 ||
		sum.Reconnects == 0 || sum.Recovered != sum.Reconnects || sum.NewSessions != 0 {
		t.Errorf("SIGKILL: %+v", sum)
	}
}

// chatThrough runs clients/restart.mjs against url: two seconds of traffic,
// then during, then two more seconds, and returns its figures.
func chatThrough(t *testing.T, node, url string, during func()) restartSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "clients/restart.mjs", url, "150", "15", "300")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "connected and joined") {
				once = true
				close(ready)
			}
			t.Log("restart.mjs: " + sc.Text())
		}
		if !once {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("restart.mjs: clients did not connect")
	}
	time.Sleep(2 * time.Second)
	during()
	time.Sleep(2 * time.Second)
	_, _ = io.WriteString(stdin, "stop\n")
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restart.mjs: %v: %s", err, out.String())
	}
	var sum restartSummary
	if err := json.Unmarshal([]byte(out.String()), &sum); err != nil {
		t.Fatalf("restart.mjs output %q: %v", out.String(), err)
	}
	return sum
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
