package transport

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// TestWriteCloseStuckPeer: a close frame written while a write is stuck
// on a peer that reads nothing waits no longer than closeWait (plus
// slack): with raw frames, the stuck write fails by then, and nothing is
// written after it (it may have stopped in the middle of a frame).
func TestWriteCloseStuckPeer(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts WebSocketOptions
	}{
		{"raw frames", WebSocketOptions{}},
		{"gorilla frames", WebSocketOptions{CompressionThreshold: 1 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, _ := wsPair(t, tc.opts, 4, nil) // the client never reads
			big := parser.Packet{Type: parser.PacketMessage, Data: bytes.Repeat([]byte("x"), 64<<20)}
			wrote := make(chan error, 1)
			go func() { wrote <- ws.WritePackets([]parser.Packet{big}, time.Time{}) }()
			if ws.raw != nil && ws.conn == nil {
				// Raw frames: wait until the writer holds the lock.
				deadline := time.Now().Add(5 * time.Second)
				for ws.wmu.TryLock() {
					ws.wmu.Unlock()
					if time.Now().After(deadline) {
						t.Fatal("the write never started")
					}
					time.Sleep(time.Millisecond)
				}
			}
			start := time.Now()
			closed := make(chan error, 1)
			go func() { closed <- ws.WriteClose() }()
			select {
			case err := <-closed:
				// gorilla may put the frame between two fragments of the
				// message, which RFC 6455 allows; raw frames have none.
				if err == nil && ws.conn == nil {
					t.Error("WriteClose succeeded behind a stuck write")
				}
			case <-time.After(closeWait + 3*time.Second):
				t.Fatal("WriteClose blocked behind a stuck write")
			}
			t.Logf("WriteClose returned after %v", time.Since(start).Round(time.Millisecond))
			ws.Close()
			if err := <-wrote; err == nil {
				t.Error("the stuck write succeeded")
			}
		})
	}
}

// TestWriteCloseOnce: no close frame goes after another (the answer to
// the client's close frame, or an earlier WriteClose), and nothing else
// goes after one.
func TestWriteCloseOnce(t *testing.T) {
	ws, conn := wsPair(t, WebSocketOptions{}, 4, nil)
	msg := websocket.FormatCloseMessage(4001, "")
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.ReadPacket(); err == nil {
		t.Fatal("read after the client's close frame succeeded")
	}
	if err := ws.WriteClose(); !errors.Is(err, errNoWrite) {
		t.Errorf("WriteClose after the answer to the client's close frame: %v, want errNoWrite", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, 4001) {
		t.Errorf("client read: %v, want its own code back", err)
	}

	ws, _ = wsPair(t, WebSocketOptions{}, 4, nil)
	if err := ws.WriteClose(); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteClose(); !errors.Is(err, errNoWrite) {
		t.Errorf("second WriteClose: %v, want errNoWrite", err)
	}
	p := parser.Packet{Type: parser.PacketMessage, Data: []byte("late")}
	if err := ws.WritePackets([]parser.Packet{p}, time.Time{}); !errors.Is(err, errNoWrite) {
		t.Errorf("WritePackets after the close frame: %v, want errNoWrite", err)
	}
	if ok, _ := ws.TryWrite(p); ok {
		t.Error("TryWrite took a packet after the close frame")
	}
}

// TestWriteCloseBoundsLaterWrites: a write that takes the lock after
// WriteClose has set its deadline (the batch writer, with a deadline left
// from an earlier write to clear) keeps to the close frame's deadline, so
// that a peer that reads nothing cannot hold WriteClose for longer.
func TestWriteCloseBoundsLaterWrites(t *testing.T) {
	ws, _ := wsPair(t, WebSocketOptions{}, 4, nil) // client never reads
	small := parser.Packet{Type: parser.PacketPong, Data: []byte("probe")}
	if err := ws.WritePackets([]parser.Packet{small}, time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	ws.wmu.Lock() // the flush goroutine has just taken the lock in writeRaw
	closed := make(chan error, 1)
	go func() { closed <- ws.WriteClose() }()
	time.Sleep(50 * time.Millisecond) // WriteClose has set its deadline and waits for wmu
	wrote := make(chan error, 1)
	go func() {
		defer ws.wmu.Unlock()
		if err := ws.startWriteLocked(time.Time{}); err != nil {
			wrote <- err
			return
		}
		big := parser.Packet{Type: parser.PacketMessage, Data: bytes.Repeat([]byte("x"), 64<<20)}
		_, err := ws.writeFramesLocked([]parser.Packet{big}, nil)
		wrote <- err
	}()
	select {
	case <-closed:
	case <-time.After(closeWait + 5*time.Second):
		t.Errorf("WriteClose still blocked after %v (closeWait is %v)", closeWait+5*time.Second, closeWait)
	}
	ws.Close()
	<-wrote
}
