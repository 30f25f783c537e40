package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// A small Socket.IO v5 client (Engine.IO v4, main namespace, JSON, no
// binary) for the test, over three transports:
//
//   - transportWebSocket: a WebSocket from the start;
//   - transportPolling: HTTP long-polling only;
//   - transportUpgrade: polling first, then upgraded to WebSocket, as the
//     official clients do by default.
//
// Every request carries the "sticky" query parameter that nginx hashes to
// pick a node.
const (
	transportWebSocket = "websocket"
	transportPolling   = "polling"
	transportUpgrade   = "upgrade"
)

var errClientClosed = errors.New("client closed")

// event is an event the server sent.
type event struct {
	name string
	args []json.RawMessage
}

// client is one Socket.IO connection.
type client struct {
	transport string
	key       string // the sticky key
	base      string // http://host:port/socket.io/?EIO=4&sticky=KEY
	http      *http.Client

	wmu    sync.Mutex // one write at a time: a WebSocket has one writer, and Engine.IO refuses overlapping POSTs
	ws     *websocket.Conn
	sid    string      // Engine.IO session id
	paused atomic.Bool // polling stops at its next answer: upgrading

	mu      sync.Mutex
	acks    map[int]chan []json.RawMessage
	nextAck int

	events    chan event
	connected chan error // the namespace CONNECT or CONNECT_ERROR
	done      chan struct{}
	closing   atomic.Bool
	readers   sync.WaitGroup
}

// dial connects a client to the Socket.IO server at httpURL over
// transport, with key as its sticky key, and joins the main namespace.
func dial(ctx context.Context, httpURL, transport, key string, hc *http.Client) (*client, error) {
	c := &client{
		transport: transport,
		key:       key,
		base:      httpURL + "/socket.io/?EIO=4&sticky=" + url.QueryEscape(key),
		http:      hc,
		acks:      map[int]chan []json.RawMessage{},
		events:    make(chan event, 256),
		connected: make(chan error, 1),
		done:      make(chan struct{}),
	}
	if err := c.open(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s client %s: %w", transport, key, err)
	}
	select {
	case err := <-c.connected:
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s client %s: %w", transport, key, err)
		}
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("%s client %s: waiting for CONNECT: %w", transport, key, ctx.Err())
	}
	return c, nil
}

func (c *client) open(ctx context.Context) error {
	if c.transport == transportWebSocket {
		ws, err := c.dialWebSocket(ctx, "")
		if err != nil {
			return err
		}
		c.ws = ws
		_ = ws.SetReadDeadline(deadline(ctx))
		_, open, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("reading the open packet: %w", err)
		}
		if err := c.readOpen(string(open)); err != nil {
			return err
		}
		_ = ws.SetReadDeadline(time.Time{})
		c.readers.Add(1)
		go c.readWebSocket()
		return c.write("40")
	}

	body, err := c.get(ctx, c.base+"&transport=polling")
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := c.readOpen(body); err != nil {
		return err
	}
	if err := c.write("40"); err != nil {
		return err
	}
	c.readers.Add(1)
	go c.poll()
	if c.transport == transportUpgrade {
		return c.upgrade(ctx)
	}
	return nil
}

func (c *client) readOpen(p string) error {
	var open struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(p, "0") || json.Unmarshal([]byte(p[1:]), &open) != nil || open.SID == "" {
		return fmt.Errorf("not an open packet: %q", p)
	}
	c.sid = open.SID
	return nil
}

func (c *client) dialWebSocket(ctx context.Context, sid string) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(c.base, "http") + "&transport=websocket"
	if sid != "" {
		u += "&sid=" + url.QueryEscape(sid)
	}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("WebSocket: %w", err)
	}
	return ws, nil
}

// upgrade moves a polling session to a WebSocket: "2probe" and "3probe"
// on the new connection, polling paused once its pending request is
// answered (the server releases it with a noop), then "5".
func (c *client) upgrade(ctx context.Context) error {
	ws, err := c.dialWebSocket(ctx, c.sid)
	if err != nil {
		return err
	}
	_ = ws.SetReadDeadline(deadline(ctx))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		ws.Close()
		return err
	}
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "3probe" {
		ws.Close()
		return fmt.Errorf("probe answered %q, %v", p, err)
	}
	c.paused.Store(true)
	polled := make(chan struct{})
	go func() { c.readers.Wait(); close(polled) }()
	select {
	case <-polled:
	case <-ctx.Done():
		ws.Close()
		return fmt.Errorf("polling did not pause: %w", ctx.Err())
	}
	_ = ws.SetReadDeadline(time.Time{})
	c.wmu.Lock()
	c.ws = ws
	err = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	c.readers.Add(1)
	go c.readWebSocket()
	return nil
}

