package socketio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

type chatMessage struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// typedHandlers registers a typed handler for each event of
// TestTypedHandlers; each reports what it got on results.
func typedHandlers(s *Socket, results chan<- string) {
	report := func(format string, args ...any) { results <- fmt.Sprintf(format, args...) }
	On(s, "chat", func(m chatMessage) { report("chat %s/%s", m.Room, m.Text) })
	On(s, "count", func(n int) { report("count %d", n) })
	On(s, "ptr", func(p *point) { report("ptr %v", p) })
	On(s, "raw", func(b []byte) { report("raw %x", b) })
	On(s, "file", func(b blob) { report("file %s %x", b.Name, b.Data) })
	On(s, "value", func(v parser.Value) {
		var p point
		err := v.Decode(&p)
		report("value %+v %v", p, err)
	})
	On(s, "nothing", func(v parser.Value) { report("nothing %v", v == nil) })
	On(s, "args", func(a Args) { report("args %d", len(a)) })
	OnAck(s, "upper", func(text string, ack Ack) {
		report("upper %s %v", text, ack == nil)
		if ack != nil {
			ack(strings.ToUpper(text))
		}
	})
	OnWithAck(s, "sum", func(p point) (int, error) {
		if p.X < 0 {
			return 0, errors.New("negative sum")
		}
		report("sum %d", p.X+p.Y)
		return p.X + p.Y, nil
	})
	file := TypedEvent[blob]{Name: "echo"}
	file.On(s, func(b blob) {
		report("echo %s", b.Name)
		if err := file.Emit(s, b); err != nil {
			report("echo: %v", err)
		}
	})
	chat := TypedEvent[chatMessage]{Name: "shout"}
	chat.OnAck(s, func(m chatMessage, ack Ack) {
		report("shout %s", m.Text)
		ack()
	})
	s.On("barrier", func(ack Ack) { ack() })
}

