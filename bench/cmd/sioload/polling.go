package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// httpConn is one keep-alive HTTP/1.1 connection that sends pre-built
// requests and reads the responses into a reused buffer: net/http's client
// costs more CPU per request than the servers under test.
type httpConn struct {
	addr string
	conn net.Conn // used by one goroutine at a time
	br   *bufio.Reader
	body []byte

	mu   sync.Mutex // guards live and dead, for shutdown from another goroutine
	live net.Conn
	dead bool
}

var errShutdown = errors.New("connection shut down")

func (h *httpConn) dial(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return err
	}
	h.mu.Lock()
	if h.dead {
		h.mu.Unlock()
		_ = c.Close()
		return errShutdown
	}
	h.live = c
	h.mu.Unlock()
	h.conn = c
	if h.br == nil {
		h.br = bufio.NewReaderSize(c, 4096)
	} else {
		h.br.Reset(c)
	}
	return nil
}

// roundTrip sends req and returns the body of a 200 response, valid until
// the next call. A kept-alive connection the server closed is dialed again
// once.
func (h *httpConn) roundTrip(ctx context.Context, req []byte) ([]byte, error) {
	reused := h.conn != nil
	if !reused {
		if err := h.dial(ctx); err != nil {
			return nil, err
		}
	}
	body, err := h.try(req)
	if err != nil && reused && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)) {
		h.close()
		if err := h.dial(ctx); err != nil {
			return nil, err
		}
		body, err = h.try(req)
	}
	if err != nil {
		h.close()
	}
	return body, err
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func (h *httpConn) try(req []byte) ([]byte, error) {
	if _, err := h.conn.Write(req); err != nil {
		return nil, err
	}
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	status, _ := strconv.Atoi(string(line[9:12]))
	length, chunked, closeAfter := -1, false, false
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(value))
			if err != nil {
				return nil, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		}
	}
	h.body = h.body[:0]
	switch {
	case chunked:
		for {
			line, err := h.br.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("bad chunk size %q", line)
			}
			if size == 0 {
				for { // trailers
					line, err := h.br.ReadSlice('\n')
					if err != nil {
						return nil, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			if err := h.readN(int(size)); err != nil {
				return nil, err
			}
			if _, err := h.br.Discard(2); err != nil {
				return nil, err
			}
		}
	case length >= 0:
		if err := h.readN(length); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("response without length")
	}
	if closeAfter {
		h.close()
	}
	if status != 200 {
		return nil, fmt.Errorf("HTTP %d: %q", status, h.body)
	}
	return h.body, nil
}

func (h *httpConn) readN(n int) error {
	start := len(h.body)
	h.body = append(h.body, make([]byte, n)...)
	_, err := io.ReadFull(h.br, h.body[start:])
	return err
}

// close drops the connection at once (SO_LINGER 0); it is called by the
// goroutine using the connection.
func (h *httpConn) close() {
	if h.conn == nil {
		return
	}
	abortConn(h.conn)
	h.conn = nil
}

// revive lets a connection that was shut down be dialed again (to send a
// close packet after the pollers have stopped); no other goroutine may be
// using it.
func (h *httpConn) revive() {
	h.mu.Lock()
	dead := h.dead
	h.dead = false
	h.mu.Unlock()
	if dead {
		h.close()
	}
}

// shutdown closes the connection from any goroutine, ending a request in
// progress, and keeps it from being dialed again.
func (h *httpConn) shutdown() {
	h.mu.Lock()
	h.dead = true
	c := h.live
	h.mu.Unlock()
	if c != nil {
		abortConn(c)
	}
}

func abortConn(c net.Conn) {
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

// pollTarget is the server's address and Engine.IO path.
type pollTarget struct {
	addr, host, path string
}

func newPollTarget(base string) (pollTarget, error) {
	u, err := url.Parse(base)
	if err != nil {
		return pollTarget{}, err
	}
	if u.Scheme != "http" {
		return pollTarget{}, fmt.Errorf("url %q: polling needs http", base)
	}
	p := u.Path
	if p == "" || p == "/" {
		p = "/socket.io/"
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return pollTarget{addr: addr, host: u.Host, path: p}, nil
}

func (t pollTarget) get(sid string) []byte {
	q := "EIO=4&transport=polling"
	if sid != "" {
		q += "&sid=" + url.QueryEscape(sid)
	}
	return []byte("GET " + t.path + "?" + q + " HTTP/1.1\r\nHost: " + t.host + "\r\n\r\n")
}

// post appends a POST of body for session sid to b.
func (t pollTarget) post(b []byte, sid string, body []byte) []byte {
	b = append(b, "POST "+t.path+"?EIO=4&transport=polling&sid="+url.QueryEscape(sid)+" HTTP/1.1\r\nHost: "+t.host+
		"\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// pollClient is one Socket.IO client over long-polling: a GET always
// pending on one connection, POSTs on another.
type pollClient struct {
	t      pollTarget
	sid    string
	getReq []byte
	get    httpConn
	post   httpConn
	pbuf   []byte
}

// pollHandshake opens a session and connects to "/" over conn get.
func pollHandshake(ctx context.Context, t pollTarget) (*pollClient, error) {
	p := &pollClient{t: t, get: httpConn{addr: t.addr}, post: httpConn{addr: t.addr}}
	body, err := p.get.roundTrip(ctx, t.get(""))
	if err != nil {
		return nil, err
	}
	if len(body) == 0 || body[0] != '0' {
		p.get.close()
		return nil, fmt.Errorf("expected an open packet, got %q", body)
	}
	var op openPacket
	if err := json.Unmarshal(body[1:], &op); err != nil {
		p.get.close()
		return nil, fmt.Errorf("open packet: %w", err)
	}
	p.sid = op.SID
	p.getReq = t.get(op.SID)
	if err := p.send(ctx, []byte("40")); err != nil {
		p.closeAll()
		return nil, err
	}
	for {
		body, err := p.get.roundTrip(ctx, p.getReq)
		if err != nil {
			p.closeAll()
			return nil, err
		}
		for pkt := range bytes.SplitSeq(body, []byte{0x1e}) {
			switch {
			case bytes.HasPrefix(pkt, []byte("40")):
				return p, nil
			case bytes.HasPrefix(pkt, []byte("44")):
				p.closeAll()
				return nil, fmt.Errorf("%w: %s", errConnectRefused, pkt[2:])
			case bytes.Equal(pkt, []byte("2")):
				if err := p.send(ctx, []byte("3")); err != nil {
					p.closeAll()
					return nil, err
				}
			}
		}
	}
}

// send POSTs a payload on the POST connection (one caller at a time).
func (p *pollClient) send(ctx context.Context, payload []byte) error {
	p.pbuf = p.t.post(p.pbuf[:0], p.sid, payload)
	body, err := p.post.roundTrip(ctx, p.pbuf)
	if err != nil {
		return err
	}
	if !bytes.Equal(body, []byte("ok")) {
		return fmt.Errorf("POST answered %q", body)
	}
	return nil
}

func (p *pollClient) closeAll() {
	p.get.close()
	p.post.close()
}

// runConnectPolling opens cfg.n sessions over long-polling, cfg.conc at a
// time, each on a new TCP connection (handshake GET, CONNECT POST, GET of
// the CONNECT answer), and measures connections/s. Each session is closed
// (close packet) after the measurement.
func runConnectPolling(ctx context.Context, cfg *config) (*result, error) {
	t, err := newPollTarget(cfg.url)
	if err != nil {
		return nil, err
	}
	m := startCPU(cfg.pid)
	clients, fails := pollHandshakeMany(ctx, t, cfg.n, cfg.conc)
	u := m.stop()
	res := &result{Scenario: "connect", Transport: "polling", Clients: cfg.n, Unit: "connections", Errors: uint64(fails)}
	res.fill(uint64(len(clients)), u)
	closePollMany(ctx, clients)
	if len(clients) == 0 {
		return res, errors.New("no client connected")
	}
	return res, nil
}

// pollHandshakeMany opens n sessions over long-polling with conc
// handshakes at a time. It returns the sessions opened (in no particular
// order) and the number of failures.
func pollHandshakeMany(ctx context.Context, t pollTarget, n, conc int) ([]*pollClient, int) {
	var (
		mu      sync.Mutex
		clients = make([]*pollClient, 0, n)
		fails   int
		lastErr error
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	for w := 0; w < max(conc, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				p, err := pollHandshake(ctx, t)
				mu.Lock()
				if err != nil {
					fails++
					lastErr = err
				} else {
					clients = append(clients, p)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if lastErr != nil {
		logf("polling handshake: %d failures, last: %v", fails, lastErr)
	}
	return clients, fails
}

// closePollMany closes the sessions, a few at a time: a close packet, then
// both connections. Nothing else may be using their connections.
func closePollMany(ctx context.Context, clients []*pollClient) {
	const workers = 8
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(clients); i += workers {
				clients[i].post.revive()
				_ = clients[i].send(ctx, []byte("1"))
				clients[i].closeAll()
			}
		}(w)
	}
	wg.Wait()
}

// runPollingEcho is the echo scenario over long-polling: cfg.conc clients,
// each with a GET always pending, POST "echo" with an ack and wait for the
// ack to come back in a GET response before sending the next one (or at
// cfg.rate acks/s in all).
func runPollingEcho(ctx context.Context, cfg *config) (*result, error) {
	t, err := newPollTarget(cfg.url)
	if err != nil {
		return nil, err
	}
	payload := payloadJSON(cfg.payload)
	want := append(append([]byte{'['}, payload...), ']')
	lat := newLatencies()
	var acks, errs atomic.Uint64
	var stopped atomic.Bool

	type pollEcho struct {
		*pollClient
		nextID atomic.Uint64
		sentAt atomic.Int64
		sendq  chan byte // 'e': next echo; 'p': pong
	}
	var clients []*pollEcho
	defer func() {
		for _, p := range clients {
			p.closeAll()
		}
	}()
	for i := 0; i < cfg.conc; i++ {
		p, err := pollHandshake(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("polling handshake: %w", err)
		}
		clients = append(clients, &pollEcho{pollClient: p, sendq: make(chan byte, 4)})
	}
	res := &result{Scenario: "polling", Transport: "polling", Clients: len(clients), Offered: cfg.rate, Payload: cfg.payload, Unit: "acks"}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	idle := make(chan *pollEcho, len(clients))
	enqueue := func(p *pollEcho, what byte) {
		select {
		case p.sendq <- what:
		case <-stop:
		}
	}
	for _, p := range clients {
		wg.Add(2)
		go func() { // the poller: a GET always pending
			defer wg.Done()
			for !stopped.Load() {
				body, err := p.get.roundTrip(ctx, p.getReq)
				if err != nil {
					if !stopped.Load() {
						errs.Add(1)
						logf("polling GET: %v", err)
					}
					return
				}
				for pkt := range bytes.SplitSeq(body, []byte{0x1e}) {
					switch {
					case bytes.Equal(pkt, []byte("2")):
						enqueue(p, 'p')
					case bytes.HasPrefix(pkt, []byte("43")):
						id, data := ackID(pkt[2:])
						if id != p.nextID.Load()-1 || !bytes.Equal(data, want) {
							errs.Add(1)
						}
						lat.Record(time.Duration(now() - p.sentAt.Load()))
						acks.Add(1)
						if cfg.rate > 0 {
							idle <- p
						} else {
							enqueue(p, 'e')
						}
					case bytes.HasPrefix(pkt, []byte("1")), bytes.HasPrefix(pkt, []byte("41")):
						if !stopped.Load() {
							errs.Add(1)
							logf("polling: closed by the server: %q", pkt)
						}
						return
					}
				}
			}
		}()
		go func() { // the sender: POSTs what is queued, in one payload
			defer wg.Done()
			var payloadBuf []byte
			for {
				var what byte
				select {
				case what = <-p.sendq:
				case <-stop:
					return
				}
				payloadBuf = payloadBuf[:0]
				for more := true; more; {
					if len(payloadBuf) > 0 {
						payloadBuf = append(payloadBuf, 0x1e)
					}
					switch what {
					case 'p':
						payloadBuf = append(payloadBuf, '3')
					case 'e':
						id := p.nextID.Add(1) - 1
						payloadBuf = append(payloadBuf, '4', '2')
						payloadBuf = strconv.AppendUint(payloadBuf, id, 10)
						payloadBuf = append(payloadBuf, `["echo",`...)
						payloadBuf = append(payloadBuf, payload...)
						payloadBuf = append(payloadBuf, ']')
						p.sentAt.Store(now())
					}
					select {
					case what = <-p.sendq:
					default:
						more = false
					}
				}
				if err := p.send(ctx, payloadBuf); err != nil {
					if !stopped.Load() {
						errs.Add(1)
						logf("polling POST: %v", err)
					}
					return
				}
			}
		}()
	}
	pacerDone := make(chan struct{})
	var skipped uint64
	if cfg.rate > 0 {
		for _, p := range clients {
			idle <- p
		}
		go func() {
			defer close(pacerDone)
			pacer(cfg.rate, idle, func(p *pollEcho) { enqueue(p, 'e') }, &skipped, stop)
		}()
	} else {
		close(pacerDone)
		for _, p := range clients {
			enqueue(p, 'e')
		}
	}
	w, err := measure(ctx, cfg, acks.Load, lat)
	stopped.Store(true)
	close(stop)
	<-pacerDone
	for _, p := range clients {
		p.get.shutdown() // ends the pending GETs and POSTs
		p.post.shutdown()
	}
	wg.Wait()
	res.fill(w.ops, w.cpu)
	res.setLatency(w.lat)
	res.Errors = errs.Load()
	res.Skipped = skipped
	return res, err
}
