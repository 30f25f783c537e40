package transport

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// TestFrameHeaders: the header of each length class, written out.
func TestFrameHeaders(t *testing.T) {
	tests := []struct {
		op   byte
		n    int
		want string
	}{
		{opText, 0, "8100"},
		{opText, 125, "817d"},
		{opBinary, 126, "827e007e"},
		{opBinary, 65535, "827effff"},
		{opText, 65536, "817f0000000000010000"},
		{opClose, 0, "8800"},
		{opPong, 4, "8a04"},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(appendFrameHeader(nil, tt.op, tt.n)); got != tt.want {
			t.Errorf("op %x, %d bytes: %s, want %s", tt.op, tt.n, got, tt.want)
		}
	}
}

// TestWebSocketRawFramesOfEverySize: frames around each length boundary
// and past the batch buffer arrive intact and in order, from one batch.
func TestWebSocketRawFramesOfEverySize(t *testing.T) {
	ws, conn := wsPair(t, WebSocketOptions{}, 4, nil)
	if ws.raw == nil {
		t.Fatal("frames not written directly without compression")
	}
	var packets []parser.Packet
	for _, n := range []int{0, 1, 124, 125, 126, 127, 1000, 65534, 65535, 65536, maxFrameBuf/4 + 1, 3 * maxFrameBuf} {
		data := bytes.Repeat([]byte{byte('a' + n%26)}, n)
		packets = append(packets,
			parser.Packet{Type: parser.PacketMessage, Data: data},
			parser.Packet{Type: parser.PacketMessage, Data: data, Binary: true})
	}
	done := make(chan error, 1)
	go func() { done <- ws.WritePackets(packets, time.Time{}) }()
	checkFrames(t, conn, packets)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWebSocketRawControlFrames: a client's ping gets a pong with its data
// and a client's close gets a close with its code, while data frames are
// being written from another goroutine (the race detector watches).
func TestWebSocketRawControlFrames(t *testing.T) {
	ws, conn := wsPair(t, WebSocketOptions{}, 4, nil)
	pongs := make(chan string, 1)
	conn.SetPongHandler(func(data string) error { pongs <- data; return nil })

	// The server reads (answering control frames) and writes at once.
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, err := ws.ReadPacket(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if ws.WritePackets([]parser.Packet{{Type: parser.PacketMessage, Data: []byte("data")}}, time.Time{}) != nil {
				return
			}
		}
	}()
	// The client reads in a goroutine of its own: its pong handler runs there.
	clientErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				clientErr <- err
				return
			}
			if string(data) != "4data" {
				clientErr <- fmt.Errorf("data frame %q", data)
				return
			}
		}
	}()
	if err := conn.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-pongs:
		if got != "are you there" {
			t.Fatalf("pong %q", got)
		}
	case err := <-clientErr:
		t.Fatalf("client read: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	wg.Wait()

	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("server read: %v, want the client's close", err)
	}
	if err := <-clientErr; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("client read: %v, want the close echoed with 1001", err)
	}
}
