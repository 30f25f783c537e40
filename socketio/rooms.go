package socketio

import "slices"

// Join adds the socket to rooms. When that would put it in more than
// Options.MaxRoomsPerSocket rooms, it joins none of them and logs a
// warning; TryJoin returns the error instead.
func (s *Socket) Join(rooms ...string) {
	if err := s.TryJoin(rooms...); err != nil {
		s.nsp.server.log.Warn("socketio: join refused", "nsp", s.nsp.name, "sid", s.id, "rooms", len(rooms), "err", err)
	}
}

// TryJoin adds the socket to rooms, or to none of them, returning
// ErrTooManyRooms, when that would put it in more than
// Options.MaxRoomsPerSocket rooms.
func (s *Socket) TryJoin(rooms ...string) error {
	if len(rooms) == 0 {
		return nil
	}
	most := s.nsp.server.opts.MaxRoomsPerSocket
	s.roomMu.Lock()
	// Only a join that might pass the limit counts the rooms that are new.
	if s.nrooms+len(rooms) > most && s.nrooms+len(newRooms(s.nsp.adapter.SocketRooms(s.id), rooms)) > most {
		s.roomMu.Unlock()
		return ErrTooManyRooms
	}
	added := s.nsp.adapter.AddAll(s.id, rooms...)
	s.nrooms += len(added)
	s.roomMu.Unlock()
	s.joined(added)
	return nil
}

// addRooms adds the socket to rooms without a limit: its own room, the
// rooms a recovered socket had.
func (s *Socket) addRooms(rooms []string) {
	s.roomMu.Lock()
	added := s.nsp.adapter.AddAll(s.id, rooms...)
	s.nrooms += len(added)
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
	}
	s.roomMu.Unlock()
	if obs := s.nsp.server.observed(); obs != nil && was {
		s.nsp.server.notifyRoomsLeft(obs, s, []string{room})
	}
}

// leaveAll removes the socket from every room.
func (s *Socket) leaveAll() {
	s.roomMu.Lock()
	removed := s.nsp.adapter.DelAll(s.id)
	s.nrooms = 0
	s.roomMu.Unlock()
	if obs := s.nsp.server.observed(); obs != nil && len(removed) > 0 {
		s.nsp.server.notifyRoomsLeft(obs, s, removed)
	}
}

// Rooms lists the socket's rooms, its own id's room among them.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }
