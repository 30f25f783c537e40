package engineio

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// The packets of TestSendPacketsWhole: sendSenders goroutines each send
// sendPackets packets of 1 to 4 messages to one session.
const (
	sendSenders = 8
	sendPackets = 100
)

// sendPacket is packet i of sender g: its messages are "g/i/k/n" for
// k < n, padded with some bytes, every other one binary.
func sendPacket(g, i int) []parser.Message {
	n := 1 + (g+i)%4
	msgs := make([]parser.Message, n)
	for k := range msgs {
		data := fmt.Sprintf("%d/%d/%d/%d/", g, i, k, n) + strings.Repeat("p", (g*131+i*37+k*7)%2000)
		msgs[k] = parser.Message{Data: []byte(data), Binary: (i+k)%2 == 1}
	}
	return msgs
}

// packetChecker checks a stream of messages against the packets of
// sendPacket: each packet's messages in order with no other message
// between them, each sender's packets in the order it sent them.
type packetChecker struct {
	t       testing.TB
	next    [sendSenders]int // the next packet expected of each sender
	g, i, n int              // the packet under way, n its messages
	k       int              // messages of it seen; 0: none under way
	packets int              // packets seen whole
}

// add takes the next message.
func (c *packetChecker) add(data []byte, binary bool) {
	c.t.Helper()
	var g, i, k, n int
	if _, err := fmt.Sscanf(string(data), "%d/%d/%d/%d/", &g, &i, &k, &n); err != nil || g < 0 || g >= sendSenders {
		c.t.Fatalf("message %.30q: not of a sender (%v)", data, err)
	}
	if c.k == 0 { // a packet starts
		if k != 0 || i != c.next[g] {
			c.t.Fatalf("message %.30q: want the first message of packet %d of sender %d", data, c.next[g], g)
		}
		c.g, c.i, c.n = g, i, n
	} else if g != c.g || i != c.i || k != c.k {
		c.t.Fatalf("message %.30q between the messages of packet %d/%d: want its message %d of %d", data, c.g, c.i, c.k, c.n)
	}
	want := sendPacket(g, i)[k]
	if string(data) != string(want.Data) || binary != want.Binary {
		c.t.Fatalf("message %.30q (binary %v), want %.30q (binary %v)", data, binary, want.Data, want.Binary)
	}
	c.k++
	if c.k == c.n {
		c.k = 0
		c.next[g]++
		c.packets++
	}
}

// whole reports whether no packet is under way.
func (c *packetChecker) whole() bool { return c.k == 0 }

// done reports whether every packet has been seen.
func (c *packetChecker) done() bool { return c.packets == sendSenders*sendPackets }

// sendAll sends every packet to s from sendSenders goroutines at once and
// returns the first error.
func sendAll(s *Session) <-chan error {
	errs := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		start := make(chan struct{})
		var once sync.Once
		var first error
		for g := range sendSenders {
			wg.Go(func() {
				<-start
				for i := range sendPackets {
					if err := s.Send(sendPacket(g, i), SendOptions{}); err != nil {
						once.Do(func() { first = fmt.Errorf("sender %d, packet %d: %w", g, i, err) })
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		errs <- first
	}()
	return errs
}

// TestSendPacketsWhole: the messages of one Send arrive together and in
// order while many goroutines send packets of several messages to the
// same session: no message of another Send lands between them; over
// polling, they come in one poll answer.
func TestSendPacketsWhole(t *testing.T) {
	t.Run("websocket", func(t *testing.T) {
		defer leakcheck.Check(t)()
		e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 64 << 20})
		defer e.close()
		c, _, s := e.wsHandshake()
		defer c.close()
		errs := sendAll(s)
		check := &packetChecker{t: t}
		for !check.done() {
			kind, data := c.readSkipPings()
			switch kind {
			case websocket.BinaryMessage:
				check.add([]byte(data), true)
			case websocket.TextMessage:
				if !strings.HasPrefix(data, "4") {
					t.Fatalf("frame %.30q, want a message", data)
				}
				check.add([]byte(data[1:]), false)
			default:
				t.Fatalf("frame type %d", kind)
			}
		}
		if err := recv(t, errs, "the senders"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("polling", func(t *testing.T) {
		defer leakcheck.Check(t)()
		e := newEnv(t, newRecorder(false), &Options{MaxQueueBytes: 64 << 20})
		defer e.close()
		c, _, s := e.handshake()
		errs := sendAll(s)
		check := &packetChecker{t: t}
		for !check.done() {
			for _, p := range c.mustGet() {
				if p.Type != parser.PacketMessage {
					t.Fatalf("packet %s, want a message", packetString([]parser.Packet{p}))
				}
				check.add(p.Data, p.Binary)
			}
			if !check.whole() {
				t.Fatalf("poll answer ends within packet %d/%d, after %d of its %d messages", check.g, check.i, check.k, check.n)
			}
		}
		if err := recv(t, errs, "the senders"); err != nil {
			t.Fatal(err)
		}
	})
}
