package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestEcho connects over WebSocket as a client would and checks that the
// page is served and a message comes back.
func TestEcho(t *testing.T) {
	h, eio := newHandler()
	ts := httptest.NewServer(h)
	defer ts.Close()
	defer eio.Shutdown(context.Background())

	res, err := ts.Client().Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("page content type = %q", ct)
	}

	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/engine.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, open, err := conn.ReadMessage()
	if err != nil || open[0] != '0' {
		t.Fatalf("open packet = %q, %v", open, err)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("4hello")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if string(msg) != "4hello" {
		t.Fatalf("echo = %q, want %q", msg, "4hello")
	}
}
