package socketio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/parser"
)

type point struct {
	X, Y int
}

type blob struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// logBuffer collects a server's logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(l *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestHandlerSignatures(t *testing.T) {
	defer leakcheck.Check(t)()
	var logs logBuffer
	ts := newTestServer(t, &Options{Options: engineio.Options{Logger: newLogger(&logs)}})
	defer ts.Close()
	results := make(chan string, 16)
	report := func(format string, args ...any) { results <- fmt.Sprintf(format, args...) }
	ts.io.OnConnection(func(s *Socket) {
		s.On("basic", func(msg string, n int, f float64, ok bool) { report("%s %d %v %v", msg, n, f, ok) })
		s.On("struct", func(p point, pp *point) { report("%+v %+v", p, *pp) })
		s.On("bytes", func(b []byte) { report("%x", b) })
		s.On("nested", func(b blob, bs []blob) { report("%s %x %d %x", b.Name, b.Data, len(bs), bs[1].Data) })
		s.On("anybin", func(v any) { report("%T %x", v, v) })
		s.On("ackfirst", func(ack Ack, msg string) { report("ackfirst %s", msg); ack(strings.ToUpper(msg)) })
		s.On("ackmid", func(a int, ack Ack, b int) { ack(a + b) })
		s.On("acklast", func(a, b string, ack Ack) { ack(a, b) })
		s.On("noack", func(msg string, ack Ack) { report("noack %s %v", msg, ack == nil) })
		s.On("variadic", func(first string, rest ...int) { report("%s %v %d", first, rest, len(rest)) })
		s.On("varack", func(ack Ack, rest ...string) { ack(len(rest)) })
		s.On("args", func(first string, rest Args) {
			var n int
			var p point
			err := rest.Decode(&n, nil, &p)
			report("%s %d %d %+v %v", first, len(rest), n, p, err)
		})
		s.On("rawargs", func(a Args, ack Ack) { ack(len(a)) })
		s.On("value", func(v parser.Value, n int) {
			var p point
			err := v.Decode(&p)
			report("%+v %d %v", p, n, err)
		})
		s.On("missing", func(a string, b int, p *point, v parser.Value, rest ...int) {
			report("%q %d %v %v %d", a, b, p == nil, v == nil, len(rest))
		})
		s.On("badtype", func(n int) { report("badtype called with %d", n) })
		s.On("none", func() { report("none") })
		s.On("fails", func() error { return errors.New("handler failure") })
		s.On("two", func() { report("two: first") })
		s.On("two", func() { report("two: second") })
		s.On("barrier", func(ack Ack) { ack() })
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))

	expectResult := func(want string) {
		t.Helper()
		if got := recv(t, results); got != want {
			t.Fatalf("handler reported %q, want %q", got, want)
		}
	}
	barrier := func(id int) {
		t.Helper()
		c.emitWithAck("/", id, "barrier")
		c.expect(fmt.Sprintf("3%d[]", id))
		select {
		case got := <-results:
			t.Fatalf("unexpected handler call: %q", got)
		default:
		}
	}

	c.emit("/", "basic", "hi", 42, 1.5, true)
	expectResult("hi 42 1.5 true")

	c.emit("/", "struct", point{1, 2}, map[string]int{"X": 3})
	expectResult("{X:1 Y:2} {X:3 Y:0}")

	c.send(`51-["bytes",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{0xde, 0xad})
	expectResult("dead")

	c.send(`52-["nested",{"name":"a","data":{"_placeholder":true,"num":1}},[{},{"data":{"_placeholder":true,"num":0}}]]`)
	c.sendBinary([]byte{1})
	c.sendBinary([]byte{2, 3})
	expectResult("a 0203 2 01")

	c.send(`51-["anybin",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{7})
	expectResult("[]uint8 07")

	c.emitWithAck("/", 7, "ackfirst", "abc")
	expectResult("ackfirst abc")
	c.expect(`37["ABC"]`)

	c.emitWithAck("/", 8, "ackmid", 1, 2)
	c.expect(`38[3]`)

	c.emitWithAck("/", 9, "acklast", "x", "y")
	c.expect(`39["x","y"]`)

	c.emit("/", "noack", "m")
	expectResult("noack m true")
	c.emitWithAck("/", 10, "noack", "m")
	expectResult("noack m false") // an Ack never called sends nothing

	c.emit("/", "variadic", "v", 1, 2, 3)
	expectResult("v [1 2 3] 3")
	c.emit("/", "variadic", "v")
	expectResult("v [] 0")
	c.emitWithAck("/", 11, "varack", "a", "b")
	c.expect(`311[2]`)

	c.emit("/", "args", "first", 5, "skipped", point{7, 8})
	expectResult("first 3 5 {X:7 Y:8} <nil>")
	c.emitWithAck("/", 12, "rawargs", 1, 2, 3, 4)
	c.expect(`312[4]`)

	c.emit("/", "value", point{4, 5}, 6)
	expectResult("{X:4 Y:5} 6 <nil>")

	c.emit("/", "missing", "only")
	expectResult(`"only" 0 true true 0`)
	c.emit("/", "missing", nil, nil, nil, nil)
	expectResult(`"" 0 true false 0`)

	// A decoding failure skips the handler and is logged.
	c.emit("/", "badtype", "not a number")
	c.emit("/", "badtype", map[string]int{})
	barrier(13)
	if !strings.Contains(logs.String(), "event handler failed") || !strings.Contains(logs.String(), "badtype") {
		t.Errorf("decoding failure not logged:\n%s", logs.String())
	}

	c.emit("/", "none", "extra", "args")
	expectResult("none")

	c.emit("/", "fails")
	barrier(14)
	if !strings.Contains(logs.String(), "handler failure") {
		t.Errorf("handler error not logged:\n%s", logs.String())
	}

	c.emit("/", "two")
	expectResult("two: first")
	expectResult("two: second")

	c.emit("/", "unknown", 1)
	barrier(15)
}

