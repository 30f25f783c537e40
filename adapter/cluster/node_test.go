package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// emptyNamespace is a namespace with no sockets.
type emptyNamespace struct{}

func (emptyNamespace) Name() string                                                { return "/" }
func (emptyNamespace) Deliver([]string, *parser.SocketPacket, adapter.Flags) error { return nil }
func (emptyNamespace) DeliverWithAck(context.Context, []string, *parser.SocketPacket, adapter.Flags, func([]parser.Value)) (int, error) {
	return 0, nil
}
func (emptyNamespace) Join(_, _ []string)                                         {}
func (emptyNamespace) Leave(_, _ []string)                                        {}
func (emptyNamespace) Disconnect([]string, bool)                                  {}
func (emptyNamespace) Describe([]string) []adapter.SocketInfo                     { return nil }
func (emptyNamespace) Connected(string) bool                                      { return false }
func (emptyNamespace) OnServerSideEmit(string, []parser.Value, func(args ...any)) {}

// sentOps is a Transport that records what it is given.
type sentOps struct {
	mu  sync.Mutex
	ops []*Op
}

func (s *sentOps) Send(o *Op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, o)
	return nil
}

func (s *sentOps) Close() {}

func (s *sentOps) kinds() []Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Kind
	for _, o := range s.ops {
		out = append(out, o.Kind)
	}
	return out
}

// TestNodeBeforeStart: a transport may deliver ops as soon as it can
// receive, before Start has given the node its transport. They are
// dropped, where answering them would have used a transport not set yet;
// from Start on, they are answered.
func TestNodeBeforeStart(t *testing.T) {
	n := NewNode(emptyNamespace{}, Config{UID: "me", HeartbeatInterval: time.Hour})
	t.Cleanup(func() { _ = n.Close() })
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Handle(&Op{Kind: OpInitialHeartbeat, From: "other"})
			n.Handle(&Op{Kind: OpFetch, From: "other", RequestID: "r"})
			n.Hello()
		}()
	}
	tr := &sentOps{}
	n.Start(tr)
	wg.Wait()
	before := len(tr.kinds())
	n.Handle(&Op{Kind: OpInitialHeartbeat, From: "other"})
	got := tr.kinds()
	if len(got) != before+1 || got[len(got)-1] != OpHeartbeat {
		t.Fatalf("after Start, an initial heartbeat was answered with %v", got[before:])
	}
}
