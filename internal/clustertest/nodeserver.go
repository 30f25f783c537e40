package clustertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/internal/clusterclient"
)

// npmDone records the interop directories whose packages are installed.
var npmDone sync.Map

// NodeServer is a Node Socket.IO server of a mixed cluster: an adapter
// module's interop/node-server.mjs (socket.io with the official Node
// adapter), driven through its HTTP control API under /ctl/.
type NodeServer struct {
	t   testing.TB
	URL string // of its HTTP server
}

// StartNodeServer starts node-server.mjs in dir, with env added to the
// environment, installs dir's npm packages first when they are missing,
// and waits for the server to print {"port": N}. The process is killed
// when the test ends.
func StartNodeServer(t testing.TB, dir string, env ...string) *NodeServer {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found: the mixed-cluster tests need Node.js")
	}
	dir, _ = filepath.Abs(dir)
	once, _ := npmDone.LoadOrStore(dir, new(sync.Once))
	once.(*sync.Once).Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	})
	cmd := exec.Command("node", "node-server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() { // keep the pipe drained
		}
	}()
	select {
	case line, ok := <-lines:
		var hello struct{ Port int }
		if !ok || json.Unmarshal([]byte(line), &hello) != nil || hello.Port == 0 {
			t.Fatalf("node server: first line %q", line)
		}
		return &NodeServer{t: t, URL: fmt.Sprintf("http://127.0.0.1:%d", hello.Port)}
	case <-time.After(clusterclient.WaitTimeout):
		t.Fatal("node server did not start")
	}
	return nil
}

// Ctl sends the command cmd with body to the server and decodes its
// answer into out, unless out is nil.
func (n *NodeServer) Ctl(cmd string, body map[string]any, out any) {
	n.t.Helper()
	PostJSON(n.t, n.URL+"/ctl/"+cmd, body, out)
}

// Count is the number of nodes the server counts.
func (n *NodeServer) Count() int {
	var out struct{ Count int }
	n.Ctl("count", nil, &out)
	return out.Count
}

// Received returns the server-side events the server received.
func (n *NodeServer) Received() []string {
	var out struct{ SSE []string }
	n.Ctl("received", nil, &out)
	return out.SSE
}

// PostJSON posts v as JSON to url and decodes the answer into out,
// unless out is nil; anything but 200 fails the test.
func PostJSON(t testing.TB, url string, v, out any) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, msg.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
	}
}
