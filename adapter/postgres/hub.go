package postgresadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/jackc/pgx/v5/pgxpool"
)

// hub is what the adapters of one factory share: the pool, the listening
// connection (running while some adapter is open), the uids of the
// adapters and the clean-up of the attachments table.
type hub struct {
	pool *pgxpool.Pool
	opts Options
	err  error // a configuration error: every send fails with it
	log  *slog.Logger

	mu        sync.Mutex
	byNsp     map[string]*pgAdapter
	byChannel map[string]*pgAdapter
	lis       *listener
	stopClean chan struct{}
	cleanDone chan struct{}
}

func newHub(pool *pgxpool.Pool, opts *Options) *hub {
	var o Options
	if opts != nil {
		o = *opts
	}
	o, err := o.withDefaults()
	return &hub{
		pool: pool, opts: o, err: err, log: o.Logger,
		byNsp:     make(map[string]*pgAdapter),
		byChannel: make(map[string]*pgAdapter),
	}
}

// add registers a and starts the listener with the first adapter.
func (h *hub) add(a *pgAdapter) *listener {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.byNsp[a.nsp.Name()] = a
	if a.channel != "" {
		h.byChannel[a.channel] = a
	}
	if h.lis == nil {
		h.lis = newListener(h.pool, h.log, h.opts.RequestsTimeout, h.dispatch, h.reconnected)
		h.stopClean, h.cleanDone = make(chan struct{}), make(chan struct{})
		go h.cleanupLoop(h.stopClean, h.cleanDone)
	}
	return h.lis
}

// remove unregisters a; the last one out stops the listener.
func (h *hub) remove(a *pgAdapter) {
	h.mu.Lock()
	if h.byNsp[a.nsp.Name()] == a {
		delete(h.byNsp, a.nsp.Name())
	}
	if a.channel != "" && h.byChannel[a.channel] == a {
		delete(h.byChannel, a.channel)
		h.lis.unlisten(a.channel)
	}
	var lis *listener
	var stop, done chan struct{}
	if len(h.byNsp) == 0 && h.lis != nil {
		lis, stop, done = h.lis, h.stopClean, h.cleanDone
		h.lis, h.stopClean, h.cleanDone = nil, nil, nil
	}
	h.mu.Unlock()
	if lis != nil {
		close(stop)
		<-done
		lis.close()
	}
}

// own reports whether uid is one of this factory's adapters.
func (h *hub) own(uid string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.byNsp {
		if a.uid == uid {
			return true
		}
	}
	return false
}

// reconnected tells the other nodes, for every namespace, that this node
// is back.
func (h *hub) reconnected() {
	h.mu.Lock()
	list := make([]*pgAdapter, 0, len(h.byNsp))
	for _, a := range h.byNsp {
		list = append(list, a)
	}
	h.mu.Unlock()
	for _, a := range list {
		a.Hello()
	}
}

// publish sends msg on channel: as JSON in the notification, or, when it
// holds binary or its JSON is over the threshold, as MessagePack in the
// attachments table with a notification naming the row.
func (h *hub) publish(ctx context.Context, channel string, msg map[string]any) error {
	if h.err != nil {
		return h.err
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.RequestsTimeout)
	defer cancel()
	var payload []byte
	if !cluster.HasBinary(msg) {
		b, err := json.Marshal(msg)
		if err != nil {
			return fmt.Errorf("postgresadapter: encode: %w", err)
		}
		if len(b) <= h.opts.PayloadThreshold {
			payload = b
		}
	}
	if payload == nil {
		b, err := cluster.EncodeMsgpack(msg)
		if err != nil {
			return fmt.Errorf("postgresadapter: encode: %w", err)
		}
		var id int64
		if err := h.pool.QueryRow(ctx, "INSERT INTO "+h.opts.TableName+" (payload) VALUES ($1) RETURNING id", b).Scan(&id); err != nil {
			return fmt.Errorf("postgresadapter: insert attachment: %w", err)
		}
		header := map[string]any{"uid": msg["uid"], "type": msg["type"], "attachmentId": strconv.FormatInt(id, 10)}
		if payload, err = json.Marshal(header); err != nil {
			return fmt.Errorf("postgresadapter: encode: %w", err)
		}
	}
	if _, err := h.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, string(payload)); err != nil {
		return fmt.Errorf("postgresadapter: notify %s: %w", channel, err)
	}
	return nil
}

