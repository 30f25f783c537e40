package adapter

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/parser"
)

// MemoryOptions configures a Memory adapter.
type MemoryOptions struct {
	// RecoveryWindow, when above zero, keeps broadcast events and the
	// state of disconnected sockets that long, for connection state
	// recovery.
	RecoveryWindow time.Duration
}

// Memory is the in-process adapter: rooms in maps, broadcasts to the local
// sockets only. It is what a server uses unless told otherwise.
type Memory struct {
	nsp    Namespace
	window time.Duration

	mu    sync.RWMutex
	rooms map[string]idSet // room → socket ids
	sids  map[string]idSet // socket id → rooms

	// Connection state recovery.
	prefix   string // distinguishes this adapter's offsets from others'
	seq      uint64
	joinedAt map[string]uint64 // socket id → seq when it connected
	packets  []storedPacket
	sessions map[string]storedSession // by pid
}

type storedPacket struct {
	seq    uint64
	at     time.Time
	rooms  []string
	except []string
	data   []any
}

type storedSession struct {
	s     Session
	since uint64 // seq when the socket connected
	at    time.Time
}

// NewMemory returns a Memory adapter for nsp.
func NewMemory(nsp Namespace, opts MemoryOptions) *Memory {
	return &Memory{
		nsp:      nsp,
		window:   opts.RecoveryWindow,
		rooms:    make(map[string]idSet),
		sids:     make(map[string]idSet),
		prefix:   randid.Hex(12),
		joinedAt: make(map[string]uint64),
		sessions: make(map[string]storedSession),
	}
}

// MemoryFactory returns a Factory of Memory adapters.
func MemoryFactory(opts MemoryOptions) Factory {
	return func(nsp Namespace) Adapter { return NewMemory(nsp, opts) }
}

// AddAll implements Adapter.
func (m *Memory) AddAll(id string, rooms ...string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	mine, known := m.sids[id]
	if !known && m.window > 0 {
		m.joinedAt[id] = m.seq
	}
	var added []string
	for _, r := range rooms {
		if !mine.add(r) {
			continue
		}
		added = append(added, r)
		members := m.rooms[r]
		members.add(id)
		m.rooms[r] = members
	}
	m.sids[id] = mine
	return added
}

// Del implements Adapter.
func (m *Memory) Del(id, room string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	mine, known := m.sids[id]
	if !known || !mine.del(room) {
		return false
	}
	m.sids[id] = mine
	m.leaveLocked(id, room)
	return true
}

func (m *Memory) leaveLocked(id, room string) {
	if members, ok := m.rooms[room]; ok {
		members.del(id)
		if members.len() == 0 {
			delete(m.rooms, room)
		} else {
			m.rooms[room] = members
		}
	}
}

// DelAll implements Adapter.
func (m *Memory) DelAll(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	mine := m.sids[id]
	removed := make([]string, 0, mine.len())
	for r := range mine.all() {
		m.leaveLocked(id, r)
		removed = append(removed, r)
	}
	delete(m.sids, id)
	// PersistSession, called before DelAll, has read it already.
	delete(m.joinedAt, id)
	return removed
}

// SocketRooms implements Adapter.
func (m *Memory) SocketRooms(id string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mine := m.sids[id]
	out := make([]string, 0, mine.len())
	for r := range mine.all() {
		out = append(out, r)
	}
	return out
}

// Rooms implements Adapter.
func (m *Memory) Rooms() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.rooms))
	for r := range m.rooms {
		out = append(out, r)
	}
	return out
}

// Sockets implements Adapter.
func (m *Memory) Sockets(opts *BroadcastOptions) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.selectLocked(opts, nil)
}

