package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
)

// soakDuration is how long TestSoak churns connections. 30s keeps
// `go test -race ./...` reasonable; run it longer with
// `go test ./socketio -run Soak -soak=10m`.
var soakDuration = flag.Duration("soak", 30*time.Second, "how long TestSoak churns connections")

// TestSoak churns connections over both transports for -soak: clients
// connect, emit events with acknowledgements carrying sequence numbers,
// and leave in every way a client can (cleanly, by dropping the TCP
// connection mid-stream, mid-poll, mid-POST or mid-upgrade, or by going
// silent until the heartbeat reaps them). It checks that every
// acknowledged event reached its handler exactly once and no event twice,
// and that the server's goroutines and heap come back near where they
// started once the clients are gone.
func TestSoak(t *testing.T) {
	defer leakcheck.Check(t)()
	// A short heartbeat, so that silent clients are reaped within seconds,
	// yet long enough that a busy machine never starves a client that
	// does answer.
	ts := newTestServer(t, &Options{Options: engineio.Options{PingInterval: time.Second, PingTimeout: 3 * time.Second}})
	defer ts.Close()
	sk := &soak{
		t:       t,
		ts:      ts,
		addr:    ts.hs.Listener.Addr().String(),
		wsURL:   "ws" + strings.TrimPrefix(ts.hs.URL, "http") + "/socket.io/",
		url:     ts.hs.URL + "/socket.io/",
		counts:  map[int][]uint8{},
		acked:   map[int][]int{},
		reasons: map[Reason]int{},
		churned: map[string]*atomic.Int64{},
		slots:   make(chan struct{}, 64),
	}
	for _, m := range soakModes {
		sk.churned[m.name] = new(atomic.Int64)
	}
	ts.io.OnConnection(func(s *Socket) {
		s.On("msg", func(client, seq int, ack Ack) {
			sk.mu.Lock()
			c := sk.counts[client]
			for len(c) <= seq {
				c = append(c, 0)
			}
			c[seq]++
			sk.counts[client] = c
			sk.mu.Unlock()
			if ack != nil {
				_ = ack(seq)
			}
		})
		s.OnDisconnect(func(r Reason) {
			sk.mu.Lock()
			sk.reasons[r]++
			sk.mu.Unlock()
		})
	})

	// The baseline: the server started, no client yet.
	soakGC()
	goroutines0 := runtime.NumGoroutine()
	heap0 := soakHeap()

	const workers = 8
	ctx, cancel := context.WithTimeout(context.Background(), *soakDuration)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sk.work(ctx, w)
		}()
	}
	wg.Wait()
	sk.silent.Wait() // the silent clients, until reaped
	if t.Failed() {
		return
	}

	// Every session ends: the heartbeat reaps what is left.
	waitForLong(t, "every session closed", func() bool { return ts.io.Engine().SessionCount() == 0 })
	waitForLong(t, "every socket disconnected", func() bool { return ts.io.Of("/").SocketCount() == 0 })

	// Exactly once: each acknowledged event was handled once, and no
	// event was handled twice.
	sk.mu.Lock()
	var handled, acked int
	for client, seqs := range sk.acked {
		for _, seq := range seqs {
			c := sk.counts[client]
			if seq >= len(c) || c[seq] != 1 {
				t.Errorf("client %d: event %d acknowledged, handled %d times", client, seq, countAt(c, seq))
			}
		}
		acked += len(seqs)
	}
	for client, c := range sk.counts {
		for seq, n := range c {
			if n > 1 {
				t.Errorf("client %d: event %d handled %d times", client, seq, n)
			}
			handled += int(n)
		}
	}
	reasons := fmt.Sprint(sk.reasons)
	sk.counts, sk.acked = nil, nil
	sk.mu.Unlock()

	var churned []string
	total := 0
	for _, m := range soakModes {
		n := sk.churned[m.name].Load()
		total += int(n)
		churned = append(churned, fmt.Sprintf("%s %d", m.name, n))
	}
	t.Logf("%v: %d connections churned (%s); %d events sent, %d handled, %d acknowledged; disconnect reasons %s",
		*soakDuration, total, strings.Join(churned, ", "), sk.sent.Load(), handled, acked, reasons)
	if acked == 0 || total == 0 {
		t.Fatal("nothing was exchanged")
	}

	// Back near the baseline once idle: a leak of a goroutine or of a few
	// kilobytes per connection would show over thousands of connections.
	sk.closeIdle()
	var goroutines int
	deadline := time.Now().Add(20 * time.Second)
	for {
		soakGC()
		goroutines = runtime.NumGoroutine()
		if goroutines <= goroutines0+soakGoroutineSlack || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	heap1 := soakHeap()
	t.Logf("goroutines %d at the start, %d at the end; heap %.1f MiB at the start, %.1f MiB at the end",
		goroutines0, goroutines, soakMiB(heap0), soakMiB(heap1))
	if goroutines > goroutines0+soakGoroutineSlack {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines at the end, %d at the start:\n%s", goroutines, goroutines0, buf[:runtime.Stack(buf, true)])
	}
	if heap1 > heap0+soakHeapSlack {
		t.Errorf("heap %.1f MiB at the end, %.1f MiB at the start (allowed: %.0f MiB more)", soakMiB(heap1), soakMiB(heap0), soakMiB(soakHeapSlack))
	}
}

