package natsadapter_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	natsadapter "github.com/duplexio/duplex/adapter/nats"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/nats-io/nats.go/jetstream"
)

// With RecoveryWindow, a client that loses its connection to one node
// and comes back to another gets its id, its rooms and the broadcasts it
// missed, from the stream; a session is restored once only.
func TestRecoveryAcrossNodes(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	opts := &natsadapter.Options{RecoveryWindow: time.Minute}
	n0 := startGoNode(t, ns, "n0", opts)
	n1 := startGoNode(t, ns, "n1", opts)
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	a.Join("r")
	if err := n1.io.To("r").Emit("e1"); err != nil {
		t.Fatal(err)
	}
	a.Expect("e1")
	if a.LastOffset() == "" || a.PID == "" {
		t.Fatalf("no offset (%q) or pid (%q)", a.LastOffset(), a.PID)
	}
	// The sending node reads its broadcasts back too: they carry offsets.
	if err := n1.io.Emit("all"); err != nil {
		t.Fatal(err)
	}
	a.Expect("all")
	b.Expect("all")
	if b.LastOffset() == "" {
		t.Error("no offset on the sending node's own broadcast")
	}
	// Joins go through the stream too: a broadcast made after a join
	// reaches the socket that joined, whatever its node.
	for i := range 20 {
		room := fmt.Sprintf("j%d", i)
		if err := n0.io.In(b.SID).SocketsJoin(room); err != nil {
			t.Fatal(err)
		}
		if err := n0.io.To(room).Emit("in-j", i); err != nil {
			t.Fatal(err)
		}
		b.Expect("in-j")
	}
	offset := a.LastOffset()
	em := natsadapter.NewEmitter(ns.conn("emitter"), &natsadapter.EmitterOptions{JetStream: true})
	a.Drop()
	eventually(t, "a gone", func() bool { return n0.io.Of("/").LocalSocket(a.SID) == nil })
	for _, emit := range []func() error{
		func() error { return n1.io.To("r").Emit("e2", 2) },
		func() error { return n0.io.Of("/chat").Emit("other-namespace") },
		func() error { return n0.io.Emit("e3", 3) },
		func() error { return em.To("r").Emit(context.Background(), "e4", 4) },
		func() error { return n1.io.To("s").Emit("other-room") },
		func() error { return n0.io.Except("r").Emit("except-r") },
		func() error { return n1.io.Volatile().Emit("vol") },
	} {
		if err := emit(); err != nil {
			t.Fatal(err)
		}
	}
	b.Expect("e3")
	b.Expect("except-r")
	b.Expect("vol") // n1 has read all of them back

	a2 := Dial(t, n1.hs.URL, "a2", map[string]any{"pid": a.PID, "offset": offset})
	if a2.SID != a.SID {
		t.Fatalf("not recovered: sid %q, was %q", a2.SID, a.SID)
	}
	for i, name := range []string{"e2", "e3", "e4"} {
		var n int
		if err := a2.Expect(name).Arg(0, &n); err != nil || n != i+2 {
			t.Errorf("%s: %d, %v", name, n, err)
		}
	}
	a2.ExpectNone(quiet)
	// Back in its rooms, on its new node.
	if err := n0.io.To("r").Emit("e5"); err != nil {
		t.Fatal(err)
	}
	a2.Expect("e5")

	// The session was taken from the bucket.
	js, err := jetstream.New(n0.nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), "socketio-sessions")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(context.Background(), a.PID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("the session is still in the bucket: %v", err)
	}

	// An offset that is not in the stream recovers nothing.
	b.Drop()
	eventually(t, "b's session kept", func() bool {
		_, err := kv.Get(context.Background(), b.PID)
		return err == nil
	})
	c := Dial(t, n0.hs.URL, "c", map[string]any{"pid": b.PID, "offset": "999999"})
	if c.SID == b.SID {
		t.Error("restored with an offset not in the stream")
	}
}

// The stream and the bucket are created with the options.
func TestRecoverySetup(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	opts := &natsadapter.Options{RecoveryWindow: time.Minute, StreamName: "S1", SessionBucket: "b1", MaxLen: 50, Prefix: "app.io"}
	n0 := startGoNode(t, ns, "n0", opts)
	a := Dial(t, n0.hs.URL, "a", nil)
	for range 60 {
		if err := n0.io.Emit("x"); err != nil {
			t.Fatal(err)
		}
	}
	for range 60 {
		a.Expect("x")
	}
	js, err := jetstream.New(n0.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := js.Stream(ctx, "S1")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != time.Minute || info.Config.MaxMsgs != 50 || info.State.Msgs != 50 ||
		len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != "app.io.*.js" {
		t.Errorf("stream %+v, state %+v", info.Config, info.State)
	}
	if _, err := js.KeyValue(ctx, "b1"); err != nil {
		t.Errorf("bucket: %v", err)
	}
}

// The NATS server restarts: broadcasts fail while it is down (the local
// sockets still get them), and once it is back the nodes read the stream
// again.
func TestRecoveryNATSRestart(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	opts := &natsadapter.Options{RecoveryWindow: time.Minute}
	n0 := startGoNode(t, ns, "n0", opts)
	n1 := startGoNode(t, ns, "n1", opts)
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	if err := n1.io.Emit("before"); err != nil {
		t.Fatal(err)
	}
	a.Expect("before")
	b.Expect("before")

	ns.stop()
	if err := n1.io.Emit("during"); err == nil {
		t.Error("a broadcast while NATS is down: no error")
	}
	b.Expect("during")
	ns.start()
	waitServerCount(t, 2, n0.io, n1.io)
	start := time.Now()
	eventually(t, "broadcasts through the stream again", func() bool {
		if err := n1.io.Emit("after"); err != nil {
			return false
		}
		select {
		case e := <-a.Events:
			return e.Name == "after"
		case <-time.After(quiet):
			return false
		}
	})
	t.Logf("the stream is read again %v after the nodes reconnected", time.Since(start))
	if a.LastOffset() == "" {
		t.Error("no offset after the restart")
	}
}

// When JetStream cannot be set up (here, a stream name the server
// refuses), sessions are kept in memory: recovery works on the same node.
func TestRecoveryFallback(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	ns := startNATS(t)
	opts := &natsadapter.Options{RecoveryWindow: time.Minute, StreamName: "bad.name"}
	n0 := startGoNode(t, ns, "n0", opts)
	n1 := startGoNode(t, ns, "n1", opts)
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n0.hs.URL, "b", nil)
	if err := n1.io.Emit("e1"); err != nil {
		t.Fatal(err)
	}
	a.Expect("e1")
	b.Expect("e1")
	offset := a.LastOffset()
	if offset == "" {
		t.Fatal("no offset")
	}
	a.Drop()
	eventually(t, "a gone", func() bool { return n0.io.Of("/").LocalSocket(a.SID) == nil })
	if err := n1.io.Emit("e2", 2); err != nil {
		t.Fatal(err)
	}
	b.Expect("e2") // n0 has delivered, and kept, e2
	a2 := Dial(t, n0.hs.URL, "a2", map[string]any{"pid": a.PID, "offset": offset})
	if a2.SID != a.SID {
		t.Fatalf("not recovered: sid %q, was %q", a2.SID, a.SID)
	}
	var n int
	if err := a2.Expect("e2").Arg(0, &n); err != nil || n != 2 {
		t.Errorf("e2: %d, %v", n, err)
	}
}
