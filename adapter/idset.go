package adapter

import "iter"

// idSet is a set of strings that holds its first member without a map.
// Most sets of the Memory adapter have one member: a socket's own room
// has the socket alone, and most sockets are in their own room alone; a
// map for each costs a few hundred bytes per connected client.
type idSet struct {
	one  string
	has1 bool
	many map[string]struct{} // the other members
}

// len is the number of members.
func (s *idSet) len() int {
	n := len(s.many)
	if s.has1 {
		n++
	}
	return n
}

// has reports whether x is a member.
func (s *idSet) has(x string) bool {
	if s.has1 && s.one == x {
		return true
	}
	_, in := s.many[x]
	return in
}

// add adds x and reports whether it was not a member.
func (s *idSet) add(x string) bool {
	if s.has(x) {
		return false
	}
	if !s.has1 {
		s.one, s.has1 = x, true
		return true
	}
	if s.many == nil {
		s.many = make(map[string]struct{}, 1)
	}
	s.many[x] = struct{}{}
	return true
}

// del removes x and reports whether it was a member.
func (s *idSet) del(x string) bool {
	if s.has1 && s.one == x {
		s.one, s.has1 = "", false
		// Keep one member out of the map, so that a set that shrinks back
		// to one member drops its map.
		for y := range s.many {
			s.one, s.has1 = y, true
			delete(s.many, y)
			break
		}
		if len(s.many) == 0 {
			s.many = nil
		}
		return true
	}
	if _, in := s.many[x]; !in {
		return false
	}
	delete(s.many, x)
	if len(s.many) == 0 {
		s.many = nil
	}
	return true
}

// all yields the members, in no particular order.
func (s *idSet) all() iter.Seq[string] {
	return func(yield func(string) bool) {
		if s.has1 && !yield(s.one) {
			return
		}
		for x := range s.many {
			if !yield(x) {
				return
			}
		}
	}
}