func TestTypedHandlers(t *testing.T) {
	defer leakcheck.Check(t)()
	var logs logBuffer
	ts := newTestServer(t, &Options{Options: engineio.Options{Logger: newLogger(&logs)}})
	defer ts.Close()
	results := make(chan string, 16)
	ts.io.OnConnection(func(s *Socket) { typedHandlers(s, results) })
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))

	tests := []struct {
		name   string
		send   []string // Socket.IO packets, then binary attachments as "bin:<hex>"
		want   string   // what the handler reports; "" when it must not run
		reply  []string // the packets the client gets back, "bin:<hex>" for binary
		logged string   // in the server's log
	}{
		{name: "struct", send: []string{`2["chat",{"room":"r","text":"hi"}]`}, want: "chat r/hi"},
		{name: "extra arguments", send: []string{`2["chat",{"room":"r","text":"x"},1,"two"]`}, want: "chat r/x"},
		{name: "missing argument", send: []string{`2["chat"]`}, want: "chat /"},
		{name: "null argument", send: []string{`2["chat",null]`}, want: "chat /"},
		{name: "unknown fields", send: []string{`2["chat",{"room":"r","other":1}]`}, want: "chat r/"},
		{name: "int", send: []string{`2["count",7]`}, want: "count 7"},
		{name: "pointer", send: []string{`2["ptr",{"X":1,"Y":2}]`}, want: "ptr &{1 2}"},
		{name: "nil pointer", send: []string{`2["ptr"]`}, want: "ptr <nil>"},
		{name: "binary argument", send: []string{`51-["raw",{"_placeholder":true,"num":0}]`, "bin:0102"}, want: "raw 0102"},
		{name: "binary field", send: []string{`51-["file",{"name":"a","data":{"_placeholder":true,"num":0}}]`, "bin:cafe"}, want: "file a cafe"},
		{name: "base64 field", send: []string{`2["file",{"name":"b","data":"AQI="}]`}, want: "file b 0102"},
		{name: "undecoded value", send: []string{`2["value",{"X":3,"Y":4}]`}, want: "value {X:3 Y:4} <nil>"},
		{name: "no value", send: []string{`2["nothing"]`}, want: "nothing true"},
		{name: "all arguments", send: []string{`2["args",1,"two",{}]`}, want: "args 3"},

		{name: "wrong type: string for int", send: []string{`2["count","seven"]`}, logged: `event=count`},
		{name: "wrong type: array for struct", send: []string{`2["chat",[1,2]]`}, logged: `event=chat`},
		{name: "wrong type: number for binary field", send: []string{`2["file",{"name":"c","data":5}]`}, logged: `event=file`},
		{name: "wrong type: no ack sent", send: []string{`21["upper",42]`}, logged: `event=upper`},

		{name: "ack", send: []string{`22["upper","abc"]`}, want: "upper abc false", reply: []string{`32["ABC"]`}},
		{name: "ack not asked for", send: []string{`2["upper","abc"]`}, want: "upper abc true"},
		{name: "answer", send: []string{`23["sum",{"X":2,"Y":3}]`}, want: "sum 5", reply: []string{`33[5]`}},
		{name: "answer not asked for", send: []string{`2["sum",{"X":1,"Y":1}]`}, want: "sum 2"},
		{name: "handler error: no answer", send: []string{`24["sum",{"X":-1}]`}, logged: "negative sum"},
		{name: "answer wrong type", send: []string{`25["sum","x"]`}, logged: `event=sum`},
		{name: "typed event ack", send: []string{`26["shout",{"text":"hey"}]`}, want: "shout hey", reply: []string{`36[]`}},
		{
			name:  "typed event echoes binary",
			send:  []string{`51-["echo",{"name":"e","data":{"_placeholder":true,"num":0}}]`, "bin:090a"},
			want:  "echo e",
			reply: []string{`51-["echo",{"data":{"_placeholder":true,"num":0},"name":"e"}]`, "bin:090a"},
		},
	}
	barrierID := 100
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			for _, p := range tt.send {
				if h, ok := strings.CutPrefix(p, "bin:"); ok {
					c.sendBinary(unhex(t, h))
				} else {
					c.send(p)
				}
			}
			if tt.want != "" {
				if got := recv(t, results); got != tt.want {
					t.Fatalf("handler reported %q, want %q", got, tt.want)
				}
			}
			for _, want := range tt.reply {
				if h, ok := strings.CutPrefix(want, "bin:"); ok {
					if got := c.expectBinary(); !bytes.Equal(got, unhex(t, h)) {
						t.Fatalf("attachment %x, want %s", got, h)
					}
					continue
				}
				c.expect(want)
			}
			// The socket's handlers run in order: once the barrier is
			// answered, every handler of the case has returned, and the
			// client got nothing else before the barrier's answer.
			barrierID++
			c.emitWithAck("/", barrierID, "barrier")
			c.expect(fmt.Sprintf("3%d[]", barrierID))
			select {
			case got := <-results:
				t.Fatalf("unexpected handler call: %q", got)
			default:
			}
			if tt.logged != "" && !strings.Contains(logs.String(), tt.logged) {
				t.Fatalf("%q not logged:\n%s", tt.logged, logs.String())
			}
		})
	}
	c.t = t
	if n := strings.Count(logs.String(), "event handler failed"); n != 6 {
		t.Errorf("%d handler failures logged, want 6:\n%s", n, logs.String())
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var b []byte
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// TestTypedHandlersMsgpack decodes typed arguments from the msgpack
// parser's values, where binary travels inline.
func TestTypedHandlersMsgpack(t *testing.T) {
	defer leakcheck.Check(t)()
	var logs logBuffer
	ts := newTestServer(t, &Options{Parser: &parser.MsgpackParser{}, Options: engineio.Options{Logger: newLogger(&logs)}})
	defer ts.Close()
	results := make(chan string, 16)
	ts.io.OnConnection(func(s *Socket) { typedHandlers(s, results) })
	conns := onConnections(ts.io.Of("/"))
	mp := &parser.MsgpackParser{}
	c := ts.dial()
	send := func(p *parser.SocketPacket) {
		t.Helper()
		msgs, err := mp.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := c.writeRaw(websocket.BinaryMessage, m.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	dec := mp.NewDecoder()
	next := func() *parser.SocketPacket {
		t.Helper()
		p, err := dec.Add([]byte(c.expectBinary()), true)
		if err != nil || p == nil {
			t.Fatalf("packet %v, %v", p, err)
		}
		return p
	}
	send(&parser.SocketPacket{Type: parser.SocketPacketConnect})
	if p := next(); p.Type != parser.SocketPacketConnect {
		t.Fatalf("got packet type %v, want CONNECT", p.Type)
	}
	recv(t, conns)

	event := func(id uint64, args ...any) *parser.SocketPacket {
		return &parser.SocketPacket{Type: parser.SocketPacketEvent, ID: id, HasID: id != 0, Data: args}
	}
	send(event(0, "file", blob{Name: "m", Data: []byte{0xbe, 0xef}}))
	if got := recv(t, results); got != "file m beef" {
		t.Fatalf("handler reported %q", got)
	}
	send(event(1, "sum", point{4, 5}))
	p := next()
	var sum int
	if p.Type != parser.SocketPacketAck || p.ID != 1 || len(p.Args) != 1 || p.Args[0].Decode(&sum) != nil || sum != 9 {
		t.Fatalf("got %+v (%d), want the answer 9 to ack 1", p, sum)
	}
	recv(t, results)

	send(event(0, "count", "seven"))
	send(event(2, "barrier"))
	if p := next(); p.Type != parser.SocketPacketAck || p.ID != 2 {
		t.Fatalf("got %+v, want ack 2", p)
	}
	select {
	case got := <-results:
		t.Fatalf("handler ran with a wrong type: %q", got)
	default:
	}
	if !strings.Contains(logs.String(), "event=count") {
		t.Fatalf("decoding failure not logged:\n%s", logs.String())
	}
}

// TestTypedEventEmit sends a typed event through each kind of Sender.
func TestTypedEventEmit(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)
	s.Join("room")
	remote, err := ts.io.FetchSockets(context.Background())
	if err != nil || len(remote) != 1 {
		t.Fatalf("FetchSockets: %v, %v", remote, err)
	}

	chat := TypedEvent[chatMessage]{Name: "chat"}
	tests := []struct {
		name string
		to   Sender
	}{
		{"Socket", s},
		{"Emitter", s.Volatile()},
		{"Server", ts.io},
		{"Namespace", ts.io.Of("/")},
		{"BroadcastOperator", ts.io.To("room")},
		{"RemoteSocket", remote[0]},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			text := fmt.Sprint("m", i)
			if err := chat.Emit(tt.to, chatMessage{Room: "room", Text: text}); err != nil {
				t.Fatal(err)
			}
			c.expect(`2["chat",{"room":"room","text":"` + text + `"}]`)
		})
	}
	c.t = t

	bin := TypedEvent[[]byte]{Name: "bin"}
	if err := bin.Emit(s, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	c.expect(`51-["bin",{"_placeholder":true,"num":0}]`)
	if got := c.expectBinary(); !bytes.Equal(got, []byte{1, 2}) {
		t.Fatalf("attachment %x", got)
	}
	if err := (TypedEvent[int]{Name: "connect"}).Emit(s, 1); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("emitting a reserved event: %v", err)
	}
}

