package socketio

import "slices"

// Join adds the socket to rooms. When that would put it in more than
// Options.MaxRoomsPerSocket rooms, or its connection's sockets in more
// than Options.MaxRoomsPerConnection, it joins none of them and logs a
// warning; TryJoin returns the error instead.
func (s *Socket) Join(rooms ...string) {
	if err := s.TryJoin(rooms...); err != nil {
		s.nsp.server.log.Warn("socketio: join refused", "nsp", s.nsp.name, "sid", s.id, "rooms", len(rooms), "err", err)
	}
}

// TryJoin adds the socket to rooms, or to none of them, returning
// ErrTooManyRooms, when that would put it in more than
// Options.MaxRoomsPerSocket rooms, or the sockets of its connection in
// more than Options.MaxRoomsPerConnection.
func (s *Socket) TryJoin(rooms ...string) error {
	if len(rooms) == 0 {
		return nil
	}
	opts := &s.nsp.server.opts
	s.roomMu.Lock()
	// Only a join that might pass a limit counts the rooms that are new.
	want := len(rooms)
	if s.nrooms+want > opts.MaxRoomsPerSocket || s.client.rooms.Load()+int64(want) > int64(opts.MaxRoomsPerConnection) {
		want = len(newRooms(s.nsp.adapter.SocketRooms(s.id), rooms))
	}
	// The connection's count is taken before the join, so that sockets of
	// one connection joining at once cannot pass the limit together.
	if s.nrooms+want > opts.MaxRoomsPerSocket || !s.client.reserveRooms(want, opts.MaxRoomsPerConnection) {
		s.roomMu.Unlock()
		return ErrTooManyRooms
	}
	added := s.nsp.adapter.AddAll(s.id, rooms...)
	s.client.rooms.Add(int64(len(added) - want))
	s.nrooms += len(added)
	s.roomMu.Unlock()
	s.joined(added)
	if len(added) > 0 {
		s.keep()
	}
	return nil
}

// reserveRooms counts n more rooms for the connection, unless that takes
// it past most.
func (c *client) reserveRooms(n, most int) bool {
	for {
		cur := c.rooms.Load()
		if cur+int64(n) > int64(most) {
			return false
		}
		if c.rooms.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

// addRooms adds the socket to rooms without a limit: its own room, the
// rooms a recovered socket had.
func (s *Socket) addRooms(rooms []string) {
	s.roomMu.Lock()
	added := s.nsp.adapter.AddAll(s.id, rooms...)
	s.nrooms += len(added)
	s.client.rooms.Add(int64(len(added)))
	s.roomMu.Unlock()
	s.joined(added)
}

// joined tells the observers of rooms the socket joined.
func (s *Socket) joined(rooms []string) {
	if obs := s.nsp.server.observed(); obs != nil && len(rooms) > 0 {
		s.nsp.server.notifyRoomsJoined(obs, s, rooms)
	}
}

// newRooms returns the rooms of want not in have, each once.
func newRooms(have, want []string) []string {
	var set map[string]struct{} // for a long have, instead of scanning it
	if len(have) > 16 {
		set = make(map[string]struct{}, len(have))
		for _, r := range have {
			set[r] = struct{}{}
		}
	}
	out := make([]string, 0, len(want))
	for _, r := range want {
		_, had := set[r]
		if had || (set == nil && slices.Contains(have, r)) || slices.Contains(out, r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	s.roomMu.Lock()
	was := s.nsp.adapter.Del(s.id, room)
	if was {
		s.nrooms--
		s.client.rooms.Add(-1)
	}
	s.roomMu.Unlock()
	if obs := s.nsp.server.observed(); obs != nil && was {
		s.nsp.server.notifyRoomsLeft(obs, s, []string{room})
	}
	if was {
		s.keep()
	}
}

// leaveAll removes the socket from every room.
func (s *Socket) leaveAll() {
	s.roomMu.Lock()
	removed := s.nsp.adapter.DelAll(s.id)
	s.client.rooms.Add(-int64(len(removed)))
	s.nrooms = 0
	s.roomMu.Unlock()
	if obs := s.nsp.server.observed(); obs != nil && len(removed) > 0 {
		s.nsp.server.notifyRoomsLeft(obs, s, removed)
	}
}

// Rooms lists the socket's rooms, its own id's room among them.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }
