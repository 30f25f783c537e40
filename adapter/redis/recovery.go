package redisadapter

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/adapter/cluster"
	"github.com/duplexio/duplex/parser"
	"github.com/redis/go-redis/v9"
)

// Connection state recovery with the Streams adapter: sessions in Redis,
// missed events read back from the stream.

var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// PersistSession implements adapter.Adapter: the session is kept in Redis
// for the recovery window, for any node to restore. It returns once Redis
// has it.
func (a *streamsAdapter) PersistSession(ctx context.Context, s *adapter.Session) error {
	window := a.f.opts.RecoveryWindow
	if window <= 0 {
		return nil
	}
	data, err := parser.Normalize(s.Data)
	if err != nil {
		return fmt.Errorf("redisadapter: persist session: %w", err)
	}
	rooms := s.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	b, err := cluster.EncodeMsgpack(map[string]any{"sid": s.SID, "pid": s.PID, "rooms": cluster.StringsToAny(rooms), "data": data})
	if err != nil {
		return fmt.Errorf("redisadapter: persist session: %w", err)
	}
	key, val := a.f.opts.SessionKeyPrefix+s.PID, base64.StdEncoding.EncodeToString(b)
	// Written before this returns, not queued: the client may reconnect,
	// to another node, as soon as its connection closes, and that node
	// must find it.
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := a.f.rdb.Set(ctx, key, val, window).Err(); err != nil {
		return fmt.Errorf("redisadapter: persist session: %w", err)
	}
	return nil
}

// ForgetSession implements adapter.SessionForgetter: it drops a session
// kept while its socket was connected, once the socket has left for good.
func (a *streamsAdapter) ForgetSession(ctx context.Context, pid string) error {
	if a.f.opts.RecoveryWindow <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if err := a.f.rdb.Del(ctx, a.f.opts.SessionKeyPrefix+pid).Err(); err != nil {
		return fmt.Errorf("redisadapter: forget session: %w", err)
	}
	return nil
}

// maxRestoreReads bounds the XRANGE calls of one restoration.
const maxRestoreReads = 100

// RestoreSession implements adapter.Adapter: it takes the session from
// Redis and reads the stream for the events the socket missed since
// offset, which must still be in the stream.
func (a *streamsAdapter) RestoreSession(ctx context.Context, pid, offset string) (*adapter.Session, error) {
	return a.RestoreSessionAttach(ctx, pid, offset, nil)
}

// RestoreSessionAttach implements adapter.AttachingRestorer. The missed
// events are the broadcasts since offset that this node will not deliver
// any more: the entries up to where its reader has read (from before this
// node started too). With deliveries held meanwhile, attach makes the
// socket reachable before the next one, which it then gets live.
func (a *streamsAdapter) RestoreSessionAttach(ctx context.Context, pid, offset string, attach func(*adapter.Session)) (*adapter.Session, error) {
	if a.f.opts.RecoveryWindow <= 0 || !offsetPattern.MatchString(offset) {
		return nil, adapter.ErrSessionNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	key := a.f.opts.SessionKeyPrefix + pid
	var get *redis.StringCmd
	_, err := a.f.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		get = pipe.Get(ctx, key)
		pipe.Del(ctx, key)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisadapter: restore session: %w", err)
	}
	raw, err := get.Result()
	if err != nil {
		return nil, adapter.ErrSessionNotFound
	}
	at, err := a.f.rdb.XRange(ctx, a.stream, offset, offset).Result()
	if err != nil {
		return nil, fmt.Errorf("redisadapter: restore session: %w", err)
	}
	if len(at) == 0 {
		return nil, adapter.ErrSessionNotFound
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, adapter.ErrSessionNotFound
	}
	v, err := cluster.DecodeMsgpack(b)
	if err != nil {
		return nil, adapter.ErrSessionNotFound
	}
	m := cluster.AsMap(v)
	s := &adapter.Session{SID: cluster.AsString(m["sid"]), PID: cluster.AsString(m["pid"]), Rooms: cluster.AsStrings(m["rooms"]), Data: m["data"]}
	s.MissedPackets = [][]any{}
	a.deliverMu.Lock()
	defer a.deliverMu.Unlock()
	liveAt := a.liveAt
	for range maxRestoreReads {
		entries, err := a.f.rdb.XRange(ctx, a.stream, nextOffset(offset), "+").Result()
		if err != nil {
			return nil, fmt.Errorf("redisadapter: restore session: %w", err)
		}
		if len(entries) == 0 {
			break
		}
		for _, e := range entries {
			offset = e.ID
			if e.Values["nsp"] != a.nsp.Name() || e.Values["type"] != strconv.Itoa(cluster.Broadcast) {
				continue
			}
			// Not read here yet: it comes live once attached. (Before the
			// reader knows where it starts, it is taken as missed, and so
			// is a broadcast delivered already, which the reader skips.)
			bid, _ := e.Values[bidField].(string)
			if liveAt != "" && compareIDs(e.ID, liveAt) > 0 && (bid == "" || !a.seen.has(bid)) {
				continue
			}
			msg, err := decodeEntry(e.Values)
			if err != nil {
				continue
			}
			data := cluster.AsMap(msg["data"])
			opts := cluster.DecodeOpts(data["opts"])
			packet := cluster.AsMap(data["packet"])
			if _, hasID := packet["id"]; hasID || data["requestId"] != nil {
				continue
			}
			if includes(s.Rooms, opts.Rooms, opts.Except) {
				s.MissedPackets = append(s.MissedPackets, append(cluster.AsSlice(packet["data"]), e.ID))
			}
		}
	}
	if attach != nil {
		attach(s)
	}
	return s, nil
}

// compareIDs compares two stream ids ("ms-seq"); "" comes first.
func compareIDs(x, y string) int {
	if x == y {
		return 0
	}
	if x == "" {
		return -1
	}
	if y == "" {
		return 1
	}
	xm, xs, _ := strings.Cut(x, "-")
	ym, ys, _ := strings.Cut(y, "-")
	a, _ := strconv.ParseUint(xm, 10, 64)
	b, _ := strconv.ParseUint(ym, 10, 64)
	if a != b {
		if a < b {
			return -1
		}
		return 1
	}
	c, _ := strconv.ParseUint(xs, 10, 64)
	d, _ := strconv.ParseUint(ys, 10, 64)
	switch {
	case c < d:
		return -1
	case c > d:
		return 1
	}
	return 0
}

// nextOffset is the first id after offset: exclusive ranges need Redis
// 6.2.
func nextOffset(offset string) string {
	ts, seq, _ := strings.Cut(offset, "-")
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || n == math.MaxUint64 {
		return "(" + offset
	}
	return ts + "-" + strconv.FormatUint(n+1, 10)
}

// includes reports whether a socket in rooms was a recipient of a
// broadcast to targets except excepted.
func includes(rooms, targets, excepted []string) bool {
	in := func(list []string) bool {
		for _, r := range list {
			if slices.Contains(rooms, r) {
				return true
			}
		}
		return false
	}
	return (len(targets) == 0 || in(targets)) && !in(excepted)
}
