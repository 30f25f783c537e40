package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chatSummary is what clients/chat.mjs prints.
type chatSummary struct {
	Clients    int      `json:"clients"`
	Sent       int      `json:"sent"`
	Acked      int      `json:"acked"`
	Delivered  int      `json:"delivered"`
	Duplicated int      `json:"duplicated"`
	Lost       int      `json:"lost"`
	Reordered  int      `json:"reordered"`
	Upgraded   int      `json:"upgraded"`
	MS         int      `json:"ms"`
	Errors     []string `json:"errors"`
}

// TestClusterRoundRobin runs the example without sticky sessions: three
// nodes started with -sticky=false, nginx balancing every request
// round-robin (no hash), and the official socket.io-client (clients/, from
// npm) on long-polling only, on WebSocket only and upgrading, chatting in
// rooms with acknowledgements. Nothing is refused ("Session ID unknown"),
// lost, duplicated or reordered, and nginx's log shows the requests of
// polling sessions spread over the nodes.
func TestClusterRoundRobin(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install it (apt-get install redis-server)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: install Node.js")
	}
	if _, err := os.Stat("clients/node_modules/socket.io-client"); err != nil {
		t.Fatal("socket.io-client not installed: run npm ci in examples/cluster/clients")
	}
	redisAddr := startRedis(t)
	nodesCtx, stopNodes := context.WithCancel(context.Background())
	t.Cleanup(stopNodes)
	var servers []string
	for _, name := range nodeNames {
		servers = append(servers, startNode(t, nodesCtx, stopNodes, config{name: name, redis: redisAddr, adapter: adapterPubSub}))
	}
	lb, lbDir := startNginx(t, servers, false)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "clients/chat.mjs", lb, "10", "20", "3")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var sum chatSummary
	if jerr := json.Unmarshal(out, &sum); jerr != nil {
		t.Fatalf("chat.mjs: %v, %v: %s", err, jerr, out)
	}
	t.Logf("%+v", sum)
	if err != nil {
		t.Errorf("chat.mjs failed (%v): %d errors, first ones: %q", err, len(sum.Errors), first(sum.Errors, 10))
	}
	// 30 clients in 3 rooms of 10, each sending 20: each member gets 200.
	const wantDelivered = 30 * 10 * 20
	if sum.Clients != 30 || sum.Acked != 600 || sum.Delivered != wantDelivered || sum.Duplicated != 0 || sum.Lost != 0 || sum.Reordered != 0 || sum.Upgraded != 10 {
		t.Errorf("figures %+v", sum)
	}

	// The proof that nginx did not keep sessions on one node: polling
	// requests of one session went to several.
	spread := sessionsSpread(t, lbDir)
	if spread == 0 {
		t.Error("no polling session had its requests on more than one node")
	}
	t.Logf("%d polling sessions had their requests on more than one node", spread)
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

var logLine = regexp.MustCompile(`"(GET|POST) /socket\.io/\?[^ "]*sid=([^& "]+)[^"]*transport=polling[^"]*" .* node=(\S+)|"(GET|POST) /socket\.io/\?[^ "]*transport=polling[^"]*sid=([^& "]+)[^"]*" .* node=(\S+)`)

// sessionsSpread counts the sessions whose polling requests reached more
// than one node, from nginx's access log.
func sessionsSpread(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nodes := map[string]map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := logLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		sid, node := m[2]+m[5], m[3]+m[6]
		if nodes[sid] == nil {
			nodes[sid] = map[string]bool{}
		}
		nodes[sid][strings.TrimSpace(node)] = true
	}
	n := 0
	for _, ns := range nodes {
		if len(ns) > 1 {
			n++
		}
	}
	return n
}