func TestHandlerDirectSignatures(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	results := make(chan string, 8)
	ts.io.OnConnection(func(s *Socket) {
		s.On("args", func(a Args) { results <- fmt.Sprint(len(a)) })
		s.On("argsack", func(a Args, ack Ack) {
			var x string
			_ = a.Decode(&x)
			ack(x, ack == nil)
		})
		s.On("argsackerr", func(a Args, ack Ack) error {
			if ack == nil {
				results <- "nil ack"
				return nil
			}
			return ack(len(a))
		})
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))

	c.emit("/", "args", 1, 2)
	if got := recv(t, results); got != "2" {
		t.Fatalf("got %q", got)
	}
	c.emitWithAck("/", 1, "argsack", "x")
	c.expect(`31["x",false]`)
	c.emit("/", "argsackerr")
	if got := recv(t, results); got != "nil ack" {
		t.Fatalf("got %q", got)
	}
	c.emitWithAck("/", 2, "argsackerr", 1, 2, 3)
	c.expect(`32[3]`)
}

func TestHandlerRegistrationPanics(t *testing.T) {
	nsp := NewServer(nil).Of("/")
	s := &Socket{nsp: nsp}
	for _, fn := range []any{nil, 42, "handler", func() int { return 1 }, func() (error, error) { return nil, nil }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("On(%T) did not panic", fn)
				}
			}()
			s.On("ev", fn)
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Namespace.On with a bad handler did not panic")
			}
		}()
		nsp.On("ev", 1)
	}()
}

