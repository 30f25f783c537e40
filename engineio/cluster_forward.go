package engineio

import (
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
	"github.com/vmihailenco/msgpack/v5"
)

// A node that gets a request for a session another node holds serves it
// for that node (the owner).

// remoteRead is a GET held here for a session of another node: the
// owner's answer comes as a DRAIN message.
type remoteRead struct {
	owner string
	ch    chan []busPacket
}

// forward serves a request for a session this node does not know, when
// another node of the cluster answers for it. It reports false, having
// done nothing, when none does (or the request is not one to ask about).
func (c *cluster) forward(w http.ResponseWriter, r *http.Request, q url.Values, upgrade bool) bool {
	sid := q.Get("sid")
	if len(sid) != sidLength || protocolOf(q) != parser.ProtocolV4 {
		return false
	}
	name := transport.NamePolling
	if upgrade {
		name = transport.NameWebSocket
	}
	lock := &lockData{SID: sid, TransportName: name, Type: "read"}
	if r.Method != http.MethodGet {
		lock.Type = "write"
	}
	var read *remoteRead
	onResponse := func(m *busMessage) {
		// On the bus's goroutine: the owner's first DRAIN may be the very
		// next message.
		var d successData
		if read != nil && msgpack.Unmarshal(m.Data, &d) == nil && d.Success {
			read.owner = m.SenderID
			c.mu.Lock()
			c.reads[sid] = read
			c.watchLocked()
			c.mu.Unlock()
		}
	}
	if !upgrade && lock.Type == "read" {
		read = &remoteRead{ch: make(chan []busPacket, 1)}
	}
	m, ok := c.request("", msgLock, lock, onResponse, r.Context().Done())
	if !ok {
		return false
	}
	var d successData
	if msgpack.Unmarshal(m.Data, &d) != nil || !d.Success {
		return false
	}
	owner := m.SenderID
	switch {
	case upgrade:
		c.relayUpgrade(w, r, sid, owner)
	case read != nil:
		c.holdRead(w, r, sid, read) // read.owner set with the response
	default:
		c.forwardPost(w, r, sid, owner)
	}
	return true
}

// holdRead holds a GET until the owner's DRAIN. A client that drops it
// ends the session, as it would on the owner.
func (c *cluster) holdRead(w http.ResponseWriter, r *http.Request, sid string, read *remoteRead) {
	c.srv.responseHeaders(w.Header(), r, false)
	// The owner pings within PingInterval: with nothing for longer than
	// the client's own patience, the owner is gone.
	timer := time.NewTimer(c.srv.lifeWindow())
	defer timer.Stop()
	var packets []busPacket
	select {
	case packets = <-read.ch:
	case <-r.Context().Done():
		if c.dropRead(sid, read) {
			_ = c.publish(read.owner, msgClose, 0, &closeData{SID: sid, Reason: string(ReasonTransportError)})
		}
		return
	case <-timer.C:
		if !c.dropRead(sid, read) {
			packets = <-read.ch // drained meanwhile
		} else {
			packets = []busPacket{{Type: "close"}}
		}
	}
	batch := make([]parser.Packet, 0, len(packets))
	for _, b := range packets {
		if p, ok := fromBus(b); ok {
			batch = append(batch, p)
		}
	}
	poll := transport.Polling{Protocol: parser.ProtocolV4, SupportsBinary: true, MaxBufferSize: c.srv.opts.MaxHTTPBufferSize}
	if !c.srv.opts.HTTPCompression.Disable {
		poll.CompressionThreshold = c.srv.opts.HTTPCompression.Threshold
	}
	if r.URL.Query().Get("b64") != "" {
		poll.SupportsBinary = false
	}
	if err := poll.WritePayload(w, r, batch); err != nil {
		c.srv.log.Debug("engineio: forwarded poll write failed", "sid", sid, "err", err)
	}
}

// dropRead forgets a held GET, reporting whether it was still waiting.
func (c *cluster) dropRead(sid string, read *remoteRead) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reads[sid] != read {
		return false
	}
	delete(c.reads, sid)
	return true
}