const (
	// soakWait bounds every wait of a soak client: far longer than
	// anything takes, even on a loaded machine.
	soakWait = 30 * time.Second
	// soakGoroutineSlack allows for goroutines of the runtime and of
	// net/http that come and go on their own.
	soakGoroutineSlack = 8
	// soakHeapSlack is generous: pools and runtime caches may keep some
	// memory; a leak per connection over thousands of them would not fit.
	soakHeapSlack = 8 << 20
)

// soakGC collects garbage twice, so that sync.Pools are emptied too.
func soakGC() {
	runtime.GC()
	runtime.GC()
}

// soakHeap is the heap in use after garbage collection.
func soakHeap() uint64 {
	soakGC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func soakMiB(n uint64) float64 { return float64(n) / (1 << 20) }

func countAt(c []uint8, i int) int {
	if i < len(c) {
		return int(c[i])
	}
	return 0
}

// waitForLong is waitFor for conditions that take a heartbeat or two.
func waitForLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// soak is the state of a soak run.
type soak struct {
	t     *testing.T
	ts    *testServer
	addr  string // host:port
	wsURL string // ws://host/socket.io/
	url   string // http://host/socket.io/

	nextID  atomic.Int64
	sent    atomic.Int64
	churned map[string]*atomic.Int64
	silent  sync.WaitGroup  // clients gone silent, until reaped
	slots   chan struct{}   // bounds the silent clients at once
	clients []*http.Client  // the workers' polling clients
	cmu     sync.Mutex      // guards clients
	mu      sync.Mutex      // guards what follows
	counts  map[int][]uint8 // client → seq → times handled
	acked   map[int][]int   // client → seqs acknowledged
	reasons map[Reason]int  // disconnect reasons seen by the server
}

// soakMode is one way for a client to come and go.
type soakMode struct {
	name string
	run  func(sk *soak, ctx context.Context, hc *http.Client, id, n int) error
}

var soakModes = []soakMode{
	{"websocket, leaves cleanly", (*soak).wsClean},
	{"websocket, drops the connection mid-stream", (*soak).wsDrop},
	{"websocket, goes silent", (*soak).wsSilent},
	{"websocket, drops mid-handshake", (*soak).wsHalfHandshake},
	{"polling, leaves cleanly", (*soak).pollClean},
	{"polling, vanishes mid-poll", (*soak).pollVanishGet},
	{"polling, vanishes mid-POST", (*soak).pollVanishPost},
	{"polling, goes silent", (*soak).pollSilent},
	{"upgrades to websocket", (*soak).upgrade},
	{"drops its probe mid-upgrade", (*soak).upgradeDropped},
}

// work runs clients one after the other until ctx is done, taking the
// modes in turn.
func (sk *soak) work(ctx context.Context, w int) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
	sk.cmu.Lock()
	sk.clients = append(sk.clients, hc)
	sk.cmu.Unlock()
	for i := w; ctx.Err() == nil; i++ {
		m := soakModes[i%len(soakModes)]
		id := int(sk.nextID.Add(1))
		n := 1 + i%8 // events per client
		if err := m.run(sk, ctx, hc, id, n); err != nil {
			sk.t.Errorf("client %d (%s): %v", id, m.name, err)
			return
		}
		sk.churned[m.name].Add(1)
	}
}

