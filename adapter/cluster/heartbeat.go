package cluster

import "time"

// Node discovery for a Transport that counts no nodes, as socket.io-adapter's
// ClusterAdapterWithHeartbeat does it: a node says hello when it starts
// (the others answer with a heartbeat), sends a heartbeat every
// HeartbeatInterval and goodbye when it closes; a node not heard from for
// HeartbeatTimeout no longer counts, and requests stop waiting for it.

// expiryCheck is how often nodes not heard from are looked for.
const expiryCheck = time.Second

// Hello tells the other nodes this one is there (at start, and after the
// Transport lost messages for a while): they answer with a heartbeat.
func (n *Node) Hello() {
	if n.started.Load() {
		n.sendHeartbeat(OpInitialHeartbeat)
	}
}

// sendHeartbeat publishes a heartbeat op, logging a failure.
func (n *Node) sendHeartbeat(kind Kind) {
	if err := n.t.Send(&Op{Kind: kind}); err != nil {
		n.log.Debug(n.cfg.Name+": cannot send a heartbeat", "err", err)
	}
}

// heartbeat sends the heartbeats and forgets silent nodes until Close.
func (n *Node) heartbeat() {
	defer close(n.done)
	beat := time.NewTicker(n.cfg.HeartbeatInterval)
	defer beat.Stop()
	check := time.NewTicker(max(min(expiryCheck, n.cfg.HeartbeatTimeout/2), time.Millisecond))
	defer check.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-beat.C:
			n.sendHeartbeat(OpHeartbeat)
		case now := <-check.C:
			n.mu.Lock()
			var gone []string
			for uid, t := range n.members {
				if now.Sub(t) > n.cfg.HeartbeatTimeout {
					gone = append(gone, uid)
				}
			}
			n.mu.Unlock()
			for _, uid := range gone {
				n.log.Debug(n.cfg.Name+": node timed out", "uid", uid)
				n.removeNode(uid)
			}
		}
	}
}

// seen notes that node uid is alive.
func (n *Node) seen(uid string) {
	n.mu.Lock()
	if !n.closed {
		n.members[uid] = time.Now()
	}
	n.mu.Unlock()
}

// removeNode forgets node uid: fetches stop waiting for it (one left
// waiting for no other node is complete) and its answer to a server-side
// event is no longer taken.
func (n *Node) removeNode(uid string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.members, uid)
	for _, req := range n.fetches {
		if n.answered(req.missing, &req.remaining, uid) && req.remaining == 0 {
			close(req.done)
		}
	}
	for id, req := range n.sses {
		if n.answered(req.missing, &req.remaining, uid) && req.remaining == 0 {
			delete(n.sses, id)
		}
	}
}
