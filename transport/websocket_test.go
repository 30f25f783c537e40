package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// wsPair connects a gorilla client to a server-side WebSocket transport
// over loopback.
func wsPair(t *testing.T, opts WebSocketOptions, protocol int, dialer *websocket.Dialer) (*WebSocket, *websocket.Conn) {
	t.Helper()
	up := NewUpgrader(opts)
	server := make(chan *WebSocket, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, http.Header{"X-Test": {"yes"}}, protocol)
		if err != nil {
			t.Errorf("Upgrade: %v", err)
			server <- nil
			return
		}
		server <- ws
	}))
	t.Cleanup(ts.Close)
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	conn, res, err := dialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("X-Test") != "yes" {
		t.Errorf("extra handshake header missing: %v", res.Header)
	}
	t.Cleanup(func() { conn.Close() })
	ws := <-server
	if ws == nil {
		t.FailNow()
	}
	t.Cleanup(func() { ws.Close() })
	return ws, conn
}

func readFrame(t *testing.T, conn *websocket.Conn) (int, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	kind, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return kind, string(data)
}

// checkFrames reads the frames of packets from conn, in order and intact.
func checkFrames(t *testing.T, conn *websocket.Conn, packets []parser.Packet) {
	t.Helper()
	for i, p := range packets {
		kind, got := readFrame(t, conn)
		want, wantKind := "4"+string(p.Data), websocket.TextMessage
		if p.Binary {
			want, wantKind = string(p.Data), websocket.BinaryMessage
		}
		if kind != wantKind || got != want {
			t.Fatalf("frame %d: kind %d, %d bytes starting %.8q; want kind %d, %d bytes starting %.8q",
				i, kind, len(got), got, wantKind, len(want), want)
		}
	}
}

// TestWebSocketFrameTypes: text packets go in text frames with the type
// digit first; binary messages go in binary frames, raw in v4 and after the
// type byte in v3; one packet per frame.
func TestWebSocketFrameTypes(t *testing.T) {
	packets := []parser.Packet{
		{Type: parser.PacketOpen, Data: []byte(`{"sid":"x"}`)},
		{Type: parser.PacketMessage, Data: []byte("héllo")},
		{Type: parser.PacketMessage, Data: []byte{0, 1, 0xff}, Binary: true},
		{Type: parser.PacketPing},
		{Type: parser.PacketPong, Data: []byte("probe")},
		{Type: parser.PacketMessage},
		{Type: parser.PacketNoop},
	}
	tests := []struct {
		protocol int
		want     []string // "t:" text frames, "b:" binary frames
	}{
		{parser.ProtocolV4, []string{`t:0{"sid":"x"}`, "t:4héllo", "b:\x00\x01\xff", "t:2", "t:3probe", "t:4", "t:6"}},
		{parser.ProtocolV3, []string{`t:0{"sid":"x"}`, "t:4héllo", "b:\x04\x00\x01\xff", "t:2", "t:3probe", "t:4", "t:6"}},
	}
	for _, tt := range tests {
		ws, conn := wsPair(t, WebSocketOptions{}, tt.protocol, nil)
		if err := ws.WritePackets(packets, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, want := range tt.want {
			kind, data := readFrame(t, conn)
			got := "t:" + data
			if kind == websocket.BinaryMessage {
				got = "b:" + data
			}
			if got != want {
				t.Errorf("v%d: frame %q, want %q", tt.protocol, got, want)
			}
		}
		// No deadline works too.
		if err := ws.WritePackets(packets[:1], time.Time{}); err != nil {
			t.Fatal(err)
		}
		readFrame(t, conn)
	}
}

func TestWebSocketReadPacket(t *testing.T) {
	tests := []struct {
		protocol int
		kind     int
		frame    string
		want     parser.Packet
		err      error
	}{
		{4, websocket.TextMessage, "4hello", parser.Packet{Type: parser.PacketMessage, Data: []byte("hello")}, nil},
		{4, websocket.TextMessage, "2probe", parser.Packet{Type: parser.PacketPing, Data: []byte("probe")}, nil},
		{4, websocket.TextMessage, "5", parser.Packet{Type: parser.PacketUpgrade}, nil},
		{4, websocket.BinaryMessage, "\x04\x01", parser.Packet{Type: parser.PacketMessage, Data: []byte("\x04\x01"), Binary: true}, nil},
		{4, websocket.TextMessage, "bAQI=", parser.Packet{Type: parser.PacketMessage, Data: []byte{1, 2}, Binary: true}, nil},
		{4, websocket.TextMessage, "x", parser.Packet{}, parser.ErrInvalidPacket},
		{4, websocket.TextMessage, "", parser.Packet{}, parser.ErrInvalidPacket},
		{3, websocket.BinaryMessage, "\x04\x01", parser.Packet{Type: parser.PacketMessage, Data: []byte("\x01"), Binary: true}, nil},
		{3, websocket.BinaryMessage, "\x09", parser.Packet{}, parser.ErrInvalidPacket},
		{3, websocket.TextMessage, "2", parser.Packet{Type: parser.PacketPing}, nil},
	}
	for _, tt := range tests {
		ws, conn := wsPair(t, WebSocketOptions{}, tt.protocol, nil)
		if err := conn.WriteMessage(tt.kind, []byte(tt.frame)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		p, err := ws.ReadPacket()
		if !errors.Is(err, tt.err) || p.Type != tt.want.Type || !bytes.Equal(p.Data, tt.want.Data) || p.Binary != tt.want.Binary {
			t.Errorf("v%d %q: %+v %v, want %+v %v", tt.protocol, tt.frame, p, err, tt.want, tt.err)
		}
		if ws.RemoteAddr() == nil {
			t.Error("no remote address")
		}
	}
}

// TestWebSocketReadErrors: a message over the limit is the peer's fault; a
// close or a dropped connection is not.
func TestWebSocketReadErrors(t *testing.T) {
	ws, conn := wsPair(t, WebSocketOptions{MaxMessageSize: 10}, 4, nil)
	if err := conn.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("a", 10))); err != nil {
		t.Fatal(err)
	}
	_, err := ws.ReadPacket()
	if err == nil || !IsProtocolError(err) {
		t.Errorf("oversized message: %v, protocol error %v", err, IsProtocolError(err))
	}

	ws, conn = wsPair(t, WebSocketOptions{}, 4, nil)
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye")
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = ws.ReadPacket()
	if err == nil || IsProtocolError(err) {
		t.Errorf("close frame: %v, protocol error %v", err, IsProtocolError(err))
	}

	ws, conn = wsPair(t, WebSocketOptions{}, 4, nil)
	conn.NetConn().Close()
	_, err = ws.ReadPacket()
	if err == nil || IsProtocolError(err) {
		t.Errorf("dropped connection: %v, protocol error %v", err, IsProtocolError(err))
	}

	ws, _ = wsPair(t, WebSocketOptions{}, 4, nil)
	_ = ws.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err = ws.ReadPacket()
	if err == nil || IsProtocolError(err) {
		t.Errorf("deadline: %v, protocol error %v", err, IsProtocolError(err))
	}
	ws.Close()
	if _, err = ws.ReadPacket(); err == nil || IsProtocolError(err) {
		t.Errorf("closed: %v, protocol error %v", err, IsProtocolError(err))
	}
	_ = ws.Close() // a second Close is harmless
	if IsProtocolError(nil) {
		t.Error("nil is a protocol error")
	}
	if !IsProtocolError(errors.New("websocket: bad frame")) {
		t.Error("an unknown read error is not a protocol error")
	}
}