// dispatch handles a notification: it fetches the attachment it names,
// if any, and hands the message to the adapter of its namespace (its
// nsp field, or the channel's namespace when it has none, as the Node
// emitter sends them).
func (h *hub) dispatch(channel, payload string) {
	m, attachment, err := decodeNotification(payload)
	if err != nil {
		h.log.Warn("postgresadapter: dropped a notification", "channel", channel, "err", err)
		return
	}
	if attachment != 0 {
		if h.own(cluster.AsString(m["uid"])) {
			return
		}
		if m, err = h.fetchAttachment(attachment); err != nil {
			h.log.Warn("postgresadapter: dropped a notification", "channel", channel, "err", err)
			return
		}
	}
	h.mu.Lock()
	var a *pgAdapter
	if nsp, ok := m["nsp"].(string); ok {
		a = h.byNsp[nsp]
	} else {
		a = h.byChannel[channel]
	}
	h.mu.Unlock()
	if a == nil {
		return
	}
	o := cluster.Decode(m)
	if o == nil {
		h.log.Warn("postgresadapter: dropped a message of unknown type", "channel", channel, "type", m["type"])
		return
	}
	a.Handle(o)
}

// fetchAttachment reads and decodes the message stored in row id.
func (h *hub) fetchAttachment(id int64) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
	defer cancel()
	var b []byte
	if err := h.pool.QueryRow(ctx, "SELECT payload FROM "+h.opts.TableName+" WHERE id = $1", id).Scan(&b); err != nil {
		return nil, fmt.Errorf("attachment %d: %w", id, err)
	}
	v, err := cluster.DecodeMsgpack(b)
	if err != nil {
		return nil, fmt.Errorf("attachment %d: %w", id, err)
	}
	m := cluster.AsMap(v)
	if m == nil {
		return nil, fmt.Errorf("attachment %d: %w", id, cluster.ErrMalformed)
	}
	return m, nil
}

// decodeNotification decodes a notification's payload: a message, or the
// header of one in the attachments table (attachment is then its row).
func decodeNotification(payload string) (m map[string]any, attachment int64, err error) {
	v, err := cluster.DecodeJSON([]byte(payload))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", cluster.ErrMalformed, err)
	}
	if m = cluster.AsMap(v); m == nil {
		return nil, 0, cluster.ErrMalformed
	}
	switch id := m["attachmentId"].(type) {
	case nil:
	case string:
		if attachment, err = strconv.ParseInt(id, 10, 64); err != nil || attachment <= 0 {
			return nil, 0, fmt.Errorf("%w: attachment id %q", cluster.ErrMalformed, id)
		}
	default:
		if n, ok := cluster.AsInt(id); ok && n > 0 {
			attachment = n
		} else if cluster.Truthy(id) {
			return nil, 0, fmt.Errorf("%w: attachment id %v", cluster.ErrMalformed, id)
		}
	}
	return m, attachment, nil
}

// cleanupLoop deletes old attachments every CleanupInterval, as each Node
// server does.
func (h *hub) cleanupLoop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(h.opts.CleanupInterval)
	defer t.Stop()
	query := fmt.Sprintf("DELETE FROM %s WHERE created_at < now() - interval '%d milliseconds'", h.opts.TableName, h.opts.CleanupInterval.Milliseconds())
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if h.err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.RequestsTimeout)
		_, err := h.pool.Exec(ctx, query)
		cancel()
		if err != nil {
			h.log.Warn("postgresadapter: cannot delete old attachments", "err", err)
		}
	}
}