func TestAckFromHandler(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	second := make(chan error, 1)
	ts.io.OnConnection(func(s *Socket) {
		s.On("empty", func(ack Ack) { ack() })
		s.On("twice", func(ack Ack) {
			ack("first")
			second <- ack("second")
		})
		s.On("binary", func(ack Ack) { ack("file", []byte{1, 2, 3}) })
		s.On("nsp", func(ack Ack) { ack(s.Namespace().Name()) })
		s.On("later", func(ack Ack) {
			go func() { ack("from another goroutine") }()
		})
	})
	ts.io.Of("/chat").OnConnection(func(s *Socket) {
		s.On("nsp", func(ack Ack) { ack(s.Namespace().Name()) })
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	c.connect("/chat", nil)

	c.emitWithAck("/", 0, "empty")
	c.expect(`30[]`)
	c.emitWithAck("/", 1, "twice")
	c.expect(`31["first"]`)
	if err := recv(t, second); !errors.Is(err, ErrAckSent) {
		t.Fatalf("second ack: %v, want ErrAckSent", err)
	}
	c.emitWithAck("/", 2, "binary")
	c.expect(`61-2["file",{"_placeholder":true,"num":0}]`)
	if b := c.expectBinary(); !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("attachment %x", b)
	}
	c.emitWithAck("/chat", 3, "nsp")
	c.expect(`3/chat,3["/chat"]`)
	c.emitWithAck("/", 9007199254740991, "later")
	c.expect(`39007199254740991["from another goroutine"]`)
}

func TestAckAfterDisconnect(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	acks := make(chan Ack, 1)
	ts.io.OnConnection(func(s *Socket) {
		s.On("keep", func(ack Ack) { acks <- ack })
	})
	conns := onConnections(ts.io.Of("/"))
	c, s := ts.connectSocket("/", conns)
	c.emitWithAck("/", 4, "keep")
	ack := recv(t, acks)
	disconnected := make(chan struct{})
	s.OnDisconnect(func(Reason) { close(disconnected) })
	c.send("1")
	recv(t, disconnected)
	if err := ack("late"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("ack after disconnect: %v, want ErrDisconnected", err)
	}
}

func TestEmit(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	c, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))

	tests := []struct {
		args []any
		want string
	}{
		{nil, `2["ev"]`},
		{[]any{1, "two", true, nil}, `2["ev",1,"two",true,null]`},
		{[]any{point{1, 2}}, `2["ev",{"X":1,"Y":2}]`},
		{[]any{map[string]any{"html": "<b>&</b>"}}, `2["ev",{"html":"<b>&</b>"}]`},
		{[]any{[]int{1, 2}}, `2["ev",[1,2]]`},
	}
	for _, tt := range tests {
		if err := s.Emit("ev", tt.args...); err != nil {
			t.Fatalf("Emit(%v): %v", tt.args, err)
		}
		c.expect(tt.want)
	}

	if err := s.Emit("bin", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	c.expect(`51-["bin",{"_placeholder":true,"num":0}]`)
	if b := c.expectBinary(); !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("attachment %x", b)
	}
	if err := s.Emit("blobs", blob{"a", []byte{9}}, "x", []byte{8}); err != nil {
		t.Fatal(err)
	}
	e := c.expectEvent()
	if e.attch != 2 || e.name != "blobs" || len(e.args) != 3 {
		t.Fatalf("event %+v", e)
	}
	var first map[string]any
	var second string
	var third map[string]any
	e.arg(t, 0, &first)
	e.arg(t, 1, &second)
	e.arg(t, 2, &third)
	ph := func(n float64) map[string]any { return map[string]any{"_placeholder": true, "num": n} }
	if !reflect.DeepEqual(first, map[string]any{"name": "a", "data": ph(0)}) || second != "x" || !reflect.DeepEqual(third, ph(1)) {
		t.Fatalf("event arguments %s", e.args)
	}
	if b := c.expectBinary(); !bytes.Equal(b, []byte{9}) {
		t.Fatalf("attachment 0 %x", b)
	}
	if b := c.expectBinary(); !bytes.Equal(b, []byte{8}) {
		t.Fatalf("attachment 1 %x", b)
	}

	if err := s.Volatile().Compress(false).Emit("flags", 1); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["flags",1]`) // a WebSocket client keeping up gets volatile events

	if err := s.Emit("bad", make(chan int)); err == nil {
		t.Fatal("Emit of a value JSON cannot encode succeeded")
	}
}

func TestEmitReservedEvent(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	_, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	ctx := context.Background()
	for _, ev := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		checks := map[string]error{
			"Socket.Emit":              s.Emit(ev),
			"Socket.Timeout.Emit":      s.Timeout(time.Second).Emit(ev),
			"Server.Emit":              ts.io.Emit(ev),
			"Namespace.To.Emit":        ts.io.Of("/").To("r").Emit(ev),
			"Socket.Broadcast.Emit":    s.Broadcast().Emit(ev),
			"Namespace.ServerSideEmit": ts.io.Of("/").ServerSideEmit(ctx, ev),
		}
		_, checks["Socket.EmitWithAck"] = s.EmitWithAck(ctx, ev)
		_, checks["Server.EmitWithAck"] = ts.io.EmitWithAck(ctx, ev)
		_, checks["ServerSideEmitWithAck"] = ts.io.Of("/").ServerSideEmitWithAck(ctx, ev)
		for name, err := range checks {
			if !errors.Is(err, ErrReservedEvent) {
				t.Errorf("%s(%q) = %v, want ErrReservedEvent", name, ev, err)
			}
		}
	}
	if n := len(s.acks); n != 0 {
		t.Errorf("%d acknowledgements left registered", n)
	}
}

func TestEmitWithAck(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	c, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	ctx := context.Background()

	type result struct {
		args Args
		err  error
	}
	emit := func(fn func() (Args, error)) chan result {
		ch := make(chan result, 1)
		go func() {
			a, err := fn()
			ch <- result{a, err}
		}()
		return ch
	}

	// Ack ids count from 0 in the namespace.
	res := emit(func() (Args, error) { return s.EmitWithAck(ctx, "question", 42) })
	c.expect(`20["question",42]`)
	c.ack("/", 0, "answer", 7)
	r := recv(t, res)
	var answer string
	var n int
	if r.err != nil || len(r.args) != 2 || r.args.Decode(&answer, &n) != nil || answer != "answer" || n != 7 {
		t.Fatalf("EmitWithAck = %v, %v (%q %d)", r.args, r.err, answer, n)
	}

	// A binary answer.
	res = emit(func() (Args, error) { return s.Timeout(waitTimeout).EmitWithAck(ctx, "file") })
	c.expect(`21["file"]`)
	c.send(`61-1[{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{4, 5})
	r = recv(t, res)
	var b []byte
	if r.err != nil || r.args.Decode(&b) != nil || !bytes.Equal(b, []byte{4, 5}) {
		t.Fatalf("binary answer %x, %v", b, r.err)
	}

	// No answer in time.
	start := time.Now()
	_, err := s.Timeout(30*time.Millisecond).EmitWithAck(ctx, "ignored")
	if !errors.Is(err, ErrAckTimeout) || err.Error() != "socketio: operation has timed out" {
		t.Fatalf("err = %v, want ErrAckTimeout", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	c.expect(`22["ignored"]`)
	c.ack("/", 2, "too late") // dropped

	// The context's deadline and cancellation.
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = s.EmitWithAck(dctx, "deadline")
	cancel()
	if !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("deadline: %v, want ErrAckTimeout", err)
	}
	c.expect(`23["deadline"]`)
	cctx, cancel := context.WithCancel(ctx)
	res = emit(func() (Args, error) { return s.EmitWithAck(cctx, "cancelled") })
	c.expect(`24["cancelled"]`)
	cancel()
	if r := recv(t, res); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancel: %v, want context.Canceled", r.err)
	}
	s.mu.Lock()
	left := len(s.acks)
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d acknowledgements left registered after timeouts", left)
	}

	// A disconnection fails the wait at once.
	res = emit(func() (Args, error) { return s.EmitWithAck(ctx, "pending") })
	c.expect(`25["pending"]`)
	c.send("1")
	if r := recv(t, res); !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("disconnect: %v, want ErrDisconnected", r.err)
	}
	if _, err := s.EmitWithAck(ctx, "after"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("EmitWithAck after disconnect: %v", err)
	}
	if err := s.Emit("after"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Emit after disconnect: %v", err)
	}
}