func TestWebSocketWriteClose(t *testing.T) {
	ws, conn := wsPair(t, WebSocketOptions{}, 4, nil)
	if err := ws.WriteClose(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
		t.Errorf("read: %v, want a close frame without status", err)
	}
}

// TestWebSocketCompression: with a threshold, the extension is offered to
// clients that ask for it, and messages of every size arrive intact.
func TestWebSocketCompression(t *testing.T) {
	var read atomic.Int64 // bytes the client read off the wire
	dialer := *websocket.DefaultDialer
	dialer.EnableCompression = true
	dialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countingConn{c, &read}, err
	}
	ws, conn := wsPair(t, WebSocketOptions{CompressionThreshold: 16}, 4, &dialer)
	small := parser.Packet{Type: parser.PacketMessage, Data: []byte("tiny")}
	large := parser.Packet{Type: parser.PacketMessage, Data: bytes.Repeat([]byte("compress me "), 100)}
	if err := ws.WritePackets([]parser.Packet{small, large, small}, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	before := read.Load()
	for _, want := range []parser.Packet{small, large, small} {
		if _, got := readFrame(t, conn); got != "4"+string(want.Data) {
			t.Errorf("frame of %d bytes, want %d", len(got), len(want.Data)+1)
		}
	}
	if n := read.Load() - before; n > int64(len(large.Data))/2 {
		t.Errorf("%d bytes on the wire for %d bytes of messages: not compressed", n, len(large.Data)+10)
	}
	// A packet marked NoCompress goes as it is.
	plain := large
	plain.NoCompress = true
	if err := ws.WritePackets([]parser.Packet{plain}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	before = read.Load()
	if _, got := readFrame(t, conn); got != "4"+string(plain.Data) {
		t.Errorf("NoCompress frame of %d bytes, want %d", len(got), len(plain.Data)+1)
	}
	if n := read.Load() - before; n < int64(len(plain.Data)) {
		t.Errorf("%d bytes on the wire for a NoCompress message of %d: compressed", n, len(plain.Data)+1)
	}
	// The client's compressed frames are read too.
	conn.EnableWriteCompression(true)
	if err := conn.WriteMessage(websocket.TextMessage, append([]byte("4"), large.Data...)); err != nil {
		t.Fatal(err)
	}
	p, err := ws.ReadPacket()
	if err != nil || !bytes.Equal(p.Data, large.Data) {
		t.Errorf("read: %d bytes, %v", len(p.Data), err)
	}
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func TestUpgradeRefusesPlainRequest(t *testing.T) {
	up := NewUpgrader(WebSocketOptions{CheckOrigin: func(*http.Request) bool { return false }})
	w := httptest.NewRecorder()
	if _, err := up.Upgrade(w, httptest.NewRequest("GET", "/", nil), nil, 4); err == nil {
		t.Fatal("plain request upgraded")
	}
	if w.Code != http.StatusBadRequest {
		t.Errorf("status %d", w.Code)
	}
}
