// Package sioclient is a minimal Socket.IO v5 client for the framework
// examples' tests, over WebSocket or HTTP long-polling (Engine.IO v4). It
// connects to the main namespace, sends and receives Socket.IO packets as
// the text of their Engine.IO messages (`42["news","hello"]`), and answers the server's pings
// on its own. It does not upgrade, reconnect or handle binary packets.
package sioclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// ErrClosed is the error of a connection that the server closed with a
// close packet.
var ErrClosed = errors.New("sioclient: closed by the server")

// Open is the Engine.IO handshake the server answered with.
type Open struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// Conn is a client connected to the main namespace "/". Its methods are
// safe for concurrent use.
type Conn struct {
	t        transport
	open     Open
	socketID string

	packets   chan string       // Socket.IO packets after the CONNECT reply
	connected chan connectReply // the CONNECT reply, once
	done      chan struct{}     // closed when the reader stops
	quit      chan struct{}     // closed by Close
	err       error             // why the reader stopped; read after done
	pings     atomic.Int64
	closeOnce sync.Once
}

type connectReply struct {
	data string
	err  error
}

// transport carries Engine.IO packets.
type transport interface {
	// read returns the next packets from the server.
	read() ([]string, error)
	// write sends packets to the server; it may be called concurrently.
	write(packets ...string) error
	// close ends the transport; a pending read then fails.
	close() error
}

// DialWebSocket connects over WebSocket to the Socket.IO server of
// baseURL ("http://host:port" or "https://…", the path /socket.io/ is
// added) and joins the main namespace. A nil d means
// websocket.DefaultDialer. It returns once the server answered the
// CONNECT packet.
func DialWebSocket(ctx context.Context, baseURL string, d *websocket.Dialer) (*Conn, error) {
	if d == nil {
		d = websocket.DefaultDialer
	}
	u := "ws" + strings.TrimPrefix(baseURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, res, err := d.DialContext(ctx, u, nil)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("sioclient: dial %s: %w (HTTP %s)", u, err, res.Status)
		}
		return nil, fmt.Errorf("sioclient: dial %s: %w", u, err)
	}
	// Reads block: the context bounds them by closing the connection.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	_, msg, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("sioclient: reading the open packet: %w", err)
	}
	t := &wsTransport{conn: ws}
	c, err := start(ctx, t, string(msg))
	if err != nil {
		ws.Close()
		return nil, err
	}
	return c, nil
}

// DialPolling connects over HTTP long-polling to the Socket.IO server of
// baseURL with client hc (nil means http.DefaultClient) and joins the main
// namespace. It returns once the server answered the CONNECT packet.
func DialPolling(ctx context.Context, baseURL string, hc *http.Client) (*Conn, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := baseURL + "/socket.io/?EIO=4&transport=polling"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	body, err := do(hc, req)
	if err != nil {
		return nil, fmt.Errorf("sioclient: handshake: %w", err)
	}
	var o Open
	if !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &o) != nil || o.SID == "" {
		return nil, fmt.Errorf("sioclient: handshake answered %q", body)
	}
	pctx, cancel := context.WithCancel(context.Background())
	t := &pollTransport{hc: hc, url: u + "&sid=" + o.SID, ctx: pctx, cancel: cancel}
	c, err := start(ctx, t, body)
	if err != nil {
		t.close()
		return nil, err
	}
	return c, nil
}