// selectLocked appends the ids selected by opts to out.
func (m *Memory) selectLocked(opts *BroadcastOptions, out []string) []string {
	var rooms, except []string
	if opts != nil {
		rooms, except = opts.Rooms, opts.Except
	}
	excluded := func(id string) bool {
		for _, r := range except {
			if members := m.rooms[r]; members.has(id) {
				return true
			}
		}
		return false
	}
	if len(rooms) == 0 {
		out = slices.Grow(out, len(m.sids))
		for id := range m.sids {
			if !excluded(id) {
				out = append(out, id)
			}
		}
		return out
	}
	if len(rooms) == 1 {
		members := m.rooms[rooms[0]]
		out = slices.Grow(out, members.len())
		for id := range members.all() {
			if !excluded(id) {
				out = append(out, id)
			}
		}
		return out
	}
	seen := make(map[string]struct{})
	for _, r := range rooms {
		members := m.rooms[r]
		for id := range members.all() {
			if _, dup := seen[id]; dup || excluded(id) {
				continue
			}
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// idLists keeps the lists of recipients of finished broadcasts for the
// next ones.
var idLists = sync.Pool{New: func() any { return new([]string) }}

// selected hands fn the ids of the local sockets selected by opts, read
// under the lock and used outside it; none selected is still a call, so
// that a packet that cannot be encoded is an error whoever it is for.
func (m *Memory) selected(opts *BroadcastOptions, fn func(ids []string)) {
	list := idLists.Get().(*[]string)
	m.mu.RLock()
	ids := m.selectLocked(opts, (*list)[:0])
	m.mu.RUnlock()
	fn(ids)
	if cap(ids) <= 1<<16 { // a list for a huge broadcast is left to the GC
		clear(ids)
		*list = ids[:0]
		idLists.Put(list)
	}
}

// Broadcast implements Adapter.
func (m *Memory) Broadcast(_ context.Context, p *parser.SocketPacket, opts *BroadcastOptions) error {
	if opts == nil {
		opts = &BroadcastOptions{}
	}
	m.store(p, opts)
	var err error
	m.selected(opts, func(ids []string) { err = m.nsp.Deliver(ids, p, opts.Flags) })
	return err
}

// store keeps an event for recovery, appending its offset to its data as
// the reference does, when recovery is on.
func (m *Memory) store(p *parser.SocketPacket, opts *BroadcastOptions) {
	if m.window <= 0 || p.Type != parser.SocketPacketEvent || p.HasID || opts.Flags.Volatile {
		return
	}
	data, ok := p.Data.([]any)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	data = append(data[:len(data):len(data)], m.offset(m.seq))
	p.Data = data
	now := time.Now()
	m.packets = append(m.packets, storedPacket{
		seq: m.seq, at: now, data: data,
		rooms: append([]string(nil), opts.Rooms...), except: append([]string(nil), opts.Except...),
	})
	m.pruneLocked(now)
}

func (m *Memory) offset(seq uint64) string {
	return m.prefix + "-" + strconv.FormatUint(seq, 10)
}

// pruneLocked drops packets and sessions older than the window.
func (m *Memory) pruneLocked(now time.Time) {
	cut := 0
	for cut < len(m.packets) && now.Sub(m.packets[cut].at) > m.window {
		cut++
	}
	if cut > 0 {
		m.packets = append(m.packets[:0], m.packets[cut:]...)
	}
	for pid, s := range m.sessions {
		if now.Sub(s.at) > m.window {
			delete(m.sessions, pid)
		}
	}
}

// BroadcastWithAck implements Adapter.
func (m *Memory) BroadcastWithAck(ctx context.Context, p *parser.SocketPacket, opts *BroadcastOptions, onCount func(int), onAck func([]parser.Value)) error {
	if opts == nil {
		opts = &BroadcastOptions{}
	}
	n := 0
	var err error
	m.selected(opts, func(ids []string) { n, err = m.nsp.DeliverWithAck(ctx, ids, p, opts.Flags, onAck) })
	if err != nil {
		return err
	}
	onCount(n)
	return nil
}

// FetchSockets implements Adapter.
func (m *Memory) FetchSockets(_ context.Context, opts *BroadcastOptions) ([]SocketInfo, error) {
	var out []SocketInfo
	m.selected(opts, func(ids []string) { out = m.nsp.Describe(ids) })
	return out, nil
}

// AddSockets implements Adapter.
func (m *Memory) AddSockets(_ context.Context, opts *BroadcastOptions, rooms []string) error {
	m.selected(opts, func(ids []string) { m.nsp.Join(ids, rooms) })
	return nil
}

// DelSockets implements Adapter.
func (m *Memory) DelSockets(_ context.Context, opts *BroadcastOptions, rooms []string) error {
	m.selected(opts, func(ids []string) { m.nsp.Leave(ids, rooms) })
	return nil
}

// DisconnectSockets implements Adapter.
func (m *Memory) DisconnectSockets(_ context.Context, opts *BroadcastOptions, close bool) error {
	m.selected(opts, func(ids []string) { m.nsp.Disconnect(ids, close) })
	return nil
}

// ServerSideEmit implements Adapter: with one node there is nobody to tell.
func (m *Memory) ServerSideEmit(context.Context, string, []any, func([]parser.Value)) (int, error) {
	return 0, nil
}

// ServerCount implements Adapter.
func (m *Memory) ServerCount(context.Context) (int, error) { return 1, nil }

// PersistSession implements Adapter.
func (m *Memory) PersistSession(_ context.Context, s *Session) error {
	if m.window <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	since := m.joinedAt[s.SID]
	delete(m.joinedAt, s.SID)
	m.sessions[s.PID] = storedSession{s: *s, since: since, at: time.Now()}
	return nil
}

// RestoreSession implements Adapter. An empty offset means the client got
// no event before it lost the connection: it gets every event sent to it
// since it connected.
func (m *Memory) RestoreSession(_ context.Context, pid, offset string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, ok := m.sessions[pid]
	if !ok {
		return nil, ErrSessionNotFound
	}
	delete(m.sessions, pid)
	if time.Since(stored.at) > m.window {
		return nil, ErrSessionNotFound
	}
	from := stored.since
	if offset != "" {
		prefix, seqText, found := strings.Cut(offset, "-")
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if !found || err != nil || prefix != m.prefix || seq > m.seq {
			return nil, ErrSessionNotFound
		}
		from = seq
	}
	// The packets after from must all still be there.
	if len(m.packets) > 0 && m.packets[0].seq > from+1 {
		return nil, ErrSessionNotFound
	}
	s := stored.s
	s.MissedPackets = nil
	for _, p := range m.packets {
		if p.seq > from && includes(s.Rooms, p.rooms, p.except) {
			s.MissedPackets = append(s.MissedPackets, p.data)
		}
	}
	m.joinedAt[s.SID] = m.seq
	return &s, nil
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

// Close implements Adapter.
func (m *Memory) Close() error { return nil }