func (sk *soak) closeIdle() {
	sk.cmu.Lock()
	defer sk.cmu.Unlock()
	for _, hc := range sk.clients {
		hc.CloseIdleConnections()
	}
}

func (sk *soak) ack(id, seq int) {
	sk.mu.Lock()
	sk.acked[id] = append(sk.acked[id], seq)
	sk.mu.Unlock()
}

// soakEvent is the Socket.IO packet of event seq of client id, asking
// for acknowledgement seq.
func soakEvent(id, seq int) string { return fmt.Sprintf(`2%d["msg",%d,%d]`, seq, id, seq) }

// soakAck reads the acknowledgement id of a packet, or -1.
func soakAck(pkt string) int {
	rest, ok := strings.CutPrefix(pkt, "3")
	if !ok {
		return -1
	}
	i := strings.IndexByte(rest, '[')
	if i <= 0 {
		return -1
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil {
		return -1
	}
	var args []int
	if json.Unmarshal([]byte(rest[i:]), &args) != nil || len(args) != 1 || args[0] != n {
		return -1
	}
	return n
}

// soakWS is a raw WebSocket client.
type soakWS struct {
	conn *websocket.Conn
	sid  string
}

func (sk *soak) dialWS(query string) (*soakWS, error) {
	d := websocket.Dialer{HandshakeTimeout: 20 * time.Second}
	conn, res, err := d.Dial(sk.wsURL+"?EIO=4&transport=websocket"+query, nil)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	return &soakWS{conn: conn}, nil
}

// read returns the next Engine.IO packet, answering pings unless silent,
// or fails at deadline.
func (c *soakWS) read(silent bool, deadline time.Time) (string, error) {
	for {
		_ = c.conn.SetReadDeadline(deadline)
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return "", err
		}
		if string(data) == "2" {
			if !silent {
				if err := c.write("3"); err != nil {
					return "", err
				}
			}
			continue
		}
		return string(data), nil
	}
}

func (c *soakWS) write(pkt string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, []byte(pkt))
}

// open reads the open packet and joins "/".
func (c *soakWS) open() error {
	pkt, err := c.read(false, time.Now().Add(soakWait))
	if err != nil {
		return err
	}
	if c.sid, err = openSID(pkt); err != nil {
		return err
	}
	return c.join()
}

func (c *soakWS) join() error {
	if err := c.write("40"); err != nil {
		return err
	}
	pkt, err := c.read(false, time.Now().Add(soakWait))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(pkt, "40{") {
		return fmt.Errorf("CONNECT reply %q", pkt)
	}
	return nil
}

// exchangeWS sends events from..to-1 and waits for the acknowledgements of
// the first wait of them.
func (sk *soak) exchangeWS(c *soakWS, id, from, to, wait int) error {
	for seq := from; seq < to; seq++ {
		if err := c.write("4" + soakEvent(id, seq)); err != nil {
			return err
		}
		sk.sent.Add(1)
	}
	deadline := time.Now().Add(soakWait)
	for got := 0; got < wait; {
		pkt, err := c.read(false, deadline)
		if err != nil {
			return fmt.Errorf("waiting for acknowledgements: %w", err)
		}
		seq := soakAck(strings.TrimPrefix(pkt, "4"))
		if seq < from || seq >= to {
			return fmt.Errorf("unexpected packet %q", pkt)
		}
		sk.ack(id, seq)
		got++
	}
	return nil
}

func (sk *soak) wsClean(ctx context.Context, hc *http.Client, id, n int) error {
	c, err := sk.dialWS("")
	if err != nil {
		return err
	}
	defer c.conn.Close()
	if err := c.open(); err != nil {
		return err
	}
	if err := sk.exchangeWS(c, id, 0, n, n); err != nil {
		return err
	}
	_ = c.write("41")
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return nil
}

func (sk *soak) wsDrop(ctx context.Context, hc *http.Client, id, n int) error {
	c, err := sk.dialWS("")
	if err != nil {
		return err
	}
	defer c.conn.Close()
	if err := c.open(); err != nil {
		return err
	}
	// Half the acknowledgements, then the rest of the events in flight
	// when the connection drops.
	return sk.exchangeWS(c, id, 0, n, n/2)
}

