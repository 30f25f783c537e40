// Package leakcheck finds goroutines that a test left running. It compares
// the goroutines alive at the end of a test with those alive at its start,
// waiting a little for ones that are on their way out.
package leakcheck

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Check records the running goroutines and, when the test ends, fails it if
// new ones are still running after a grace period. Call it first in a test:
//
//	defer leakcheck.Check(t)()
func Check(t testing.TB) func() {
	t.Helper()
	before := ids(stacks())
	return func() {
		t.Helper()
		var leaked []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked = leaked[:0]
			for _, g := range stacks() {
				if !before[id(g)] && !ignored(g) {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(leaked) > 0 {
			t.Errorf("%d goroutine(s) leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	}
}

// stacks returns one stack trace per goroutine, the caller's excluded.
func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	all := strings.Split(string(buf), "\n\n")
	return slices.DeleteFunc(all[1:], func(s string) bool { return strings.TrimSpace(s) == "" })
}

func id(stack string) string {
	head, _, _ := strings.Cut(stack, " [")
	return head
}

func ids(all []string) map[string]bool {
	m := make(map[string]bool, len(all))
	for _, g := range all {
		m[id(g)] = true
	}
	return m
}

// ignored lists goroutines of the runtime and the test framework, the
// idle connections of net/http clients kept by tests, and the one
// goroutine the transport keeps for the process (its poller of idle
// connections, started by the first one).
func ignored(stack string) bool {
	if strings.Contains(stack, "duplex/transport.(*notifier).loop") {
		return true
	}
	for _, s := range []string{
		"testing.(*T).Run",
		"testing.tRunner",
		"testing.(*M).",
		"created by runtime.gc",
		"runtime.MHeap_Scavenger",
		"signal.signal_recv",
		"os/signal.loop",
		"net/http.(*persistConn).readLoop",
		"net/http.(*persistConn).writeLoop",
		"internal/poll.runtime_pollWait",
	} {
		if strings.Contains(stack, s) && !strings.Contains(stack, "duplex/") {
			return true
		}
	}
	return false
}
