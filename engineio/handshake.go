package engineio

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/duplexio/duplex/internal/randid"
	"github.com/duplexio/duplex/parser"
)

// handshake opens a session over the requested transport.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, q url.Values, upgrade bool) {
	protocol := protocolOf(q)
	if protocol == parser.ProtocolV3 && !s.opts.AllowEIO3 {
		s.refuse(w, s.requestError(r, CodeUnsupportedProtocolVersion, ""), upgrade)
		return
	}
	id, err := s.opts.GenerateID(r)
	if err != nil || id == "" {
		s.refuse(w, s.requestError(r, CodeBadRequest, ""), upgrade)
		return
	}
	kind := TransportPolling
	if upgrade {
		kind = TransportWebSocket
	}
	sess := newSession(s, id, protocol, r, q, kind)
	header := w.Header()
	if upgrade {
		header = http.Header{}
	}
	if c := s.opts.Cookie; c != nil {
		header.Add("Set-Cookie", c.cookie(id).String())
	}
	s.responseHeaders(header, r, true)
	open := s.openPacket(id, kind)
	if !upgrade {
		if !s.register(sess) {
			s.refuse(w, s.requestError(r, CodeBadRequest, ""), false)
			return
		}
		sess.startHeartbeat()
		// Before the client learns the sid: no message of the session can
		// be read before its handler is there.
		sess.open(r)
		if err := sess.poll.WritePayload(w, r, []parser.Packet{open}); err != nil {
			s.log.Debug("engineio: handshake write failed", "sid", id, "err", err)
		}
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, header, protocol)
	if err != nil {
		return // gorilla has answered the request
	}
	sess.ws = ws
	if !s.register(sess) {
		ws.Shut()
		return
	}
	sess.mu.Lock()
	sess.enqueueLocked(open)
	sess.mu.Unlock()
	sess.startHeartbeat()
	sess.open(r)
	sess.serveWebSocket(ws)
}

// openPacket is the handshake's open packet.
func (s *Server) openPacket(id string, kind Transport) parser.Packet {
	data, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{id, s.upgrades(kind), s.opts.PingInterval.Milliseconds(), s.opts.PingTimeout.Milliseconds(), s.opts.MaxHTTPBufferSize})
	return parser.Packet{Type: parser.PacketOpen, Data: data}
}

// upgrades is the "upgrades" list of a handshake over the given transport.
func (s *Server) upgrades(from Transport) []string {
	if from == TransportPolling && !s.opts.DisableUpgrades && s.allowsTransport(TransportWebSocket) {
		return []string{TransportWebSocket.String()}
	}
	return []string{}
}

// protocolOf is the protocol revision a request asks for in its EIO
// parameter: 4, or 3 for anything else.
func protocolOf(q url.Values) int {
	if q.Get("EIO") == "4" {
		return parser.ProtocolV4
	}
	return parser.ProtocolV3
}

// generateID returns 20 URL-safe base64 characters from 15 random bytes.
func generateID(*http.Request) (string, error) { return randid.New(), nil }

// cookie is the cookie that carries session id, the reference's defaults
// in place of empty fields.
func (c *CookieOptions) cookie(id string) *http.Cookie {
	ck := &http.Cookie{
		Name:     c.Name,
		Value:    id,
		Path:     c.Path,
		Domain:   c.Domain,
		MaxAge:   c.MaxAge,
		Secure:   c.Secure,
		HttpOnly: !c.DisableHTTPOnly,
		SameSite: c.SameSite,
	}
	if ck.Name == "" {
		ck.Name = "io"
	}
	if ck.Path == "" {
		ck.Path = "/"
	}
	if ck.SameSite == 0 {
		ck.SameSite = http.SameSiteLaxMode
	}
	return ck
}

// enterHandshake counts a handshake from addr, unless
// Options.MaxHandshakesPerAddress are in progress already.
func (s *Server) enterHandshake(addr string) bool {
	s.hsMu.Lock()
	defer s.hsMu.Unlock()
	if s.handshaking[addr] >= s.opts.MaxHandshakesPerAddress {
		return false
	}
	if s.handshaking == nil {
		s.handshaking = make(map[string]int)
	}
	s.handshaking[addr]++
	return true
}

// leaveHandshake ends a handshake counted by enterHandshake.
func (s *Server) leaveHandshake(addr string) {
	s.hsMu.Lock()
	defer s.hsMu.Unlock()
	if s.handshaking[addr] <= 1 {
		delete(s.handshaking, addr)
		return
	}
	s.handshaking[addr]--
}