// wsSilent: the client stops answering pings; the heartbeat reaps it.
func (sk *soak) wsSilent(ctx context.Context, hc *http.Client, id, n int) error {
	c, err := sk.dialWS("")
	if err != nil {
		return err
	}
	if err := c.open(); err != nil {
		c.conn.Close()
		return err
	}
	if err := sk.exchangeWS(c, id, 0, n, n); err != nil {
		c.conn.Close()
		return err
	}
	select {
	case sk.slots <- struct{}{}:
	default:
		c.conn.Close() // enough silent ones for now
		return nil
	}
	sk.silent.Add(1)
	go func() {
		defer sk.silent.Done()
		defer func() { <-sk.slots }()
		defer c.conn.Close()
		deadline := time.Now().Add(soakWait)
		for {
			if _, err := c.read(true, deadline); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					sk.t.Errorf("client %d: silent, not reaped: %v", id, err)
				}
				return
			}
		}
	}()
	return nil
}

// wsHalfHandshake: the TCP connection drops in the middle of the HTTP
// upgrade request.
func (sk *soak) wsHalfHandshake(ctx context.Context, hc *http.Client, id, n int) error {
	conn, err := net.Dial("tcp", sk.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
	return err
}

// soakPoll is a raw polling client.
type soakPoll struct {
	hc  *http.Client
	url string // with the sid
	sid string
}

func (sk *soak) dialPoll(hc *http.Client) (*soakPoll, error) {
	p := &soakPoll{hc: hc}
	packets, err := p.get(sk.url + "?EIO=4&transport=polling")
	if err != nil {
		return nil, err
	}
	if len(packets) != 1 {
		return nil, fmt.Errorf("handshake %q", packets)
	}
	if p.sid, err = openSID(packets[0]); err != nil {
		return nil, err
	}
	p.url = sk.url + "?EIO=4&transport=polling&sid=" + p.sid
	if err := p.post("40"); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(soakWait); time.Now().Before(deadline); {
		packets, err := p.poll()
		if err != nil {
			return nil, err
		}
		for _, pk := range packets {
			if strings.HasPrefix(pk, "40{") {
				return p, nil
			}
		}
	}
	return nil, errors.New("no CONNECT reply")
}

func (p *soakPoll) get(u string) ([]string, error) {
	res, err := p.hc.Get(u)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET: %d %s", res.StatusCode, body)
	}
	var out []string
	err = parser.DecodePayload(body, func(pk parser.Packet) error {
		out = append(out, string(parser.AppendPacket(nil, pk)))
		return nil
	})
	return out, err
}

// poll polls once, answering a ping.
func (p *soakPoll) poll() ([]string, error) {
	packets, err := p.get(p.url)
	if err != nil {
		return nil, err
	}
	for _, pk := range packets {
		if pk == "2" {
			if err := p.post("3"); err != nil {
				return nil, err
			}
		}
	}
	return packets, nil
}

func (p *soakPoll) post(packets ...string) error {
	res, err := p.hc.Post(p.url, "text/plain;charset=UTF-8", strings.NewReader(strings.Join(packets, "\x1e")))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "ok" {
		return fmt.Errorf("POST: %d %s", res.StatusCode, body)
	}
	return nil
}

// exchangePoll sends events from..to-1 in one POST and polls until their
// acknowledgements came.
func (sk *soak) exchangePoll(p *soakPoll, id, from, to int) error {
	packets := make([]string, 0, to-from)
	for seq := from; seq < to; seq++ {
		packets = append(packets, "4"+soakEvent(id, seq))
	}
	if err := p.post(packets...); err != nil {
		return err
	}
	sk.sent.Add(int64(to - from))
	deadline := time.Now().Add(soakWait)
	for got := 0; got < to-from; {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d acknowledgements of %d", got, to-from)
		}
		packets, err := p.poll()
		if err != nil {
			return fmt.Errorf("waiting for acknowledgements: %w", err)
		}
		for _, pk := range packets {
			if pk == "2" || pk == "6" {
				continue
			}
			seq := soakAck(strings.TrimPrefix(pk, "4"))
			if seq < from || seq >= to {
				return fmt.Errorf("unexpected packet %q", pk)
			}
			sk.ack(id, seq)
			got++
		}
	}
	return nil
}

func (sk *soak) pollClean(ctx context.Context, hc *http.Client, id, n int) error {
	p, err := sk.dialPoll(hc)
	if err != nil {
		return err
	}
	if err := sk.exchangePoll(p, id, 0, n); err != nil {
		return err
	}
	return p.post("41", "1")
}

