package engineio

import (
	"context"
	"time"

	"github.com/duplexio/duplex/parser"
)

// ownerCheck is how often a node serving requests for other nodes checks
// that they are still there (when its bus is a NodeWatcher).
const ownerCheck = time.Second

// watchLocked starts watchOwners unless it runs, or the bus cannot tell.
// Caller holds c.mu.
func (c *cluster) watchLocked() {
	if c.watching || c.stopped {
		return
	}
	if _, ok := c.bus.(NodeWatcher); !ok {
		return
	}
	c.watching = true
	c.watcher.Add(1)
	go c.watchOwners()
}

// watchOwners checks, every ownerCheck, that the nodes whose sessions this
// one serves requests for are there; the requests of a node that is gone
// end: its held polls are answered with a close packet and its relayed
// WebSockets closed, so that their clients reconnect. It returns when there
// is nothing left to watch.
func (c *cluster) watchOwners() {
	defer c.watcher.Done()
	w := c.bus.(NodeWatcher)
	t := time.NewTicker(ownerCheck)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-c.quit:
			return
		}
		c.mu.Lock()
		if c.stopped || (len(c.reads) == 0 && len(c.relays) == 0) {
			c.watching = false
			c.mu.Unlock()
			return
		}
		owners := map[string]bool{}
		for _, r := range c.reads {
			owners[r.owner] = true
		}
		for _, rl := range c.relays {
			owners[rl.owner] = true
		}
		c.mu.Unlock()
		for owner := range owners {
			ctx, cancel := context.WithTimeout(context.Background(), ownerCheck)
			alive, err := w.Alive(ctx, owner)
			cancel()
			if err == nil && !alive {
				c.srv.log.Debug("engineio: cluster node gone", "node", owner)
				c.ownerGone(owner)
			}
		}
	}
}

// ownerGone ends what this node serves for owner.
func (c *cluster) ownerGone(owner string) {
	c.mu.Lock()
	var reads []*remoteRead
	for sid, r := range c.reads {
		if r.owner == owner {
			delete(c.reads, sid)
			reads = append(reads, r)
		}
	}
	var relays []*relay
	for _, rl := range c.relays {
		if rl.owner == owner {
			relays = append(relays, rl)
		}
	}
	c.mu.Unlock()
	for _, r := range reads {
		r.ch <- []busPacket{toBus(parser.Packet{Type: parser.PacketClose})}
	}
	for _, rl := range relays {
		rl.mu.Lock()
		rl.queue = append(rl.queue, parser.Packet{Type: parser.PacketClose})
		writing := rl.writing
		rl.writing = true
		rl.mu.Unlock()
		if !writing {
			go rl.write()
		}
	}
}
