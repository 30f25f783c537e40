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
	"github.com/duplexio/duplex/parser"
	"github.com/redis/go-redis/v9"
)

// Connection state recovery with the Streams adapter: sessions in Redis,
// missed events read back from the stream.

var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// PersistSession implements adapter.Adapter: the session is kept in Redis
// for the recovery window, for any node to restore.
func (a *streamsAdapter) PersistSession(_ context.Context, s *adapter.Session) error {
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
	b, err := encodeMsgpack(map[string]any{"sid": s.SID, "pid": s.PID, "rooms": stringsToAny(rooms), "data": data})
	if err != nil {
		return fmt.Errorf("redisadapter: persist session: %w", err)
	}
	key, val := a.f.opts.SessionKeyPrefix+s.PID, base64.StdEncoding.EncodeToString(b)
	err = a.pub.send(&pubItem{add: func(pipe redis.Pipeliner) redis.Cmder {
		return pipe.Set(context.Background(), key, val, window)
	}})
	if err != nil {
		return fmt.Errorf("redisadapter: persist session: %w", err)
	}
	return nil
}

// maxRestoreReads bounds the XRANGE calls of one restoration.
const maxRestoreReads = 100

// RestoreSession implements adapter.Adapter: it takes the session from
// Redis and reads the stream for the events the socket missed since
// offset, which must still be in the stream.
func (a *streamsAdapter) RestoreSession(ctx context.Context, pid, offset string) (*adapter.Session, error) {
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
	v, err := decodeMsgpack(b)
	if err != nil {
		return nil, adapter.ErrSessionNotFound
	}
	m := asMap(v)
	s := &adapter.Session{SID: asString(m["sid"]), PID: asString(m["pid"]), Rooms: asStrings(m["rooms"]), Data: m["data"]}
	s.MissedPackets = [][]any{}
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
			if e.Values["nsp"] != a.nsp.Name() || e.Values["type"] != strconv.Itoa(msgBroadcast) {
				continue
			}
			msg, err := decodeEntry(e.Values)
			if err != nil {
				continue
			}
			data := asMap(msg["data"])
			opts := decodeOpts(data["opts"])
			packet := asMap(data["packet"])
			if _, hasID := packet["id"]; hasID || data["requestId"] != nil {
				continue
			}
			if includes(s.Rooms, opts.Rooms, opts.Except) {
				s.MissedPackets = append(s.MissedPackets, append(asSlice(packet["data"]), e.ID))
			}
		}
	}
	return s, nil
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
