package socketio

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// Clients of socket.io 2.x speak Engine.IO v3 and Socket.IO v4: they are
// in "/" from the start, get CONNECT packets without a payload, and their
// socket ids derive from the Engine.IO id.

func eio3Server(t *testing.T) *testServer {
	t.Helper()
	return newTestServer(t, &Options{Options: engineio.Options{AllowEIO3: true}})
}

func TestEIO3Polling(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := eio3Server(t)
	defer ts.Close()
	main := onConnections(ts.io.Of("/"))
	chat := onConnections(ts.io.Of("/chat"))
	got := make(chan string, 4)
	handle := func(s *Socket) {
		s.On("hello", func(msg string, ack Ack) {
			got <- s.Namespace().Name() + " " + msg
			if ack != nil {
				ack("hi", msg)
			}
		})
	}
	ts.io.OnConnection(handle)
	ts.io.Of("/chat").OnConnection(handle)

	p := ts.dialPolling(3)
	// The client is connected to "/" without asking.
	if packets := p.pollN(1); !slices.Equal(packets, []string{"40"}) {
		t.Fatalf("poll %q, want the CONNECT of \"/\" without payload", packets)
	}
	s := recv(t, main)
	if s.ID() != p.sid {
		t.Fatalf("socket id %q, want the Engine.IO id %q", s.ID(), p.sid)
	}
	if !reflect.DeepEqual(s.Handshake().Auth, map[string]any{}) {
		t.Fatalf("auth %#v", s.Handshake().Auth)
	}

	p.post("40/chat?token=abc&n=1,")
	if packets := p.pollN(1); !slices.Equal(packets, []string{"40/chat,"}) {
		t.Fatalf("poll %q, want 40/chat,", packets)
	}
	sChat := recv(t, chat)
	if sChat.ID() != "/chat#"+p.sid {
		t.Fatalf("socket id %q, want /chat#%s", sChat.ID(), p.sid)
	}
	if want := map[string]any{"token": "abc", "n": "1"}; !reflect.DeepEqual(sChat.Handshake().Auth, want) {
		t.Fatalf("auth %#v, want the namespace's query %#v", sChat.Handshake().Auth, want)
	}

	p.post(`42["hello","root"]`, `42/chat,1["hello","chat"]`)
	// Two sockets: their handlers may run in any order.
	if m := sorted([]string{recv(t, got), recv(t, got)}); !slices.Equal(m, []string{"/ root", "/chat chat"}) {
		t.Fatalf("handlers got %q", m)
	}
	if packets := p.pollN(1); !slices.Equal(packets, []string{`43/chat,1["hi","chat"]`}) {
		t.Fatalf("poll %q", packets)
	}

	// The client pings, the server answers.
	p.post("2")
	if packets := p.pollN(1); !slices.Equal(packets, []string{"3"}) {
		t.Fatalf("poll %q, want a pong", packets)
	}

	if err := ts.io.Emit("news", 1); err != nil {
		t.Fatal(err)
	}
	if packets := p.pollN(1); !slices.Equal(packets, []string{`42["news",1]`}) {
		t.Fatalf("poll %q", packets)
	}
	if err := sChat.Emit("bin", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if packets := p.pollN(2); !slices.Equal(packets, []string{`451-/chat,["bin",{"_placeholder":true,"num":0}]`, "b\x01\x02"}) {
		t.Fatalf("poll %q", packets)
	}

	p.post("41/chat,")
	waitFor(t, "the /chat socket to disconnect", func() bool { return !sChat.Connected() })
	if !s.Connected() {
		t.Fatal("the main socket disconnected")
	}
}

func TestEIO3WebSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := eio3Server(t)
	defer ts.Close()
	main := onConnections(ts.io.Of("/"))
	ts.io.OnConnection(func(s *Socket) {
		s.On("file", func(b []byte, ack Ack) { ack(len(b), b) })
	})
	auth := ts.io.Of("/auth")
	auth.Use(func(s *Socket) error {
		m, _ := s.Handshake().Auth.(map[string]any)
		switch m["as"] {
		case "data":
			return NewConnectError("unauthorized", map[string]any{"code": 401})
		case "ok":
			return nil
		default:
			return NewConnectError("unauthorized", nil)
		}
	})

	c := ts.dialEIO(3, "")
	c.expect("0")
	s := recv(t, main)
	if s.ID() != c.sid {
		t.Fatalf("socket id %q, want %q", s.ID(), c.sid)
	}

	c.send(`51-0["file",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{9, 8, 7})
	c.expect(`61-0[3,{"_placeholder":true,"num":0}]`)
	if b := c.expectBinary(); !bytes.Equal(b, []byte{9, 8, 7}) {
		t.Fatalf("attachment %x", b)
	}

	// Refusals carry the message, or the data when there is some.
	c.send("0/auth,")
	c.expect(`4/auth,"unauthorized"`)
	c.send("0/auth?as=data,")
	c.expect(`4/auth,{"code":401}`)
	c.send("0/nope,")
	c.expect(`4/nope,{"message":"Invalid namespace"}`)
	c.send("0/auth?as=ok,")
	c.expect("0/auth,")
	if !strings.HasPrefix(auth.Sockets()[0].ID(), "/auth#") {
		t.Fatalf("socket id %q", auth.Sockets()[0].ID())
	}
}

func TestEIO3Refused(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	resp, err := ts.hs.Client().Get(ts.hs.URL + "/socket.io/?EIO=3&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d, want 400 without AllowEIO3", resp.StatusCode)
	}
	ts.hs.Client().CloseIdleConnections()
}
