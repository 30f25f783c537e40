//go:build unix

package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// fillByTryWrite calls TryWrite on a connection whose client does not read
// until the connection refuses a packet. It returns the packets taken and
// the one refused, and fails unless one of them was taken only in part.
func fillByTryWrite(t *testing.T, ws *WebSocket, conn *websocket.Conn) (taken []parser.Packet, refused parser.Packet) {
	t.Helper()
	if ws.rc == nil {
		t.Fatal("TryWrite is off on a plain TCP connection")
	}
	// Small buffers fill sooner.
	if err := ws.raw.(*net.TCPConn).SetWriteBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	if err := conn.NetConn().(*net.TCPConn).SetReadBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	partial := false
	for i := range 10000 {
		// Frames of odd sizes, each of its own bytes, some binary.
		data := bytes.Repeat([]byte{byte('a' + i%26)}, 3000+i*37%5000)
		copy(data, fmt.Sprintf("%d:", i))
		p := parser.Packet{Type: parser.PacketMessage, Data: data, Binary: i%3 == 0}
		ok, pending := ws.TryWrite(p)
		if !ok {
			if pending != 0 {
				t.Fatalf("refused packet with %d bytes pending", pending)
			}
			if !partial {
				t.Fatalf("packet %d refused with none taken in part before it", i)
			}
			return taken, p
		}
		taken = append(taken, p)
		if pending > 0 {
			partial = true
			// Until the rest is written, nothing else is taken.
			if ok, _ := ws.TryWrite(parser.Packet{Type: parser.PacketMessage, Data: []byte("x")}); ok {
				t.Fatal("a packet was taken while another frame was half written")
			}
		}
	}
	t.Fatal("the connection never filled up")
	return nil, parser.Packet{}
}

// TestTryWriteRestWrittenFirst: when the kernel takes part of a frame,
// the next WritePackets writes the rest before its own frames, and every
// frame arrives whole and in order.
func TestTryWriteRestWrittenFirst(t *testing.T) {
	ws, conn := wsPair(t, WebSocketOptions{}, 4, nil)
	taken, refused := fillByTryWrite(t, ws, conn)
	done := make(chan error, 1)
	go func() { done <- ws.WritePackets([]parser.Packet{refused}, time.Time{}) }()
	checkFrames(t, conn, append(taken, refused))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The connection is free again: a small packet goes at once.
	p := parser.Packet{Type: parser.PacketMessage, Data: []byte("after")}
	if ok, pending := ws.TryWrite(p); !ok || pending != 0 {
		t.Fatalf("TryWrite on an idle connection: taken %v, pending %d", ok, pending)
	}
	checkFrames(t, conn, []parser.Packet{p})
}

// TestTryWriteRestBeforeControlFrame: a close frame written while a frame
// is half written comes after the rest of it, not inside it.
func TestTryWriteRestBeforeControlFrame(t *testing.T) {
	ws, conn := wsPair(t, WebSocketOptions{}, 4, nil)
	taken, _ := fillByTryWrite(t, ws, conn)
	done := make(chan error, 1)
	go func() { done <- ws.WriteClose() }()
	checkFrames(t, conn, taken)
	_, _, err := conn.ReadMessage()
	if ce := (*websocket.CloseError)(nil); !errors.As(err, &ce) || ce.Code != websocket.CloseNoStatusReceived {
		t.Fatalf("after the frames: %v, want a close frame without status", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTryWriteOff: TryWrite takes nothing when gorilla writes the frames
// (compression on) or the packet is large; such packets go through
// WritePackets.
func TestTryWriteOff(t *testing.T) {
	ws, _ := wsPair(t, WebSocketOptions{CompressionThreshold: 1024}, 4, nil)
	if ok, _ := ws.TryWrite(parser.Packet{Type: parser.PacketMessage, Data: []byte("x")}); ok {
		t.Error("TryWrite took a packet on a connection that may compress")
	}
	ws, conn := wsPair(t, WebSocketOptions{}, 4, nil)
	big := parser.Packet{Type: parser.PacketMessage, Data: bytes.Repeat([]byte("b"), maxTryWrite+1)}
	if ok, _ := ws.TryWrite(big); ok {
		t.Error("TryWrite took a packet over maxTryWrite")
	}
	small := parser.Packet{Type: parser.PacketMessage, Data: []byte("small")}
	if ok, pending := ws.TryWrite(small); !ok || pending != 0 {
		t.Fatalf("TryWrite of a small packet: taken %v, pending %d", ok, pending)
	}
	checkFrames(t, conn, []parser.Packet{small})
	ws.Close()
	if ok, _ := ws.TryWrite(small); ok {
		t.Error("TryWrite took a packet on a closed connection")
	}
}
