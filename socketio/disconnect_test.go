package socketio

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
)

// disconnection is what a socket's OnDisconnecting and OnDisconnect
// handlers saw.
type disconnection struct {
	reason         Reason
	roomsBefore    []string // Rooms in OnDisconnecting
	roomsAfter     []string // Rooms in OnDisconnect
	connectedAfter bool
}

// watchDisconnect records the disconnection of the sockets of nsp.
func watchDisconnect(nsp *Namespace) chan disconnection {
	ch := make(chan disconnection, 8)
	nsp.OnConnection(func(s *Socket) {
		s.Join("room")
		var d disconnection
		s.OnDisconnecting(func(r Reason) {
			d.reason = r
			d.roomsBefore = sorted(s.Rooms())
		})
		s.OnDisconnect(func(r Reason) {
			if r != d.reason {
				panic("OnDisconnect and OnDisconnecting got different reasons")
			}
			d.roomsAfter = s.Rooms()
			d.connectedAfter = s.Connected()
			ch <- d
		})
	})
	return ch
}

func TestDisconnectReasons(t *testing.T) {
	tests := []struct {
		name string
		// act makes the socket disconnect.
		act func(t *testing.T, ts *testServer, c *testClient, s *Socket)
		// stays says the connection stays open (and gets the packets
		// want); otherwise the server closes it after sending want.
		stays bool
		want  []string
		// reason is what the server's socket sees.
		reason Reason
		// opts are the server's options (nil: the defaults).
		opts *Options
	}{
		{
			name:   "client namespace disconnect",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.send("1") },
			stays:  true,
			reason: ReasonClientNamespaceDisconnect,
		},
		{
			name:   "server namespace disconnect",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { s.Disconnect(false) },
			stays:  true,
			want:   []string{"1"},
			reason: ReasonServerNamespaceDisconnect,
		},
		{
			name:   "server disconnect with close",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { s.Disconnect(true) },
			want:   []string{"1", "1/chat,"}, // every namespace
			reason: ReasonServerNamespaceDisconnect,
		},
		{
			name: "transport close",
			act: func(t *testing.T, ts *testServer, c *testClient, s *Socket) {
				c.Close()
			},
			reason: ReasonTransportClose,
		},
		{
			name:   "Engine.IO close packet",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.sendEngine("1") },
			reason: ReasonTransportClose,
		},
		{
			name:   "packet for a namespace not joined",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.emit("/other", "ev") },
			reason: ReasonForcedServerClose,
		},
		{
			name:   "ack for a namespace not joined",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.ack("/other", 1) },
			reason: ReasonForcedServerClose,
		},
		{
			name:   "second CONNECT",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.send("0") },
			reason: ReasonForcedServerClose,
		},
		{
			name:   "CONNECT_ERROR from the client",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.send(`4{"message":"x"}`) },
			reason: ReasonForcedServerClose,
		},
		{
			name:   "engine session closed by the server",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { s.Conn().Close() },
			reason: ReasonForcedClose,
		},
		{
			name: "message past MaxHTTPBufferSize",
			act: func(t *testing.T, ts *testServer, c *testClient, s *Socket) {
				c.emit("/", "ev", strings.Repeat("x", 2000))
			},
			opts:   &Options{Options: engineio.Options{MaxHTTPBufferSize: 1000}},
			reason: ReasonTransportError,
		},
		{
			name:   "malformed packet",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.send("2[") },
			reason: ReasonParseError,
		},
		{
			name:   "unknown packet type",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.send(`9["ev"]`) },
			reason: ReasonParseError,
		},
		{
			name:   "event without a name",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.send(`2{"a":1}`) },
			reason: ReasonParseError,
		},
		{
			name:   "disconnect with a payload",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.send(`1{"a":1}`) },
			reason: ReasonParseError,
		},
		{
			name: "placeholder out of range",
			act: func(t *testing.T, ts *testServer, c *testClient, s *Socket) {
				c.send(`51-["ev",{"_placeholder":true,"num":1}]`)
				c.sendBinary([]byte{1})
			},
			reason: ReasonParseError,
		},
		{
			name: "binary message without a packet",
			act: func(t *testing.T, ts *testServer, c *testClient, s *Socket) {
				c.sendBinary([]byte{1})
			},
			reason: ReasonParseError,
		},
		{
			name: "text while attachments are expected",
			act: func(t *testing.T, ts *testServer, c *testClient, s *Socket) {
				c.send(`51-["ev",{"_placeholder":true,"num":0}]`)
				c.send(`2["ev"]`)
			},
			reason: ReasonParseError,
		},
		{
			name:   "reserved event from the client",
			act:    func(t *testing.T, ts *testServer, c *testClient, s *Socket) { c.emit("/", "disconnect") },
			reason: ReasonParseError,
		},
		{
			name: "server shutting down",
			act: func(t *testing.T, ts *testServer, c *testClient, s *Socket) {
				if err := ts.io.Shutdown(context.Background()); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			},
			reason: ReasonServerShutdown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer leakcheck.Check(t)()
			ts := newTestServer(t, tt.opts)
			defer ts.Close()
			disconnections := watchDisconnect(ts.io.Of("/"))
			chat := onConnections(ts.io.Of("/chat"))
			c, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))
			c.connect("/chat", nil)
			sChat := recv(t, chat)

			tt.act(t, ts, c, s)
			d := recv(t, disconnections)
			if d.reason != tt.reason {
				t.Fatalf("reason %q, want %q", d.reason, tt.reason)
			}
			if want := sorted([]string{s.ID(), "room"}); !slices.Equal(d.roomsBefore, want) {
				t.Errorf("rooms in OnDisconnecting %q, want %q", d.roomsBefore, want)
			}
			if len(d.roomsAfter) != 0 || d.connectedAfter {
				t.Errorf("in OnDisconnect: rooms %q, connected %v", d.roomsAfter, d.connectedAfter)
			}
			if ts.io.Of("/").LocalSocket(s.ID()) != nil || ts.io.Of("/").SocketCount() != 0 {
				t.Error("the namespace still holds the socket")
			}
			if tt.stays {
				for _, w := range tt.want {
					c.expect(w)
				}
				if !sChat.Connected() {
					t.Fatal("the socket of the other namespace disconnected")
				}
				// The client can come back on the same connection.
				c.connect("/", nil)
				return
			}
			if c.conn == nil {
				return
			}
			select {
			case <-c.done:
				// Closed by the client itself.
			default:
				got := sorted(c.expectClosed())
				if !slices.Equal(got, tt.want) {
					t.Fatalf("got %q before the close, want %q", got, tt.want)
				}
			}
			waitFor(t, "the other namespace's socket to disconnect", func() bool { return !sChat.Connected() })
		})
	}
}

