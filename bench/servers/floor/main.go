// Command floor is the floor of the benchmarks: a plain gorilla/websocket
// server (and a minimal long-polling one) that fakes just enough of
// Engine.IO v4 and Socket.IO v5 for the load tool — the open packet, the
// CONNECT answer, and the contract of bench/servers/duplex (echo,
// broadcast, join, to, gc) done with byte slicing, no JSON. It shows what
// the bare transport costs on this machine: one goroutine per connection
// reading, writes straight to the socket under a mutex, a broadcast framed
// once (websocket.PreparedMessage). It sends no heartbeats.
//
// It listens on 127.0.0.1:$PORT (0 picks a port), prints "READY <port>",
// and serves net/http/pprof under /debug/pprof/.
package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// peer is one connected client, over either transport.
type peer interface {
	// send sends one Engine.IO packet; pm is the same packet framed for
	// WebSocket, or nil.
	send(data []byte, pm *websocket.PreparedMessage)
}

type server struct {
	mu    sync.Mutex
	peers map[peer]struct{}
	rooms map[string]map[peer]struct{}
	// joined lists each peer's rooms, so that a peer leaving touches its
	// rooms only, not all of them.
	joined map[peer][]string
	ids    atomic.Uint64

	polls sync.Map // sid → *pollPeer
}

func (s *server) add(p peer) {
	s.mu.Lock()
	s.peers[p] = struct{}{}
	s.mu.Unlock()
}

func (s *server) remove(p peer) {
	s.mu.Lock()
	delete(s.peers, p)
	for _, name := range s.joined[p] {
		r := s.rooms[name]
		delete(r, p)
		if len(r) == 0 {
			delete(s.rooms, name)
		}
	}
	delete(s.joined, p)
	s.mu.Unlock()
}

// targets returns the peers of room, or all of them for "".
func (s *server) targets(room string, buf []peer) []peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.peers
	if room != "" {
		set = s.rooms[room]
	}
	for p := range set {
		buf = append(buf, p)
	}
	return buf
}

var peerBufs = sync.Pool{New: func() any { return new([]peer) }}

func (s *server) broadcast(room string, data []byte) {
	bp := peerBufs.Get().(*[]peer)
	list := s.targets(room, (*bp)[:0])
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		log.Print(err)
		return
	}
	for _, p := range list {
		p.send(data, pm)
	}
	clear(list)
	*bp = list[:0]
	peerBufs.Put(bp)
}

func (s *server) sid() string {
	return "floor" + strconv.FormatUint(s.ids.Add(1), 10)
}

func (s *server) openPacket(sid string, upgrades string) []byte {
	return []byte(`0{"sid":"` + sid + `","upgrades":[` + upgrades + `],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
}

// handle answers one Engine.IO packet from p.
func (s *server) handle(p peer, pkt []byte) {
	switch {
	case bytes.Equal(pkt, []byte("40")):
		p.send([]byte(`40{"sid":"`+s.sid()+`"}`), nil)
	case bytes.HasPrefix(pkt, []byte("42")):
		s.event(p, pkt)
	}
}

// event answers "42[id][\"name\",args...]" by slicing bytes.
func (s *server) event(p peer, pkt []byte) {
	body := pkt[2:]
	i := 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	id, body := body[:i], body[i:]
	if len(body) < 4 || body[0] != '[' || body[1] != '"' {
		return
	}
	end := bytes.IndexByte(body[2:], '"')
	if end < 0 {
		return
	}
	name := body[2 : 2+end]
	rest := body[2+end+1:] // ",args...]" or "]"
	args := rest[:len(rest)-1]
	args = bytes.TrimPrefix(args, []byte(","))
	switch string(name) {
	case "echo":
		if len(id) > 0 {
			out := make([]byte, 0, 4+len(id)+len(args))
			out = append(append(append(append(out, "43"...), id...), '['), args...)
			p.send(append(out, ']'), nil)
		}
	case "broadcast":
		s.broadcast("", pkt) // the same bytes: 42["broadcast",args...]
	case "to":
		room, more, ok := bytes.Cut(args, []byte(","))
		if !ok {
			more = nil
		}
		out := make([]byte, 0, 16+len(more))
		out = append(out, `42["broadcast"`...)
		if len(more) > 0 {
			out = append(append(out, ','), more...)
		}
		s.broadcast(string(bytes.Trim(room, `"`)), append(out, ']'))
	case "join":
		room := string(bytes.Trim(args, `"`))
		s.mu.Lock()
		r := s.rooms[room]
		if r == nil {
			r = map[peer]struct{}{}
			s.rooms[room] = r
		}
		if _, in := r[p]; !in {
			r[p] = struct{}{}
			s.joined[p] = append(s.joined[p], room)
		}
		s.mu.Unlock()
		if len(id) > 0 {
			p.send(append(append([]byte("43"), id...), "[]"...), nil)
		}
	case "gc":
		// Two collections: the first moves what sync.Pools cache (net/http's
		// buffers among them) to their victim caches, the second frees it.
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.mu.Lock()
		n := len(s.peers)
		s.mu.Unlock()
		if len(id) > 0 {
			p.send([]byte(fmt.Sprintf(`43%s[{"clients":%d,"goroutines":%d,"heap":%d}]`,
				id, n, runtime.NumGoroutine(), ms.HeapInuse+ms.StackInuse)), nil)
		}
	}
}

// wsPeer is a WebSocket client: its goroutine reads, and anyone writes
// under the mutex.
type wsPeer struct {
	mu   sync.Mutex
	conn *websocket.Conn
}

func (w *wsPeer) send(data []byte, pm *websocket.PreparedMessage) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pm != nil {
		_ = w.conn.WritePreparedMessage(pm)
		return
	}
	_ = w.conn.WriteMessage(websocket.TextMessage, data)
}