// start reads the open packet, starts the reader and joins the main
// namespace.
func start(ctx context.Context, t transport, open string) (*Conn, error) {
	c := &Conn{
		t:         t,
		packets:   make(chan string, 64),
		connected: make(chan connectReply, 1),
		done:      make(chan struct{}),
		quit:      make(chan struct{}),
	}
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &c.open) != nil || c.open.SID == "" {
		return nil, fmt.Errorf("sioclient: open packet %q", open)
	}
	go c.readLoop()
	if err := t.write("40"); err != nil {
		return nil, fmt.Errorf("sioclient: sending CONNECT: %w", err)
	}
	select {
	case r := <-c.connected:
		if r.err != nil {
			return nil, r.err
		}
		var reply struct {
			SID string `json:"sid"`
		}
		if err := json.Unmarshal([]byte(r.data), &reply); err != nil || reply.SID == "" {
			return nil, fmt.Errorf("sioclient: CONNECT reply %q", r.data)
		}
		c.socketID = reply.SID
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("sioclient: closed before the CONNECT reply: %w", c.err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readLoop reads until the transport fails or the server closes.
func (c *Conn) readLoop() {
	defer close(c.done)
	connected := false
	for {
		pkts, err := c.t.read()
		if err != nil {
			c.err = err
			return
		}
		for _, p := range pkts {
			if p == "" {
				continue
			}
			switch p[0] {
			case '1': // close
				c.err = ErrClosed
				return
			case '2': // ping: pong with the same data
				c.pings.Add(1)
				if err := c.t.write("3" + p[1:]); err != nil {
					c.err = err
					return
				}
			case '4': // message: a Socket.IO packet
				switch {
				case !connected && strings.HasPrefix(p, "40"):
					connected = true
					c.connected <- connectReply{data: p[2:]}
				case !connected && strings.HasPrefix(p, "44"):
					connected = true
					c.connected <- connectReply{err: fmt.Errorf("sioclient: connection refused: %s", p[2:])}
				default:
					select {
					case c.packets <- p:
					case <-c.quit:
						c.err = net.ErrClosed
						return
					}
				}
			case '6': // noop
			default:
				c.err = fmt.Errorf("sioclient: not an Engine.IO packet: %.40q", p)
				return
			}
		}
	}
}

// Open returns the server's Engine.IO handshake.
func (c *Conn) Open() Open { return c.open }

// SID returns the socket's id, from the server's CONNECT reply.
func (c *Conn) SID() string { return c.socketID }

// Pings counts the server's pings answered so far.
func (c *Conn) Pings() int { return int(c.pings.Load()) }

// Send sends a Socket.IO packet given as the text of its Engine.IO
// message, such as `420["echo","hi"]`: "4" for an Engine.IO message, "2"
// for a Socket.IO event, then the acknowledgement id 0 and the arguments.
func (c *Conn) Send(packet string) error { return c.t.write(packet) }

// Recv returns the next Socket.IO packet from the server as the text of
// its Engine.IO message, such as `430["hi"]` (the acknowledgement of id
// 0). Once the connection is closed and the packets received before are
// read, it returns the reason.
func (c *Conn) Recv(ctx context.Context) (string, error) {
	select {
	case p := <-c.packets:
		return p, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.done:
		select {
		case p := <-c.packets:
			return p, nil
		default:
		}
		return "", fmt.Errorf("sioclient: connection ended: %w", c.err)
	}
}

// Done is closed when the connection ends, by either side.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection and waits for its reader to stop.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.quit)
		err = c.t.close()
	})
	<-c.done
	return err
}

// wsTransport is Engine.IO over WebSocket: one packet a frame.
type wsTransport struct {
	conn *websocket.Conn
	mu   sync.Mutex // one writer at a time
}

func (t *wsTransport) read() ([]string, error) {
	_, msg, err := t.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	return []string{string(msg)}, nil
}

func (t *wsTransport) write(packets ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range packets {
		if err := t.conn.WriteMessage(websocket.TextMessage, []byte(p)); err != nil {
			return err
		}
	}
	return nil
}

func (t *wsTransport) close() error { return t.conn.Close() }

// pollTransport is Engine.IO over long-polling: a GET waits for the
// server's packets, a POST carries the client's; several packets in one
// body are separated by the record separator 0x1e.
type pollTransport struct {
	hc     *http.Client
	url    string // with the session id
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // one POST at a time: the server refuses overlapping ones
}

func (t *pollTransport) read() ([]string, error) {
	req, err := http.NewRequestWithContext(t.ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return nil, err
	}
	body, err := do(t.hc, req)
	if err != nil {
		return nil, err
	}
	return strings.Split(body, "\x1e"), nil
}

func (t *pollTransport) write(packets ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	req, err := http.NewRequestWithContext(t.ctx, http.MethodPost, t.url, strings.NewReader(strings.Join(packets, "\x1e")))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	body, err := do(t.hc, req)
	if err != nil {
		return err
	}
	if body != "ok" {
		return fmt.Errorf("sioclient: POST answered %q", body)
	}
	return nil
}

// close tells the server (a close packet), then cancels the pending GET.
func (t *pollTransport) close() error {
	err := t.write("1")
	t.cancel()
	return err
}

// do sends req and returns the body of a 200 answer.
func do(hc *http.Client, req *http.Request) (string, error) {
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: HTTP %s: %s", req.Method, req.URL.Path, res.Status, b)
	}
	return string(b), nil
}
