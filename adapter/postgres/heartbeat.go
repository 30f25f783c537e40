package postgresadapter

import "time"

// Node discovery, as socket.io-adapter's ClusterAdapterWithHeartbeat does
// it: a node says hello when its namespace starts (the others answer
// with a heartbeat), sends a heartbeat every HeartbeatInterval and
// goodbye when it closes; a node not heard from for HeartbeatTimeout no
// longer counts, and requests stop waiting for it.

// expiryCheck is how often nodes not heard from are looked for.
const expiryCheck = time.Second

// sendHeartbeat publishes a heartbeat op, logging a failure.
func (a *pgAdapter) sendHeartbeat(kind opKind) {
	if err := a.send(&op{Kind: kind}); err != nil {
		a.log.Debug("postgresadapter: cannot send a heartbeat", "err", err)
	}
}

// heartbeat sends the heartbeats and forgets silent nodes until Close.
func (a *pgAdapter) heartbeat() {
	defer close(a.done)
	beat := time.NewTicker(a.hub.opts.HeartbeatInterval)
	defer beat.Stop()
	check := time.NewTicker(max(min(expiryCheck, a.hub.opts.HeartbeatTimeout/2), time.Millisecond))
	defer check.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-beat.C:
			a.sendHeartbeat(opHeartbeat)
		case now := <-check.C:
			a.mu.Lock()
			var gone []string
			for uid, t := range a.nodes {
				if now.Sub(t) > a.hub.opts.HeartbeatTimeout {
					gone = append(gone, uid)
				}
			}
			a.mu.Unlock()
			for _, uid := range gone {
				a.log.Debug("postgresadapter: node timed out", "uid", uid)
				a.removeNode(uid)
			}
		}
	}
}

// seen notes that node uid is alive.
func (a *pgAdapter) seen(uid string) {
	a.mu.Lock()
	if !a.closed {
		a.nodes[uid] = time.Now()
	}
	a.mu.Unlock()
}

// removeNode forgets node uid: fetches stop waiting for it (one left
// waiting for no other node is complete) and its answer to a server-side
// event is no longer taken.
func (a *pgAdapter) removeNode(uid string) {
	a.mu.Lock()
	delete(a.nodes, uid)
	for _, req := range a.fetches {
		a.answered(req, uid)
	}
	for id, req := range a.sses {
		if req.missing[uid] {
			delete(req.missing, uid)
			if len(req.missing) == 0 {
				delete(a.sses, id)
			}
		}
	}
	a.mu.Unlock()
}

// nodeSet is a copy of the uids of the other nodes. Caller holds a.mu.
func (a *pgAdapter) nodeSet() map[string]bool {
	out := make(map[string]bool, len(a.nodes))
	for uid := range a.nodes {
		out[uid] = true
	}
	return out
}