// TestTypedEmitWithAck decodes the client's acknowledgement into R.
func TestTypedEmitWithAck(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)

	type result struct {
		p   point
		err error
	}
	ask := func(to AckSender) chan result {
		ch := make(chan result, 1)
		go func() {
			p, err := EmitWithAck[point](context.Background(), to, "where", "q")
			ch <- result{p, err}
		}()
		return ch
	}
	tests := []struct {
		name    string
		answer  []any
		want    point
		wantErr bool
	}{
		{"answer", []any{point{1, 2}}, point{1, 2}, false},
		{"extra arguments", []any{point{3, 4}, "more"}, point{3, 4}, false},
		{"no argument", nil, point{}, false},
		{"wrong type", []any{"here"}, point{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			ch := ask(s.Timeout(waitTimeout))
			e := c.expectEvent()
			var q string
			e.arg(t, 0, &q)
			if e.name != "where" || q != "q" || e.id < 0 {
				t.Fatalf("got event %+v", e)
			}
			c.ack("/", e.id, tt.answer...)
			r := recv(t, ch)
			if (r.err != nil) != tt.wantErr || r.p != tt.want {
				t.Fatalf("got %+v, %v; want %+v, error %v", r.p, r.err, tt.want, tt.wantErr)
			}
		})
	}
	c.t = t

	// The errors of the emitter come through.
	ch := ask(s)
	c.expectEvent()
	s.Disconnect(false)
	if r := recv(t, ch); !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("got %v, want ErrDisconnected", r.err)
	}
}

// BenchmarkTypedHandler compares a typed handler with the reflective
// handler of the same type, on the arguments of a decoded packet.
func BenchmarkTypedHandler(b *testing.B) {
	packets := []struct {
		name string
		msgs [][]byte
	}{
		{"struct", [][]byte{[]byte(`2["chat",{"room":"lobby","text":"hello, world"}]`)}},
		{"binary", [][]byte{[]byte(`51-["file",{"name":"a.bin","data":{"_placeholder":true,"num":0}}]`), bytes.Repeat([]byte{7}, 256)}},
	}
	for _, pk := range packets {
		dec := (&parser.JSONParser{}).NewDecoder()
		var p *parser.SocketPacket
		for i, m := range pk.msgs {
			var err error
			if p, err = dec.Add(m, i > 0); err != nil {
				b.Fatal(err)
			}
		}
		if p == nil {
			b.Fatal("incomplete packet")
		}
		args := Args(p.Args)
		s := &Socket{nsp: NewServer(nil).Of("/")}
		var chats, files int
		On(s, "chat", func(m chatMessage) { chats += len(m.Text) })
		On(s, "file", func(f blob) { files += len(f.Data) })
		s.On("chat", func(m chatMessage) { chats += len(m.Text) })
		s.On("file", func(f blob) { files += len(f.Data) })
		var hs []*handler
		for _, e := range s.handlers {
			if e.event == p.Event {
				hs = append(hs, e.h)
			}
		}
		for i, kind := range []string{"typed", "reflective"} {
			h := hs[i]
			b.Run(pk.name+"/"+kind, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := h.call(args, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		if chats+files == 0 {
			b.Fatal("handlers got nothing")
		}
	}
}
