package postgresadapter

import (
	"context"
	"log/slog"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
)

// pgAdapter is the adapter of one namespace: a cluster.Node (local rooms
// and sockets, the other nodes known from their heartbeats, the requests
// waiting for their answers) whose messages go through the namespace's
// channel.
type pgAdapter struct {
	*cluster.Node
	hub        *hub
	nsp        adapter.Namespace
	uid        string
	log        *slog.Logger
	channel    string // "" when the namespace's channel name is too long
	channelErr error
}

func newAdapter(h *hub, nsp adapter.Namespace, uid string) *pgAdapter {
	a := &pgAdapter{hub: h, nsp: nsp, uid: uid}
	a.Node = cluster.NewNode(nsp, cluster.Config{
		UID: uid, Name: "postgresadapter", Logger: h.log,
		RequestsTimeout: h.opts.RequestsTimeout, RecoveryWindow: h.opts.RecoveryWindow,
		HeartbeatInterval: h.opts.HeartbeatInterval, HeartbeatTimeout: h.opts.HeartbeatTimeout,
		ErrTimeout: ErrTimeout, ErrClosed: ErrClosed,
	})
	a.log = a.Node.Logger()
	ch, err := channelName(h.opts.ChannelPrefix, nsp.Name())
	if err != nil {
		a.channelErr = err
		a.log.Error("postgresadapter: the namespace cannot reach other nodes", "err", err)
	} else {
		a.channel = ch
	}
	lis := h.add(a)
	if a.channel != "" && h.err == nil {
		// LISTEN before saying hello, so that no answer is missed.
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
		if err := lis.listen(ctx, a.channel); err != nil {
			a.log.Warn("postgresadapter: cannot LISTEN now, will once PostgreSQL is reachable", "err", err)
		}
		cancel()
	}
	a.Node.Start(transport{a})
	return a
}

// transport is the adapter as its cluster.Node sees it. It counts no
// nodes: the Node counts them from their heartbeats.
type transport struct{ a *pgAdapter }

// Send publishes an op on the namespace's channel; answers too go there,
// as the Node adapter sends them.
func (t transport) Send(o *op) error {
	a := t.a
	if a.channelErr != nil {
		return a.channelErr
	}
	return a.hub.publish(context.Background(), a.channel, cluster.Encode(o, a.uid, a.nsp.Name()))
}

// Close stops receiving.
func (t transport) Close() { t.a.hub.remove(t.a) }