var upgrader = websocket.Upgrader{
	WriteBufferPool: &sync.Pool{},
	CheckOrigin:     func(*http.Request) bool { return true },
}

func (s *server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	p := &wsPeer{conn: conn}
	p.send(s.openPacket(s.sid(), ""), nil)
	s.add(p)
	defer func() {
		s.remove(p)
		_ = conn.Close()
	}()
	buf := make([]byte, 0, 512)
	for {
		_, rd, err := conn.NextReader()
		if err != nil {
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := rd.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		s.handle(p, buf)
	}
}

// pollPeer is a long-polling client: packets queue until a GET takes them.
type pollPeer struct {
	mu     sync.Mutex
	queue  [][]byte
	ready  chan struct{} // signalled when the queue fills
	closed bool
}

func (p *pollPeer) send(data []byte, _ *websocket.PreparedMessage) {
	p.mu.Lock()
	p.queue = append(p.queue, bytes.Clone(data))
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (s *server) servePolling(w http.ResponseWriter, r *http.Request) {
	sid := r.URL.Query().Get("sid")
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	if sid == "" {
		if r.Method != http.MethodGet {
			http.Error(w, "bad handshake", http.StatusBadRequest)
			return
		}
		sid = s.sid()
		p := &pollPeer{ready: make(chan struct{}, 1)}
		s.polls.Store(sid, p)
		s.add(p)
		_, _ = w.Write(s.openPacket(sid, ""))
		return
	}
	v, ok := s.polls.Load(sid)
	if !ok {
		http.Error(w, `{"code":1,"message":"Session ID unknown"}`, http.StatusBadRequest)
		return
	}
	p := v.(*pollPeer)
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1e6))
		if err != nil {
			return
		}
		for pkt := range bytes.SplitSeq(body, []byte{0x1e}) {
			if bytes.Equal(pkt, []byte("1")) {
				s.closePoll(sid, p)
				continue
			}
			s.handle(p, pkt)
		}
		_, _ = w.Write([]byte("ok"))
	case http.MethodGet:
		t := time.NewTimer(25 * time.Second)
		defer t.Stop()
		for {
			p.mu.Lock()
			q, closed := p.queue, p.closed
			p.queue = nil
			p.mu.Unlock()
			if closed {
				_, _ = w.Write([]byte("1"))
				return
			}
			if len(q) > 0 {
				_, _ = w.Write(bytes.Join(q, []byte{0x1e}))
				return
			}
			select {
			case <-p.ready:
			case <-t.C:
				_, _ = w.Write([]byte("6"))
				return
			case <-r.Context().Done():
				s.closePoll(sid, p)
				return
			}
		}
	}
}

func (s *server) closePoll(sid string, p *pollPeer) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
	s.polls.Delete(sid)
	s.remove(p)
}

func main() {
	s := &server{peers: map[peer]struct{}{}, rooms: map[string]map[peer]struct{}{}, joined: map[peer][]string{}}
	http.HandleFunc("/socket.io/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("transport") == "websocket" {
			s.serveWebSocket(w, r)
			return
		}
		s.servePolling(w, r)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("PORT")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %d\n", ln.Addr().(*net.TCPAddr).Port)
	// Idle keep-alive connections close after 5 s, as the Node server's
	// do by default (http.Server keepAliveTimeout); net/http keeps them
	// forever unless told.
	hs := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second}
	log.Fatal(hs.Serve(ln))
}