// onDrain passes the owner's packets to the GET or WebSocket held here.
func (c *cluster) onDrain(m *busMessage) {
	var d drainData
	if msgpack.Unmarshal(m.Data, &d) != nil {
		return
	}
	c.mu.Lock()
	read := c.reads[d.SID]
	if read != nil {
		delete(c.reads, d.SID) // a GET is answered once
	}
	rl := c.relays[d.SID]
	c.mu.Unlock()
	switch {
	case read != nil:
		read.ch <- d.Packets
	case rl != nil:
		rl.send(d.Packets)
	}
}

// forwardPost sends the packets of a POST to the owner, one message each.
func (c *cluster) forwardPost(w http.ResponseWriter, r *http.Request, sid, owner string) {
	poll := transport.Polling{Protocol: parser.ProtocolV4, MaxBufferSize: c.srv.opts.MaxHTTPBufferSize}
	body, binary, err := poll.ReadBody(r)
	switch {
	case errors.Is(err, transport.ErrPayloadTooLarge):
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		w.WriteHeader(http.StatusBadRequest)
		_ = c.publish(owner, msgClose, 0, &closeData{SID: sid, Reason: string(ReasonTransportError)})
		return
	}
	err = poll.Decode(body, binary, func(p parser.Packet) error {
		if err := c.publish(owner, msgPacket, 0, &packetData{SID: sid, Packet: toBus(p)}); err != nil {
			return err
		}
		if p.Type == parser.PacketClose {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		w.WriteHeader(http.StatusBadRequest)
		_ = c.publish(owner, msgClose, 0, &closeData{SID: sid, Reason: string(ReasonTransportError)})
		return
	}
	c.srv.responseHeaders(w.Header(), r, false)
	transport.WriteOK(w, r)
}

// relay is a WebSocket accepted here for a session of another node: its
// packets go to the owner, and the owner's to it.
type relay struct {
	c     *cluster
	sid   string
	owner string
	ws    *transport.WebSocket

	mu      sync.Mutex
	queue   []parser.Packet
	writing bool
	closed  bool
}

// relayUpgrade runs the upgrade of a WebSocket for a session of another
// node, then relays it for the life of the connection.
func (c *cluster) relayUpgrade(w http.ResponseWriter, r *http.Request, sid, owner string) {
	var header http.Header
	if c.srv.opts.Headers != nil {
		header = http.Header{}
		c.srv.responseHeaders(header, r, false)
	}
	ws, err := c.srv.upgrader.Upgrade(w, r, header, parser.ProtocolV4)
	if err != nil {
		return // gorilla has answered the request
	}
	rl := &relay{c: c, sid: sid, owner: owner, ws: ws}
	deadline := time.Now().Add(c.srv.opts.UpgradeTimeout)
	_ = ws.SetReadDeadline(deadline)
	for {
		p, err := ws.ReadPacket()
		if err != nil {
			ws.Shut()
			c.reportUpgrade(sid, owner, false)
			return
		}
		if p.Type == parser.PacketPing && string(p.Data) == "probe" {
			if ws.WritePackets([]parser.Packet{{Type: parser.PacketPong, Data: p.Data}}, deadline) != nil {
				ws.Shut()
				c.reportUpgrade(sid, owner, false)
				return
			}
			continue
		}
		if p.Type != parser.PacketUpgrade {
			ws.Shut()
			c.reportUpgrade(sid, owner, false)
			return
		}
		break
	}
	_ = ws.SetReadDeadline(time.Time{})
	// The relay is in place before the owner hears of it: its first
	// DRAIN may come before its answer.
	c.mu.Lock()
	c.relays[sid] = rl
	c.watchLocked()
	c.mu.Unlock()
	m, ok := c.request(owner, msgUpgrade, &successData{SID: sid, Success: true}, nil, nil)
	var d upgradeResponseData
	if !ok || msgpack.Unmarshal(m.Data, &d) != nil || d.TakeOver {
		// No answer; or the owner hands the session over, which a node
		// that keeps its sockets where they were made does not take.
		rl.shut()
		return
	}
	rl.read()
}

// reportUpgrade tells the owner the upgrade it granted failed, so that
// the session may try again.
func (c *cluster) reportUpgrade(sid, owner string, ok bool) {
	_ = c.publish(owner, msgUpgrade, c.nextID.Add(1), &successData{SID: sid, Success: ok})
}

// read passes the client's packets to the owner until the connection
// ends.
func (rl *relay) read() {
	reason := ReasonTransportError
	for {
		p, err := rl.ws.ReadPacket()
		if err != nil {
			break
		}
		if err := rl.c.publish(rl.owner, msgPacket, 0, &packetData{SID: rl.sid, Packet: toBus(p)}); err != nil {
			break
		}
		if p.Type == parser.PacketClose {
			reason = ReasonTransportClose
			break
		}
	}
	if rl.shut() {
		_ = rl.c.publish(rl.owner, msgClose, 0, &closeData{SID: rl.sid, Reason: string(reason)})
	}
}

// send writes the owner's packets to the client, in order, from a
// goroutine of its own while there are some. A close packet closes the
// connection once written.
func (rl *relay) send(packets []busPacket) {
	rl.mu.Lock()
	if rl.closed {
		rl.mu.Unlock()
		return
	}
	for _, b := range packets {
		if p, ok := fromBus(b); ok {
			rl.queue = append(rl.queue, p)
		}
	}
	if rl.writing || len(rl.queue) == 0 {
		rl.mu.Unlock()
		return
	}
	rl.writing = true
	rl.mu.Unlock()
	go rl.write()
}

func (rl *relay) write() {
	for {
		rl.mu.Lock()
		batch := rl.queue
		rl.queue = nil
		if len(batch) == 0 || rl.closed {
			rl.writing = false
			rl.mu.Unlock()
			return
		}
		rl.mu.Unlock()
		closing := false
		for i, p := range batch {
			if p.Type == parser.PacketClose {
				batch, closing = batch[:i+1], true
				break
			}
		}
		err := rl.ws.WritePackets(batch, time.Now().Add(rl.c.srv.lifeWindow()))
		if err == nil && closing {
			_ = rl.ws.WriteClose()
		}
		if err != nil || closing {
			// The owner has closed the session (the client does not act on
			// a close packet over WebSocket: the connection closes), or
			// the client is gone.
			if rl.shut() && err != nil {
				_ = rl.c.publish(rl.owner, msgClose, 0, &closeData{SID: rl.sid, Reason: string(ReasonTransportError)})
			}
			return
		}
	}
}

// shut closes the relay once, reporting whether this call did.
func (rl *relay) shut() bool {
	rl.mu.Lock()
	if rl.closed {
		rl.mu.Unlock()
		return false
	}
	rl.closed = true
	rl.queue = nil
	rl.mu.Unlock()
	rl.c.mu.Lock()
	if rl.c.relays[rl.sid] == rl {
		delete(rl.c.relays, rl.sid)
	}
	rl.c.mu.Unlock()
	rl.c.srv.shut(rl.ws)
	return true
}

// shutdown ends what this node serves for other nodes: the GETs held
// here are answered with a close packet and the WebSockets relayed here
// closed, and the owners told, so that their sessions close as they
// would had the client's connection ended (the clients reconnect).
func (c *cluster) shutdown() {
	c.bus.Receive(nil)
	c.mu.Lock()
	c.stopped = true
	reads, relays := c.reads, c.relays
	c.reads, c.relays = make(map[string]*remoteRead), make(map[string]*relay)
	c.mu.Unlock()
	close(c.quit)
	c.watcher.Wait()
	for sid, read := range reads {
		_ = c.publish(read.owner, msgClose, 0, &closeData{SID: sid, Reason: string(ReasonTransportClose)})
		read.ch <- []busPacket{{Type: "close"}}
	}
	for sid, rl := range relays {
		if rl.shut() {
			_ = c.publish(rl.owner, msgClose, 0, &closeData{SID: sid, Reason: string(ReasonTransportClose)})
		}
	}
}