func TestDisconnectHandlersAfterQueuedEvents(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	var log callLog
	done := make(chan struct{})
	release := make(chan struct{})
	started := make(chan struct{})
	ts.io.OnConnection(func(s *Socket) {
		s.On("slow", func() { close(started); <-release; log.add("slow") })
		s.On("ev", func(n int) { log.add("ev %d connected=%v", n, s.Connected()) })
		s.OnDisconnecting(func(r Reason) { log.add("disconnecting %s", r) })
		s.OnDisconnect(func(r Reason) { log.add("disconnect %s", r); close(done) })
	})
	c, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	c.emit("/", "slow")
	recv(t, started)
	c.emit("/", "ev", 1)
	c.send("1")
	waitFor(t, "the disconnection", func() bool { return !s.Connected() })
	close(release)
	recv(t, done)
	// Events queued before the disconnection do not reach handlers once
	// the socket is gone; the disconnect handlers come last.
	want := []string{"slow", "disconnecting client namespace disconnect", "disconnect client namespace disconnect"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

func TestShutdown(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	reasons := make(chan Reason, 4)
	ts.io.OnConnection(func(s *Socket) { s.OnDisconnect(func(r Reason) { reasons <- r }) })
	conns := onConnections(ts.io.Of("/"))
	c1, _ := ts.connectSocket("/", conns)
	c2, _ := ts.connectSocket("/", conns)
	p := ts.dialPolling(4)
	p.post("40")
	p.poll()
	recv(t, conns)

	if err := ts.io.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if r := recv(t, reasons); r != ReasonServerShutdown {
			t.Fatalf("reason %q", r)
		}
	}
	c1.expectClosed()
	c2.expectClosed()
	if err := ts.io.Shutdown(context.Background()); err != ErrServerClosed {
		t.Fatalf("second Shutdown: %v, want ErrServerClosed", err)
	}
	if err := ts.io.Close(); err != ErrServerClosed {
		t.Fatalf("Close after Shutdown: %v, want ErrServerClosed", err)
	}
}
