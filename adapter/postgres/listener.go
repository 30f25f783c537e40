package postgresadapter

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reconnection delays of the listening connection.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// listener owns the connection that LISTENs to the channels of a
// factory's namespaces. It is a connection of its own, made with the
// pool's configuration, so that it takes no slot from the pool. One
// goroutine uses it: it LISTENs to the channels wanted, waits for
// notifications and hands them to onNotify, and when the connection is
// lost it connects again, LISTENs again and calls onReconnect.
type listener struct {
	cfg         *pgx.ConnConfig
	log         *slog.Logger
	timeout     time.Duration
	onNotify    func(channel, payload string)
	onReconnect func()

	mu        sync.Mutex
	wanted    map[string]bool
	listening map[string]bool // on the current connection
	waiters   map[string][]chan struct{}
	pending   bool               // wanted changed since the last pass
	wake      context.CancelFunc // ends the current wait for a notification

	stop chan struct{}
	done chan struct{}
}

func newListener(pool *pgxpool.Pool, log *slog.Logger, timeout time.Duration, onNotify func(string, string), onReconnect func()) *listener {
	l := &listener{
		cfg: pool.Config().ConnConfig.Copy(), log: log, timeout: timeout,
		onNotify: onNotify, onReconnect: onReconnect,
		wanted:    make(map[string]bool),
		listening: make(map[string]bool),
		waiters:   make(map[string][]chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go l.listenLoop()
	return l
}

// listen adds channel and waits until the connection LISTENs to it, or
// ctx is done (the channel is then LISTENed to once PostgreSQL can be
// reached).
func (l *listener) listen(ctx context.Context, channel string) error {
	ch := make(chan struct{})
	l.mu.Lock()
	l.wanted[channel] = true
	if l.listening[channel] {
		l.mu.Unlock()
		return nil
	}
	l.waiters[channel] = append(l.waiters[channel], ch)
	l.pending = true
	if l.wake != nil {
		l.wake()
	}
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// unlisten forgets channel. The connection stays LISTENing to it until it
// is replaced, as Node's adapter does; notifications on it are dropped.
func (l *listener) unlisten(channel string) {
	l.mu.Lock()
	delete(l.wanted, channel)
	l.mu.Unlock()
}

// close stops the goroutine and closes the connection.
func (l *listener) close() {
	close(l.stop)
	<-l.done
}

func (l *listener) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// listenLoop connects, serves the connection until it fails, and
// connects again, until close.
func (l *listener) listenLoop() {
	defer close(l.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-l.done:
		}
	}()
	backoff := minBackoff
	lost := false
	for !l.stopped() {
		cctx, ccancel := context.WithTimeout(ctx, l.timeout)
		conn, err := pgx.ConnectConfig(cctx, l.cfg)
		ccancel()
		if err == nil {
			if lost {
				l.log.Info("postgresadapter: listening again")
			}
			err = l.serve(ctx, conn, lost)
			cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			ccancel()
			if l.stopped() {
				return
			}
			backoff = minBackoff
		}
		if !lost {
			l.log.Warn("postgresadapter: listening connection lost, connecting again", "err", err)
		}
		lost = true
		// Several nodes losing PostgreSQL at once do not come back at once.
		d := backoff/2 + rand.N(backoff)
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-l.stop:
			return
		case <-time.After(d):
		}
	}
}

// serve LISTENs to the wanted channels and hands notifications over
// until the connection fails or the listener stops.
func (l *listener) serve(ctx context.Context, conn *pgx.Conn, reconnected bool) error {
	l.mu.Lock()
	clear(l.listening)
	l.mu.Unlock()
	first := true
	for {
		if err := l.sync(ctx, conn); err != nil {
			return err
		}
		if first && reconnected {
			// Notifications sent meanwhile are lost; the other nodes
			// are told this one is back so that they count it again.
			l.onReconnect()
		}
		first = false
		wctx, wcancel := context.WithCancel(ctx)
		l.mu.Lock()
		l.wake = wcancel
		if l.pending {
			wcancel()
		}
		l.mu.Unlock()
		n, err := conn.WaitForNotification(wctx)
		l.mu.Lock()
		l.wake = nil
		l.mu.Unlock()
		wcancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wctx.Err() != nil && !conn.IsClosed() {
				continue // woken up to LISTEN
			}
			return err
		}
		l.deliver(n)
	}
}

func (l *listener) deliver(n *pgconn.Notification) {
	l.mu.Lock()
	ok := l.wanted[n.Channel]
	l.mu.Unlock()
	if ok {
		l.onNotify(n.Channel, n.Payload)
	}
}

// sync LISTENs to the channels wanted and not LISTENed to yet, then
// releases their waiters.
func (l *listener) sync(ctx context.Context, conn *pgx.Conn) error {
	l.mu.Lock()
	l.pending = false
	var todo []string
	for ch := range l.wanted {
		if !l.listening[ch] {
			todo = append(todo, ch)
		}
	}
	l.mu.Unlock()
	for _, ch := range todo {
		qctx, cancel := context.WithTimeout(ctx, l.timeout)
		_, err := conn.Exec(qctx, "LISTEN "+pgx.Identifier{ch}.Sanitize())
		cancel()
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				l.log.Warn("postgresadapter: cannot LISTEN", "channel", ch, "err", err)
				continue
			}
			return err
		}
		l.mu.Lock()
		l.listening[ch] = true
		for _, w := range l.waiters[ch] {
			close(w)
		}
		delete(l.waiters, ch)
		l.mu.Unlock()
	}
	return nil
}
