package natsadapter

import (
	"sync"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/internal/randid"
	"github.com/nats-io/nats.go"
)

// NewFactory returns a Factory of adapters that reach the other servers
// of a cluster through nc, for socketio.Options.Adapter; opts nil means
// the defaults. The adapters share nc, which stays the caller's: close
// it after the socket.io server. An invalid Options.Prefix makes every
// operation that reaches other nodes fail with an error wrapping
// ErrInvalidPrefix.
//
// Making a namespace's adapter subscribes to its subjects and waits up
// to RequestsTimeout for the NATS server to confirm them before saying
// hello to the other nodes, so that no answer is missed.
func NewFactory(nc *nats.Conn, opts *Options) adapter.Factory {
	h := newHub(nc, opts)
	return func(nsp adapter.Namespace) adapter.Adapter {
		return newAdapter(h, nsp, randid.Hex(16))
	}
}

// hub is what the adapters of one factory share: the connection, the
// options, and a watch of reconnections while some adapter is open.
type hub struct {
	nc   *nats.Conn
	opts Options
	err  error // a configuration error: every send fails with it

	jsOnce sync.Once
	js     *jetStream // nil without recovery, or when it cannot be set up

	mu       sync.Mutex
	adapters map[*natsAdapter]bool
	status   chan nats.Status // reconnections, while adapters is not empty
	done     chan struct{}    // closed when watch returns
}

func newHub(nc *nats.Conn, opts *Options) *hub {
	var o Options
	if opts != nil {
		o = *opts
	}
	o, err := o.withDefaults()
	return &hub{nc: nc, opts: o, err: err, adapters: make(map[*natsAdapter]bool)}
}

// jetStream sets up the stream and the session bucket once, with the
// first adapter; nil without recovery or when that failed (logged).
func (h *hub) jetStream() *jetStream {
	h.jsOnce.Do(func() {
		if h.opts.RecoveryWindow <= 0 || h.err != nil {
			return
		}
		js, err := setupJetStream(h)
		if err != nil {
			h.opts.Logger.Error("natsadapter: no connection state recovery across nodes", "err", err)
			return
		}
		h.js = js
	})
	return h.js
}

// add registers a; the first adapter starts the watch of reconnections.
func (h *hub) add(a *natsAdapter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.adapters[a] = true
	if h.status == nil {
		h.status, h.done = h.nc.StatusChanged(nats.CONNECTED), make(chan struct{})
		go h.watch(h.status, h.done)
	}
}

// remove unregisters a; the last one stops the watch.
func (h *hub) remove(a *natsAdapter) {
	h.mu.Lock()
	delete(h.adapters, a)
	var status chan nats.Status
	var done chan struct{}
	if len(h.adapters) == 0 && h.status != nil {
		status, done = h.status, h.done
		h.status, h.done = nil, nil
	}
	h.mu.Unlock()
	if status != nil {
		h.nc.RemoveStatusListener(status) // closes status: watch returns
		<-done
	}
}

// watch says hello again for every namespace after each reconnection
// (nats.go has subscribed again by then), so that the other nodes count
// this one at once, until status is closed.
func (h *hub) watch(status chan nats.Status, done chan struct{}) {
	defer close(done)
	for range status {
		h.opts.Logger.Info("natsadapter: reconnected", "url", h.nc.ConnectedUrlRedacted())
		h.mu.Lock()
		list := make([]*natsAdapter, 0, len(h.adapters))
		for a := range h.adapters {
			list = append(list, a)
		}
		h.mu.Unlock()
		for _, a := range list {
			a.hello()
		}
	}
}