func TestEmitWithAckEncodeError(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	c, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	if _, err := s.Timeout(waitTimeout).EmitWithAck(context.Background(), "bad", make(chan int)); err == nil {
		t.Fatal("EmitWithAck of a value JSON cannot encode succeeded")
	}
	s.mu.Lock()
	left := len(s.acks)
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d acknowledgements left registered after an encoding error", left)
	}
	// The socket still works.
	if err := s.Emit("ok"); err != nil {
		t.Fatal(err)
	}
	c.expect(`2["ok"]`)
}

func TestDefaultAckTimeout(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, &Options{AckTimeout: 30 * time.Millisecond})
	defer ts.Close()
	c, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	if _, err := s.EmitWithAck(context.Background(), "q"); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("err = %v, want ErrAckTimeout", err)
	}
	c.expect(`20["q"]`)
	// Timeout overrides the default.
	done := make(chan error, 1)
	go func() {
		_, err := s.Timeout(waitTimeout).EmitWithAck(context.Background(), "q2")
		done <- err
	}()
	c.expect(`21["q2"]`)
	c.ack("/", 1)
	if err := recv(t, done); err != nil {
		t.Fatalf("with Timeout: %v", err)
	}
}

func TestHandlerWaitsForAckOfSameSocket(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	ts.io.OnConnection(func(s *Socket) {
		s.On("ask", func(q string, ack Ack) {
			a, err := s.Timeout(waitTimeout).EmitWithAck(context.Background(), "question", q)
			var answer string
			if err == nil {
				err = a.Decode(&answer)
			}
			ack(answer, fmt.Sprint(err))
		})
	})
	welcomed := make(chan struct{})
	ts.io.Of("/").OnConnection(func(s *Socket) {
		// Work started by a connection handler may wait for the client
		// too: in a goroutine of its own, since the client is told it is
		// connected once the connection handlers have returned.
		go func() {
			defer close(welcomed)
			a, err := s.Timeout(waitTimeout).EmitWithAck(context.Background(), "welcome")
			if err == nil {
				var name string
				_ = a.Decode(&name)
				s.SetData(name)
			}
		}()
	})
	conns := onConnections(ts.io.Of("/"))

	c := ts.dial()
	c.send("0")
	c.expectConnect("/") // before anything written to the socket
	c.expect(`20["welcome"]`)
	c.ack("/", 0, "bob")
	s := recv(t, conns)
	recv(t, welcomed)
	if s.Data() != "bob" {
		t.Fatalf("Data = %v", s.Data())
	}

	c.emitWithAck("/", 5, "ask", "why?")
	e := c.expectEvent()
	if e.name != "question" || e.id != 1 {
		t.Fatalf("event %+v", e)
	}
	c.ack("/", e.id, "because")
	c.expect(`35["because","<nil>"]`)
}

