package engineio

// writableForTest reports whether a packet sent now would be written
// without waiting (a volatile packet would not be dropped): the session is
// open and, over polling, a GET is pending; over WebSocket, the client is
// no more than a few packets behind. It takes s.mu.
func (s *Session) writableForTest() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateOpen && s.writableLocked()
}