// write sends one Engine.IO packet on the current transport.
func (c *client) write(p string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws != nil {
		_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return c.ws.WriteMessage(websocket.TextMessage, []byte(p))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.pollURL(), strings.NewReader(p))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST: %s %s", resp.Status, body)
	}
	return nil
}

func (c *client) pollURL() string {
	return c.base + "&transport=polling&sid=" + url.QueryEscape(c.sid)
}

func (c *client) get(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET: %s %s", resp.Status, body)
	}
	return string(body), nil
}

// poll reads packets with long-polling GETs until the session ends, the
// client closes, or an upgrade pauses it.
func (c *client) poll() {
	defer c.readers.Done()
	for !c.paused.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		body, err := c.get(ctx, c.pollURL())
		cancel()
		if err != nil {
			c.fail(err)
			return
		}
		for p := range strings.SplitSeq(body, "\x1e") {
			if !c.handle(p) {
				return
			}
		}
	}
}

func (c *client) readWebSocket() {
	defer c.readers.Done()
	for {
		_, p, err := c.ws.ReadMessage()
		if err != nil {
			c.fail(err)
			return
		}
		if !c.handle(string(p)) {
			return
		}
	}
}

// fail ends the client after a transport error, unless it is closing.
func (c *client) fail(err error) {
	if !c.closing.Load() {
		select {
		case c.connected <- err:
		default:
		}
	}
	c.shut()
}

func (c *client) shut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
	default:
		close(c.done)
	}
}

// handle takes one Engine.IO packet; false when the session is over.
func (c *client) handle(p string) bool {
	if p == "" {
		return true
	}
	switch p[0] {
	case '1': // close
		c.shut()
		return false
	case '2': // ping
		if err := c.write("3" + p[1:]); err != nil {
			c.fail(err)
			return false
		}
	case '4': // message: a Socket.IO packet
		c.handleSocketIO(p[1:])
	}
	return true
}

// handleSocketIO takes a Socket.IO packet of the main namespace: type,
// optional ack id, JSON.
func (c *client) handleSocketIO(p string) {
	if p == "" {
		return
	}
	typ, rest := p[0], p[1:]
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	id, hasID := 0, i > 0
	if hasID {
		id, _ = strconv.Atoi(rest[:i])
	}
	data := []byte(rest[i:])
	switch typ {
	case '0': // CONNECT
		select {
		case c.connected <- nil:
		default:
		}
	case '4': // CONNECT_ERROR
		select {
		case c.connected <- fmt.Errorf("connect error: %s", data):
		default:
		}
	case '2': // EVENT
		var args []json.RawMessage
		if json.Unmarshal(data, &args) != nil || len(args) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(args[0], &name)
		select {
		case c.events <- event{name: name, args: args[1:]}:
		case <-c.done:
		}
	case '3': // ACK
		var args []json.RawMessage
		_ = json.Unmarshal(data, &args)
		c.mu.Lock()
		ch := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- args
		}
	}
}

// call sends an event asking for an acknowledgement and decodes the
// answer's first argument into result.
func (c *client) call(ctx context.Context, result any, name string, args ...any) error {
	data, err := json.Marshal(append([]any{name}, args...))
	if err != nil {
		return err
	}
	ch := make(chan []json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.write("42" + strconv.Itoa(id) + string(data)); err != nil {
		return err
	}
	select {
	case ans := <-ch:
		if len(ans) == 0 {
			return fmt.Errorf("%s: empty acknowledgement", name)
		}
		if bytes.HasPrefix(ans[0], []byte(`{"error"`)) {
			return fmt.Errorf("%s: %s", name, ans[0])
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(ans[0], result)
	case <-c.done:
		return fmt.Errorf("%s: %w", name, errClientClosed)
	case <-ctx.Done():
		return fmt.Errorf("%s: no acknowledgement: %w", name, ctx.Err())
	}
}

// next returns the next event the server sent.
func (c *client) next(ctx context.Context) (event, error) {
	select {
	case ev := <-c.events:
		return ev, nil
	case <-c.done:
		return event{}, errClientClosed
	case <-ctx.Done():
		return event{}, ctx.Err()
	}
}

// Close ends the session (a close packet, then the connection) and waits
// for the client's goroutines.
func (c *client) Close() {
	if c.closing.Swap(true) {
		return
	}
	if c.sid != "" {
		_ = c.write("1")
	}
	c.wmu.Lock()
	if c.ws != nil {
		_ = c.ws.Close()
	}
	c.wmu.Unlock()
	c.shut()
	c.readers.Wait()
}

func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(10 * time.Second)
}
