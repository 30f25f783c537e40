package main

import (
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

	"github.com/gorilla/websocket"
)

// handlers are what a scenario does with the packets its clients get.
// They run on the client's reader goroutine and must not block.
type handlers struct {
	// onEvent gets an EVENT packet's data after "42": an optional ack
	// id, then the JSON array.
	onEvent func(c *client, data []byte)
	// onAck gets an ACK packet's id and its JSON array.
	onAck func(c *client, id uint64, data []byte)
}

// client is one Socket.IO client connected to "/" over a WebSocket: one
// goroutine reads, and writes are serialized by a mutex.
type client struct {
	conn *websocket.Conn
	h    handlers
	sid  string

	wmu  sync.Mutex
	wbuf []byte // frames being built, under wmu
	rbuf []byte // the message being read, reader goroutine only

	// Scenario state, owned by whoever drives the client.
	nextID atomic.Uint64 // the next ack id
	sentAt atomic.Int64  // ns since epoch of the outstanding request

	pings  atomic.Uint64
	closed atomic.Bool
	done   chan struct{} // closed when the reader returns
	err    error         // why the reader returned, read after done
}

// epoch is the origin of the timestamps that broadcasts carry.
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

// wsURL turns the target's http URL into the Engine.IO WebSocket URL.
func wsURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("url %q: scheme must be http or ws", base)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/socket.io/"
	}
	u.RawQuery = "EIO=4&transport=websocket"
	return u.String(), nil
}

var dialer = &websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   4096,
	WriteBufferSize:  1024,
	WriteBufferPool:  &sync.Pool{},
}

// openPacket is the part of the Engine.IO open packet the tool reads.
type openPacket struct {
	SID          string `json:"sid"`
	PingInterval int    `json:"pingInterval"`
}

// errConnectRefused is a CONNECT_ERROR answer to the namespace connect.
var errConnectRefused = errors.New("connect refused by the server")

// dial opens an Engine.IO session over a WebSocket, connects to the
// namespace "/" and starts the reader.
func dial(ctx context.Context, target string, h handlers) (*client, error) {
	conn, _, err := dialer.DialContext(ctx, target, nil)
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, h: h, done: make(chan struct{})}
	if err := c.handshake(ctx); err != nil {
		c.abort()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

func (c *client) handshake(ctx context.Context) error {
	if d, ok := ctx.Deadline(); ok {
		_ = c.conn.SetReadDeadline(d)
		defer c.conn.SetReadDeadline(time.Time{})
	}
	_, msg, err := c.conn.ReadMessage()
	if err != nil {
		return err
	}
	if len(msg) == 0 || msg[0] != '0' {
		return fmt.Errorf("expected an open packet, got %q", msg)
	}
	var op openPacket
	if err := json.Unmarshal(msg[1:], &op); err != nil {
		return fmt.Errorf("open packet: %w", err)
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		return err
	}
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			return err
		}
		switch {
		case bytes.Equal(msg, []byte("2")):
			if err := c.conn.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
				return err
			}
		case bytes.HasPrefix(msg, []byte("40")):
			var sp openPacket
			if len(msg) > 2 {
				_ = json.Unmarshal(msg[2:], &sp)
			}
			c.sid = sp.SID
			return nil
		case bytes.HasPrefix(msg, []byte("44")):
			return fmt.Errorf("%w: %s", errConnectRefused, msg[2:])
		default:
			return fmt.Errorf("unexpected packet during connect: %q", msg)
		}
	}
}

// write sends one text frame.
func (c *client) write(frame []byte) error {
	c.wmu.Lock()
	err := c.conn.WriteMessage(websocket.TextMessage, frame)
	c.wmu.Unlock()
	return err
}

// emit sends an EVENT packet "42[<ack id>]<array>", array being the JSON
// array of the event name and arguments. ackID < 0 asks for no ack.
func (c *client) emit(ackID int64, array []byte) error {
	c.wmu.Lock()
	b := append(c.wbuf[:0], '4', '2')
	if ackID >= 0 {
		b = strconv.AppendInt(b, ackID, 10)
	}
	b = append(b, array...)
	c.wbuf = b
	err := c.conn.WriteMessage(websocket.TextMessage, b)
	c.wmu.Unlock()
	return err
}

var pong = []byte("3")

func (c *client) readLoop() {
	defer close(c.done)
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			c.err = err
			return
		}
		msg, err := c.readAll(r)
		if err != nil {
			c.err = err
			return
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case '2': // ping
			c.pings.Add(1)
			if err := c.write(pong); err != nil {
				c.err = err
				return
			}
		case '4': // message: a Socket.IO packet
			if len(msg) < 2 {
				continue
			}
			switch msg[1] {
			case '2':
				if c.h.onEvent != nil {
					c.h.onEvent(c, msg[2:])
				}
			case '3':
				id, rest := ackID(msg[2:])
				if c.h.onAck != nil {
					c.h.onAck(c, id, rest)
				}
			case '1', '4':
				c.err = fmt.Errorf("disconnected by the server: %q", msg)
				return
			}
		case '1': // close
			c.err = errors.New("engine.io close packet")
			return
		}
	}
}

// readAll reads one message into the client's reusable buffer.
func (c *client) readAll(r io.Reader) ([]byte, error) {
	if c.rbuf == nil {
		c.rbuf = make([]byte, 512)
	}
	n := 0
	for {
		if n == len(c.rbuf) {
			c.rbuf = append(c.rbuf, make([]byte, len(c.rbuf))...)
		}
		m, err := r.Read(c.rbuf[n:])
		n += m
		if err == io.EOF {
			return c.rbuf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ackID splits "<digits><array>" into the id and the array.
func ackID(b []byte) (uint64, []byte) {
	var id uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		id = id*10 + uint64(b[i]-'0')
	}
	return id, b[i:]
}

// abort closes the TCP connection at once (SO_LINGER 0: no TIME_WAIT left
// on the tool's side, so that long runs do not run out of ports).
func (c *client) abort() {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	if tcp, ok := c.conn.NetConn().(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.conn.Close()
}

// close closes the connection and waits for the reader.
func (c *client) close() {
	c.abort()
	<-c.done
}

// closeAll closes clients in parallel with a few goroutines.
func closeAll(cs []*client) {
	var wg sync.WaitGroup
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(cs); i += workers {
				if cs[i] != nil {
					cs[i].close()
				}
			}
		}(w)
	}
	wg.Wait()
}

// dialMany connects n clients with conc dialing at once. It returns the
// clients connected (in no particular order) and the number of failures;
// it stops at the first failures past maxErr.
func dialMany(ctx context.Context, target string, n, conc int, h handlers) ([]*client, int) {
	if conc < 1 {
		conc = 1
	}
	var (
		mu      sync.Mutex
		out     = make([]*client, 0, n)
		fails   int
		next    atomic.Int64
		wg      sync.WaitGroup
		lastErr error
	)
	maxErr := n/100 + 10
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if ctx.Err() != nil {
					return
				}
				c, err := dial(ctx, target, h)
				mu.Lock()
				if err != nil {
					fails++
					lastErr = err
					stop := fails > maxErr
					mu.Unlock()
					if stop {
						return
					}
					continue
				}
				out = append(out, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if lastErr != nil {
		logf("dial: %d failures, last: %v", fails, lastErr)
	}
	return out, fails
}
