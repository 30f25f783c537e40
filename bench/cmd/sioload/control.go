package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// control is a client that asks the server for a forced GC and its
// counters ("gc" event) and starts broadcasts; it is not counted among a
// scenario's clients.
type control struct {
	c    *client
	mu   sync.Mutex // one request at a time
	id   int64
	acks chan []byte
}

func newControl(ctx context.Context, target string, onEvent func(*client, []byte)) (*control, error) {
	k := &control{acks: make(chan []byte, 1)}
	c, err := dial(ctx, target, handlers{
		onEvent: onEvent,
		onAck: func(_ *client, _ uint64, data []byte) {
			select {
			case k.acks <- append([]byte(nil), data...):
			default:
			}
		},
	})
	if err != nil {
		return nil, err
	}
	k.c = c
	return k, nil
}

// serverInfo is the answer to "gc": what the reference servers report
// after a forced collection. Fields a server does not know are absent.
type serverInfo struct {
	Clients    int   `json:"clients"`
	Goroutines int   `json:"goroutines,omitempty"`
	HeapBytes  int64 `json:"heap,omitempty"`
	RSSBytes   int64 `json:"rss,omitempty"`
}

// gc asks the server to collect garbage and waits for its answer.
func (k *control) gc(ctx context.Context) (serverInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var info serverInfo
	id := k.id
	k.id++
	if err := k.c.emit(id, []byte(`["gc"]`)); err != nil {
		return info, err
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case data := <-k.acks:
		var arr []serverInfo
		if err := json.Unmarshal(data, &arr); err != nil {
			return info, fmt.Errorf("gc answer %q: %w", data, err)
		}
		if len(arr) > 0 {
			info = arr[0]
		}
		return info, nil
	case <-t.C:
		return info, fmt.Errorf("no answer to gc in 10s")
	case <-ctx.Done():
		return info, ctx.Err()
	}
}

// waitGC polls gc until done accepts the server's answer or within has
// passed; it returns the last answer.
func (k *control) waitGC(ctx context.Context, within time.Duration, done func(serverInfo) bool) (serverInfo, error) {
	deadline := time.Now().Add(within)
	for {
		info, err := k.gc(ctx)
		if err != nil || done(info) || time.Now().After(deadline) {
			return info, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
