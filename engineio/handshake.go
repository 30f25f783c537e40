package engineio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"

	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/transport"
	"github.com/gorilla/websocket"
)

// serve routes a request that passed the path and CORS checks.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	q := lastValues(r.URL.Query())
	upgrade := websocket.IsWebSocketUpgrade(r)
	if q.Get("sid") == "" && s.opts.MaxHandshakesPerAddress > 0 {
		addr := addressOf(r)
		if !s.enterHandshake(addr) {
			s.refuse(w, s.requestError(r, CodeForbidden, "Too many handshakes in progress from this address"), upgrade)
			return
		}
		defer s.leaveHandshake(addr)
	}
	sess, rerr := s.verify(r, q, upgrade)
	if rerr != nil {
		s.refuse(w, rerr, upgrade)
		return
	}
	if sess == nil {
		s.handshake(w, r, q, upgrade)
		return
	}
	switch {
	case upgrade:
		sess.serveUpgrade(w, r)
	case q.Get("transport") != transport.NamePolling:
		// A plain request for a WebSocket session.
		s.refuse(w, s.requestError(r, CodeBadRequest, ""), false)
	case r.Method == http.MethodGet:
		sess.servePoll(w, r)
	case r.Method == http.MethodPost:
		sess.servePost(w, r)
	default:
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// addressOf is the client's address without its port.
func addressOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
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

// verify applies the reference server's checks, in its order. It returns
// the session named by the request's sid, or nil for a handshake.
func (s *Server) verify(r *http.Request, q url.Values, upgrade bool) (*Session, *RequestError) {
	name := q.Get("transport")
	if !s.allowsTransport(name) || (upgrade && name != transport.NameWebSocket) {
		return nil, s.requestError(r, CodeUnknownTransport, "")
	}
	if !validHeaderValue(r.Header.Get("Origin")) {
		return nil, s.requestError(r, CodeBadRequest, "")
	}
	if upgrade && s.opts.CORS != nil && !s.opts.CORS.Allows(r) {
		// Browsers apply CORS to polling, not to WebSocket: without this
		// check any site could open a WebSocket with the user's cookies
		// (cross-site WebSocket hijacking). The reference lets it through.
		return nil, s.requestError(r, CodeForbidden, "")
	}
	if sid := q.Get("sid"); sid != "" {
		sess := s.Session(sid)
		if sess == nil {
			return nil, s.requestError(r, CodeUnknownSID, "")
		}
		if !upgrade && sess.TransportName() != name {
			return nil, s.requestError(r, CodeBadRequest, "")
		}
		if protocolOf(q) != sess.protocol {
			return nil, s.requestError(r, CodeBadRequest, "")
		}
		return sess, nil
	}
	if r.Method != http.MethodGet {
		return nil, s.requestError(r, CodeBadHandshakeMethod, "")
	}
	if name == transport.NameWebSocket && !upgrade {
		return nil, s.requestError(r, CodeBadRequest, "")
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			return nil, s.requestError(r, CodeForbidden, err.Error())
		}
	}
	return nil, nil
}

func (s *Server) requestError(r *http.Request, code ErrorCode, message string) *RequestError {
	if message == "" {
		message = code.String()
	}
	return &RequestError{Code: code, Message: message, Request: r}
}

func (s *Server) refuse(w http.ResponseWriter, e *RequestError, upgrade bool) {
	s.log.Debug("engineio: request refused", "code", int(e.Code), "message", e.Message, "url", e.Request.URL.String())
	if s.opts.OnError != nil {
		s.opts.OnError(e)
	}
	writeError(w, e, upgrade)
}

// lastValues keeps the last value of each repeated query parameter, the
// one the reference server reads: "sid=a&sid=b" names session b.
func lastValues(q url.Values) url.Values {
	for k, v := range q {
		if len(v) > 1 {
			q[k] = v[len(v)-1:]
		}
	}
	return q
}

func protocolOf(q url.Values) int {
	if q.Get("EIO") == "4" {
		return parser.ProtocolV4
	}
	return parser.ProtocolV3
}

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
	name := transport.NamePolling
	if upgrade {
		name = transport.NameWebSocket
	}
	sess := newSession(s, id, protocol, r, q, name)
	header := w.Header()
	if upgrade {
		header = http.Header{}
	}
	if c := s.opts.Cookie; c != nil {
		header.Add("Set-Cookie", c.cookie(id).String())
	}
	open := s.openPacket(id, name)
	if !upgrade {
		if !s.register(sess) {
			s.refuse(w, s.requestError(r, CodeBadRequest, ""), false)
			return
		}
		sess.startHeartbeat()
		if err := sess.poll.WritePayload(w, r, []parser.Packet{open}); err != nil {
			s.log.Debug("engineio: handshake write failed", "sid", id, "err", err)
		}
		s.handler.OnOpen(sess)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, header, protocol)
	if err != nil {
		return // gorilla has answered the request
	}
	sess.ws = ws
	if !s.register(sess) {
		ws.Close()
		return
	}
	sess.mu.Lock()
	sess.enqueueLocked(open)
	sess.mu.Unlock()
	sess.startHeartbeat()
	s.handler.OnOpen(sess)
	sess.serveWebSocket(ws)
}

// openPacket is the handshake's open packet.
func (s *Server) openPacket(id, transportName string) parser.Packet {
	data, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{id, s.upgrades(transportName), s.opts.PingInterval.Milliseconds(), s.opts.PingTimeout.Milliseconds(), s.opts.MaxHTTPBufferSize})
	return parser.Packet{Type: parser.PacketOpen, Data: data}
}

// generateID returns 20 URL-safe base64 characters from 15 random bytes.
func generateID(*http.Request) (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

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

// validHeaderValue reports whether v holds only characters allowed in an
// HTTP field value (the reference checks the Origin header this way).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