func TestHandlerOrdering(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	var active, maxActive atomic.Int32
	var mu sync.Mutex
	var seen []string
	record := func(s string) {
		if n := active.Add(1); n > maxActive.Load() {
			maxActive.Store(n)
		}
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
		active.Add(-1)
	}
	ts.io.OnConnection(func(s *Socket) {
		s.On("a", func(n int) { record(fmt.Sprint("a", n)) })
		s.On("b", func(n int, ack Ack) {
			time.Sleep(time.Millisecond) // give a concurrent run a chance to show
			record(fmt.Sprint("b", n))
			if ack != nil {
				ack()
			}
		})
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	var want []string
	for i := 0; i < 50; i++ {
		ev := []string{"a", "b"}[i%2]
		c.emit("/", ev, i)
		want = append(want, fmt.Sprint(ev, i))
	}
	c.emitWithAck("/", 1, "b", 50)
	want = append(want, "b50")
	c.expect(`31[]`)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("handlers ran in order\n%v\nwant\n%v", seen, want)
	}
	if m := maxActive.Load(); m != 1 {
		t.Fatalf("%d handlers of one socket ran at once", m)
	}
}

func TestHandlersOfSocketsRunConcurrently(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	release := make(chan struct{})
	blocked := make(chan struct{}, 1)
	ts.io.OnConnection(func(s *Socket) {
		s.On("block", func() { blocked <- struct{}{}; <-release })
		s.On("ping", func(ack Ack) { ack("pong") })
	})
	conns := onConnections(ts.io.Of("/"))
	c1, _ := ts.connectSocket("/", conns)
	c2, _ := ts.connectSocket("/", conns)
	c1.emit("/", "block")
	recv(t, blocked)
	// Another socket's handlers are not held up.
	c2.emitWithAck("/", 1, "ping")
	c2.expect(`31["pong"]`)
	close(release)
	c1.emitWithAck("/", 2, "ping")
	c1.expect(`32["pong"]`)
}

func TestHandlerPanicRecovered(t *testing.T) {
	defer leakcheck.Check(t)()
	var logs logBuffer
	ts := newTestServer(t, &Options{Options: engineio.Options{Logger: newLogger(&logs)}})
	defer ts.Close()
	ts.io.OnConnection(func(s *Socket) {
		s.On("boom", func() { panic("kaboom") })
		s.On("boom", func(ack Ack) { ack("second handler still runs") })
		s.On("ping", func(ack Ack) { ack("pong") })
	})
	ts.io.Of("/panicky").OnConnection(func(s *Socket) { panic("in connection handler") })
	c, s := ts.connectSocket("/", onConnections(ts.io.Of("/")))

	c.emitWithAck("/", 1, "boom")
	c.expect(`31["second handler still runs"]`)
	c.emitWithAck("/", 2, "ping")
	c.expect(`32["pong"]`)
	if !s.Connected() {
		t.Fatal("the socket disconnected after a panic")
	}
	if !strings.Contains(logs.String(), "kaboom") {
		t.Errorf("panic not logged:\n%s", logs.String())
	}

	// A panicking connection handler leaves the socket connected.
	c.connect("/panicky", nil)
	c.emitWithAck("/", 3, "ping")
	c.expect(`33["pong"]`)
}

func TestOff(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	called := make(chan string, 4)
	ts.io.OnConnection(func(s *Socket) {
		s.On("ev", func() { called <- "ev" })
		s.On("off", func(ack Ack) { s.Off("ev"); ack() })
		s.On("check", func(ack Ack) { ack() })
	})
	c, _ := ts.connectSocket("/", onConnections(ts.io.Of("/")))
	c.emit("/", "ev")
	if got := recv(t, called); got != "ev" {
		t.Fatal(got)
	}
	c.emitWithAck("/", 1, "off")
	c.expect(`31[]`)
	c.emit("/", "ev")
	c.emitWithAck("/", 2, "check")
	c.expect(`32[]`)
	select {
	case <-called:
		t.Fatal("a removed handler ran")
	default:
	}
}

func TestEventsWaitForConnectionHandlers(t *testing.T) {
	// The CONNECT reply goes out once the connection handlers have
	// returned; events a client sends while they run (one that does not
	// wait for the reply) wait for them, so a handler set at the end of a
	// slow connection handler misses nothing.
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	got := make(chan string, 2)
	ts.io.OnConnection(func(s *Socket) {
		close(entered)
		<-release
		s.On("early", func(msg string, ack Ack) {
			got <- msg
			ack()
		})
	})
	c := ts.dial()
	c.sendConnect("/", nil)
	recv(t, entered) // the socket is in its namespace: its events are its own
	c.emit("/", "early", "first")
	c.emitWithAck("/", 1, "early", "second")
	select {
	case f := <-c.frames:
		t.Fatalf("got %q while the connection handler runs", f.data)
	case m := <-got:
		t.Fatalf("handler ran with %q before the connection handler returned", m)
	default:
	}
	close(release)
	c.expectConnect("/")
	if m := recv(t, got); m != "first" {
		t.Fatalf("got %q", m)
	}
	if m := recv(t, got); m != "second" {
		t.Fatalf("got %q", m)
	}
	c.expect("31[]")
}