// pollVanishGet: the client drops its TCP connection while its poll is
// pending.
func (sk *soak) pollVanishGet(ctx context.Context, hc *http.Client, id, n int) error {
	p, err := sk.dialPoll(hc)
	if err != nil {
		return err
	}
	if err := sk.exchangePoll(p, id, 0, n); err != nil {
		return err
	}
	conn, err := net.Dial("tcp", sk.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /socket.io/?EIO=4&transport=polling&sid="+p.sid+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	// Wait for the poll to be pending (the session is writable then), so
	// that the drop comes in the middle of it.
	sess := sk.ts.io.Engine().Session(p.sid)
	for deadline := time.Now().Add(10 * time.Second); sess != nil && !writable(sess) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return nil
}

// pollVanishPost: the client drops its TCP connection in the middle of a
// POST body.
func (sk *soak) pollVanishPost(ctx context.Context, hc *http.Client, id, n int) error {
	p, err := sk.dialPoll(hc)
	if err != nil {
		return err
	}
	if err := sk.exchangePoll(p, id, 0, n); err != nil {
		return err
	}
	conn, err := net.Dial("tcp", sk.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	event := "4" + soakEvent(id, n)
	_, err = fmt.Fprintf(conn, "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		p.sid, len(event)+100, event)
	if err == nil {
		sk.sent.Add(1) // sent, never complete: it must not be handled
	}
	return err
}

// pollSilent: the client stops polling; the heartbeat reaps it.
func (sk *soak) pollSilent(ctx context.Context, hc *http.Client, id, n int) error {
	p, err := sk.dialPoll(hc)
	if err != nil {
		return err
	}
	if err := sk.exchangePoll(p, id, 0, n); err != nil {
		return err
	}
	select {
	case sk.slots <- struct{}{}:
	default:
		return p.post("1") // enough silent ones for now
	}
	sk.silent.Add(1)
	go func() {
		defer sk.silent.Done()
		defer func() { <-sk.slots }()
		deadline := time.Now().Add(30 * time.Second)
		for sk.ts.io.Engine().Session(p.sid) != nil {
			if time.Now().After(deadline) {
				sk.t.Errorf("client %d: silent polling session not reaped", id)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return nil
}

// upgrade: polling, then WebSocket, events on both.
func (sk *soak) upgrade(ctx context.Context, hc *http.Client, id, n int) error {
	p, err := sk.dialPoll(hc)
	if err != nil {
		return err
	}
	if err := sk.exchangePoll(p, id, 0, n); err != nil {
		return err
	}
	c, err := sk.dialWS("&sid=" + p.sid)
	if err != nil {
		return err
	}
	defer c.conn.Close()
	if err := c.write("2probe"); err != nil {
		return err
	}
	if pkt, err := c.read(false, time.Now().Add(soakWait)); err != nil || pkt != "3probe" {
		return fmt.Errorf("probe answer %q: %v", pkt, err)
	}
	if err := c.write("5"); err != nil {
		return err
	}
	if err := sk.exchangeWS(c, id, n, 2*n, n); err != nil {
		return err
	}
	_ = c.write("41")
	return nil
}

// upgradeDropped: the probe's WebSocket drops, before or after the
// probe; the session goes on over polling.
func (sk *soak) upgradeDropped(ctx context.Context, hc *http.Client, id, n int) error {
	p, err := sk.dialPoll(hc)
	if err != nil {
		return err
	}
	c, err := sk.dialWS("&sid=" + p.sid)
	if err != nil {
		return err
	}
	if id%2 == 0 {
		if err := c.write("2probe"); err != nil {
			c.conn.Close()
			return err
		}
		if pkt, err := c.read(false, time.Now().Add(soakWait)); err != nil || pkt != "3probe" {
			c.conn.Close()
			return fmt.Errorf("probe answer %q: %v", pkt, err)
		}
	}
	c.conn.Close()
	if err := sk.exchangePoll(p, id, 0, n); err != nil {
		return err
	}
	return p.post("1")
}

func openSID(pkt string) (string, error) {
	var hs struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(pkt, "0") || json.Unmarshal([]byte(pkt[1:]), &hs) != nil || hs.SID == "" {
		return "", fmt.Errorf("open packet %q", pkt)
	}
	return hs.SID, nil
}
