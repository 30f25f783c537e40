package postgresadapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	postgresadapter "github.com/duplexio/duplex/adapter/postgres"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio"
)

// rows counts the rows of the attachments table.
func rows(t *testing.T, pg *pgServer) int {
	t.Helper()
	var n int
	if err := pg.pool().QueryRow(context.Background(), "SELECT count(*) FROM socket_io_attachments").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Messages too big for a notification, and those holding binary, go
// through the attachments table, which is cleaned up.
func TestAttachments(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	opts := &postgresadapter.Options{CleanupInterval: 500 * time.Millisecond}
	n0 := startGoNode(t, "n0", pg.factory(opts))
	n1 := startGoNode(t, "n1", pg.factory(opts))
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)

	// 7900 bytes of JSON fit in a notification; 9000 do not.
	small := strings.Repeat("s", 7800)
	if err := n0.io.Emit("small", small); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{a, b} {
		var s string
		if err := c.Expect("small").Arg(0, &s); err != nil || s != small {
			t.Fatalf("%s: small: %d bytes, %v", c.Name, len(s), err)
		}
	}
	if n := rows(t, pg); n != 0 {
		t.Fatalf("%d attachments for a message that fits", n)
	}
	big := strings.Repeat("x", 9000)
	if err := n1.io.Emit("big", big, map[string]any{"k": []any{1, 2.5, "v"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{a, b} {
		e := c.Expect("big")
		var s string
		if err := e.Arg(0, &s); err != nil || s != big {
			t.Fatalf("%s: big: %d bytes, %v", c.Name, len(s), err)
		}
		if got := string(mustJSON(t, e.Args[1:])); got != `[{"k":[1,2.5,"v"]}]` {
			t.Errorf("%s: big: %s", c.Name, got)
		}
	}
	if err := n0.io.Emit("bin", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{a, b} {
		e := c.Expect("bin")
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x01\x02\x03" {
			t.Fatalf("%s: attachments %q", c.Name, e.Bins)
		}
	}
	if n := rows(t, pg); n != 2 {
		t.Fatalf("%d attachments, want 2", n)
	}
	// Answers with binary and big answers take the same path.
	b.SetAnswer(func(Event) []any { return []any{[]byte{7}} })
	answers, err := n0.io.To(b.SID).Timeout(5*time.Second).EmitWithAck(context.Background(), "ask")
	if err != nil || len(answers) != 1 {
		t.Fatalf("answers %d, %v", len(answers), err)
	}
	var got []byte
	if err := answers[0].Decode(&got); err != nil || string(got) != "\x07" {
		t.Errorf("answer %q, %v", got, err)
	}
	b.Expect("ask")
	sockets, err := n1.io.FetchSockets(context.Background())
	if err != nil || len(sockets) != 2 {
		t.Fatalf("fetch: %d, %v", len(sockets), err)
	}
	// The clean-up deletes rows older than its interval.
	eventually(t, "the attachments cleaned up", func() bool { return rows(t, pg) == 0 })
}

// A namespace whose channel is longer than PostgreSQL allows serves its
// own sockets; what it sends to other nodes fails with a clear error.
func TestLongNamespace(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	n0 := startGoNode(t, "n0", pg.factory(nil))
	long := "/" + strings.Repeat("n", 60)
	n0.io.Of(long)
	c := DialNamespace(t, n0.hs.URL, long, "c", nil)
	err := n0.io.Of(long).Emit("e")
	if !errors.Is(err, postgresadapter.ErrChannelTooLong) {
		t.Fatalf("emit: %v, want ErrChannelTooLong", err)
	}
	c.Expect("e")
}

// PostgreSQL restarts while nodes talk: what is sent while it is down
// reaches the local sockets only (notifications are not stored), the
// sender gets an error, and once it is back the nodes LISTEN again and
// find each other.
func TestPostgresRestart(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	n0 := startGoNode(t, "n0", pg.factory(nil))
	n1 := startGoNode(t, "n1", pg.factory(nil))
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	if err := n0.io.Emit("before"); err != nil {
		t.Fatal(err)
	}
	a.Expect("before")
	b.Expect("before")

	pg.stop()
	err := n0.io.Emit("during")
	if err == nil {
		t.Error("a broadcast while PostgreSQL is down: no error")
	}
	a.Expect("during")
	b.ExpectNone(quiet)
	// Without heartbeats, the nodes forget each other.
	waitServerCount(t, 1, n0.io, n1.io)

	pg.start()
	// Both LISTEN again and say hello: each counts the other again.
	waitServerCount(t, 2, n0.io, n1.io)
	eventually(t, "broadcasts across nodes again", func() bool {
		if err := n1.io.Emit("after"); err != nil {
			return false
		}
		b.Expect("after")
		select {
		case e := <-a.Events:
			return e.Name == "after"
		case <-time.After(quiet):
			return false
		}
	})
	sockets, err := n0.io.FetchSockets(context.Background())
	if err != nil || len(sockets) != 2 {
		t.Fatalf("fetch after the restart: %d, %v", len(sockets), err)
	}
}

// The Go emitter reaches the sockets of every node.
func TestEmitter(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	n0 := startGoNode(t, "n0", pg.factory(nil))
	n1 := startGoNode(t, "n1", pg.factory(nil))
	n0.io.Of("/chat")
	n1.io.Of("/chat")
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	c := Dial(t, n1.hs.URL, "c", nil)
	chat := DialNamespace(t, n0.hs.URL, "/chat", "chat", nil)
	a.Join("r")
	b.Join("r")
	all := []*Client{a, b, c, chat}
	exactly := func(name string, want ...*Client) []Event {
		t.Helper()
		var got []Event
		for _, c := range want {
			got = append(got, c.Expect(name))
		}
		for _, c := range all {
			c.ExpectNone(quiet / 3)
		}
		return got
	}
	em := postgresadapter.NewEmitter(pg.pool(), nil)
	ctx := context.Background()
	if err := em.Emit(ctx, "all", 1, "two"); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("all", a, b, c) {
		if got := string(mustJSON(t, e.Args)); got != `[1,"two"]` {
			t.Errorf("args %s", got)
		}
	}
	if err := em.To("r").Except(b.SID).Emit(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	exactly("room", a)
	if err := em.Volatile().Compress(false).To("r").Emit(ctx, "vol"); err != nil {
		t.Fatal(err)
	}
	exactly("vol", a, b)
	if err := em.Of("chat").Emit(ctx, "in-chat"); err != nil {
		t.Fatal(err)
	}
	exactly("in-chat", chat)
	if err := em.To("r").Emit(ctx, "bin", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("bin", a, b) {
		if len(e.Bins) != 1 || string(e.Bins[0]) != "\x01\x02\x03" {
			t.Errorf("attachments %q", e.Bins)
		}
	}
	big := strings.Repeat("y", 10000)
	if err := em.Emit(ctx, "big", big); err != nil {
		t.Fatal(err)
	}
	for _, e := range exactly("big", a, b, c) {
		var s string
		if err := e.Arg(0, &s); err != nil || s != big {
			t.Errorf("big: %d bytes, %v", len(s), err)
		}
	}
	if err := em.Emit(ctx, "connect"); !errors.Is(err, postgresadapter.ErrReservedEvent) {
		t.Errorf("reserved event: %v", err)
	}
	if err := em.ServerSideEmit(ctx, "hello", "from-emitter"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*goNode{n0, n1} {
		eventually(t, n.name+" got hello", func() bool {
			got := n.received()
			return len(got) == 1 && got[0] == "hello:from-emitter"
		})
	}
	if err := em.In("r").SocketsJoin(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r in v", func() bool {
		s, err := n1.io.In("v").FetchSockets(ctx)
		return err == nil && len(s) == 2
	})
	if err := em.In("v").Except(a.SID).SocketsLeave(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b out of v", func() bool {
		s, err := n0.io.In("v").FetchSockets(ctx)
		return err == nil && len(s) == 1 && s[0].ID == a.SID
	})
	if err := em.In(c.SID).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	c.ExpectDisconnect()
	// The emitter is no node.
	for _, s := range []*socketio.Server{n0.io, n1.io} {
		if n, _ := s.Of("/").Adapter().ServerCount(ctx); n != 2 {
			t.Errorf("server count %d with an emitter", n)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Notifications that are not messages, or name attachments that are
// missing or malformed, are dropped; the nodes go on.
func TestMalformedNotifications(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	pg := startPostgres(t)
	n0 := startGoNode(t, "n0", pg.factory(nil))
	n1 := startGoNode(t, "n1", pg.factory(nil))
	waitServerCount(t, 2, n0.io, n1.io)
	a := Dial(t, n0.hs.URL, "a", nil)
	b := Dial(t, n1.hs.URL, "b", nil)
	ctx := context.Background()
	pool := pg.pool()
	var garbage int64
	if err := pool.QueryRow(ctx, "INSERT INTO socket_io_attachments (payload) VALUES ($1) RETURNING id", []byte{0xc1, 0x93}).Scan(&garbage); err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{
		"not json",
		`[1,2]`,
		`{"type":3}`,
		`{"type":"3","uid":"x","nsp":"/"}`,
		`{"type":99,"uid":"x","nsp":"/"}`,
		`{"type":3,"uid":"x","nsp":"/","data":{"packet":{"type":2,"data":"not an array"},"opts":5}}`,
		`{"type":3,"uid":"x","nsp":"/","data":{"packet":{"type":0,"data":["connect"]}}}`,
		`{"type":7,"uid":"x","nsp":"/","data":{"requestId":7}}`,
		`{"type":8,"uid":"x","nsp":"/","data":{"requestId":"q","sockets":"none"}}`,
		`{"type":9,"uid":"x","nsp":"/","data":{"packet":[1,2]}}`,
		`{"type":4,"uid":"x","nsp":"/nowhere","data":{"opts":{},"rooms":["q"]}}`,
		`{"uid":"x","type":3,"attachmentId":"999999"}`,
		`{"uid":"x","type":3,"attachmentId":"nope"}`,
		fmt.Sprintf(`{"uid":"x","type":3,"attachmentId":"%d"}`, garbage),
	} {
		if _, err := pool.Exec(ctx, "SELECT pg_notify('socket.io#/', $1)", payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := n0.io.Emit("still"); err != nil {
		t.Fatal(err)
	}
	a.Expect("still")
	b.Expect("still")
	a.ExpectNone(quiet)
	b.ExpectNone(quiet)
	// "x" counts as a node until its heartbeat timeout.
	waitServerCount(t, 2, n0.io, n1.io)
}

// With RecoveryWindow, a client that loses its connection recovers its
// session on the same node, with the broadcasts it missed, those from
// other nodes included.
func TestSameNodeRecovery(t *testing.T) {
	t.Cleanup(leakcheck.Check(t))
	const window = time.Minute
	pg := startPostgres(t)
	n0 := socketio.NewServer(&socketio.Options{
		Adapter:                 pg.factory(&postgresadapter.Options{RecoveryWindow: window}),
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: window, SkipMiddlewares: true},
	})
	n0.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(room string, ack socketio.Ack) {
			s.Join(room)
			if ack != nil {
				ack()
			}
		})
	})
	hs := httptest.NewServer(n0)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = n0.Shutdown(ctx)
		hs.Close()
	})
	n1 := startGoNode(t, "n1", pg.factory(nil))
	waitServerCount(t, 2, n0, n1.io)

	a := Dial(t, hs.URL, "a", nil)
	a.Join("r")
	if err := n1.io.To("r").Emit("e1"); err != nil {
		t.Fatal(err)
	}
	a.Expect("e1")
	offset := a.LastOffset()
	if offset == "" || a.PID == "" {
		t.Fatalf("no offset (%q) or pid (%q)", offset, a.PID)
	}
	a.Drop()
	eventually(t, "a gone", func() bool { return n0.Of("/").LocalSocket(a.SID) == nil })
	if err := n1.io.To("r").Emit("e2", 2); err != nil {
		t.Fatal(err)
	}
	a2 := Dial(t, hs.URL, "a2", map[string]any{"pid": a.PID, "offset": offset})
	if a2.SID != a.SID {
		t.Fatalf("not recovered: sid %q, was %q", a2.SID, a.SID)
	}
	var n int
	if err := a2.Expect("e2").Arg(0, &n); err != nil || n != 2 {
		t.Errorf("e2: %d, %v", n, err)
	}
	a2.ExpectNone(quiet)
}
