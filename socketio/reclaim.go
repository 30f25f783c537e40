package socketio

import (
	"context"
	"time"

	"github.com/duplexio/duplex/parser"
)

// A client may give up a connection before the node holding it notices:
// a request of a polling session fails on another node of a cluster, and
// the client reconnects, to any node, while its old socket is still
// connected where it was. Its session is then not kept for recovery yet.
// The node it reconnects to lets the old socket go, if it has it, or asks
// the others to (releaseEvent, a server-side event between nodes); the
// node holding it closes its connection as a lost one, which keeps the
// session, and answers once it is kept; the restoration is then tried
// again.

// releaseEvent is the server-side event that asks the nodes to let go of
// the socket of a pid; its one argument is the pid.
const releaseEvent = "duplex:release-session"

// releaseTimeout bounds the wait for the other nodes' answers.
const releaseTimeout = time.Second

// releaseElsewhere asks the other nodes to let go of the socket of pid,
// and reports whether restoring again may find its session: one did, or
// not every node answered (a node shutting down keeps its sockets'
// sessions without answering).
func (n *Namespace) releaseElsewhere(pid string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	col := newAckCollector()
	col.expect(1)
	expected, err := n.adapter.ServerSideEmit(ctx, releaseEvent, []any{pid}, col.onAck)
	if err != nil || expected == 0 {
		return false
	}
	col.onCount(expected)
	col.seal()
	answers, err := col.wait(ctx)
	if err != nil {
		return true // not every node answered
	}
	for _, a := range answers {
		var ok bool
		if len(a) > 0 && a[0].Decode(&ok) == nil && ok {
			return true
		}
	}
	return false
}

// release answers another node's releaseEvent: with true once the local
// socket of pid, if there is one, has been let go (releaseLocal).
func (n *Namespace) release(args []parser.Value, ack func(args ...any)) {
	var pid string
	if len(args) == 0 || args[0].Decode(&pid) != nil || pid == "" {
		if ack != nil {
			ack(false)
		}
		return
	}
	go func() {
		ok := n.releaseLocal(pid, nil)
		if ack != nil {
			ack(ok)
		}
	}()
}

// releaseLocal lets go of the local socket of pid other than except, if
// there is one: its connection closes as a lost one
// (ReasonTransportClose), which keeps its session for recovery. It
// reports true once the session is kept.
func (n *Namespace) releaseLocal(pid string, except *Socket) bool {
	n.mu.RLock()
	found := n.pids[pid]
	n.mu.RUnlock()
	if found == nil || found == except {
		return false
	}
	found.client.close(ReasonTransportClose)
	// The session is kept by the socket's cleanup, which then forgets the
	// socket.
	deadline := time.Now().Add(releaseTimeout)
	for time.Now().Before(deadline) && n.LocalSocket(found.id) == found {
		time.Sleep(5 * time.Millisecond)
	}
	return n.LocalSocket(found.id) != found
}
